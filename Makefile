# Mutualis — the two commands are `make demo` and `make test`; `make help` lists the rest.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

TSX := node_modules/.bin/tsx
LOCAL := $(TSX) tools/local/src/cli.ts

.PHONY: help setup tools up down status demo token kubeconfig rotate-keys test test-unit test-integration lint generate verify synth bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

node_modules/.package-lock.json: package-lock.json package.json tools/local/package.json
	@node scripts/check-node.mjs
	npm ci --no-audit --no-fund
	@touch $@

setup: node_modules/.package-lock.json ## Install what the project needs: Debian packages, npm packages, pinned upstream programs
	@scripts/install-system-packages.sh
	@tools/build.sh

tools: ## Build the pinned upstream programs under tools/ (cached; rebuilt only when a pin changes)
	@tools/build.sh

up: setup ## Start the local platform (idempotent) and write .local/env and .local/kubeconfig
	@$(LOCAL) up

down: ## Stop the local platform; no process or port is left behind
	@if [ -x $(TSX) ]; then $(LOCAL) down; fi

status: ## Show each component of the local platform, its state and endpoint
	@$(LOCAL) status

demo: setup ## Set everything up, start the platform and show what to look at
	@$(LOCAL) demo

generate: node_modules/.package-lock.json ## Regenerate the CRDs, TypeScript types and the chart's generated parts (CRDs, RBAC) from code
	@$(TSX) api/src/generate/main.ts
	@$(TSX) operator/src/generate/chart.ts

verify: node_modules/.package-lock.json ## Fail if a generated file is out of date
	@$(TSX) api/src/generate/main.ts --check
	@$(TSX) operator/src/generate/chart.ts --check

synth: node_modules/.package-lock.json ## Write the hosting lot's manifests (cdk8s) to cdk8s/dist/<profile>/: production and local; PROFILE=local for one
	@$(TSX) cdk8s/src/lot/main.ts $(PROFILE)

rotate-keys: node_modules/.package-lock.json ## A new signing key for the local identity service; tokens already issued stay valid until they expire
	@$(TSX) tools/local/src/cli.ts rotate-keys

kubeconfig: node_modules/.package-lock.json ## A kubeconfig for the platform's people (.local/kubeconfig-oidc): kubectl signs in at the identity service
	@$(TSX) tools/local/src/cli.ts kubeconfig

token: node_modules/.package-lock.json ## An access token from the local identity service for a demo person: make token USER=agent@ville-rennes.example
	@$(TSX) tools/local/src/cli.ts token "$(USER)"

lint: node_modules/.package-lock.json ## Lint and type-check the TypeScript
	npm run --silent lint

test-unit: node_modules/.package-lock.json ## Run the unit tests (beside their source)
	npm run --silent test:unit

test-integration: setup ## Run the integration tests against real servers (they start their own platform)
	npm run --silent test:integration

test: setup ## Set everything up, lint, and run every test
	@rm -rf .local/test-results
	@status=0; \
	  $(TSX) api/src/generate/main.ts --check || status=1; \
	  $(TSX) operator/src/generate/chart.ts --check || status=1; \
	  npm run --silent lint || status=1; \
	  npm run --silent test:unit -- --reporter=default --reporter=json --outputFile.json=.local/test-results/unit.json || status=1; \
	  npm run --silent test:integration -- --reporter=default --reporter=json --outputFile.json=.local/test-results/integration.json || status=1; \
	  node scripts/test-summary.mjs .local/test-results/unit.json .local/test-results/integration.json || status=1; \
	  exit $$status

bench: setup ## Benchmarks on a platform of their own; BENCH_COLLECTIVITIES=1500 for every authority in Brittany
	@$(TSX) bench/collectivities.ts
	@$(TSX) bench/gateway.ts
	@$(TSX) bench/identity.ts
	@$(TSX) bench/service-instances.ts
	@$(TSX) bench/sesf.ts
	@$(TSX) bench/actes-files.ts
	@$(TSX) bench/parapheur.ts
	@$(TSX) bench/events.ts

clean: down ## Stop the platform and delete .local/ (the binary cache outside the repo is kept)
	rm -rf .local
