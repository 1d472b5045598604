# Helm, from its Go module: the chart is linted, rendered and installed with it in the tests.
build() {
  go build -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=v3.22.0" -o "$OUT/helm" helm.sh/helm/v3/cmd/helm
}
