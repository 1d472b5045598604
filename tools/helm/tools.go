//go:build tools

// Package tools pins Helm's module.
package tools

import _ "helm.sh/helm/v3/cmd/helm"
