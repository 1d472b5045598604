# Prometheus, from its Go module: Debian's build leaves out the Kubernetes service discovery,
# which the local platform uses to find service pods as production does. The web UI's assets
# are not embedded (the API and the metrics pipeline are what the platform uses). Of the service
# discoveries, only Kubernetes is built in (static and file discovery always are).
build() {
  go build -trimpath -tags remove_all_sd,enable_kubernetes_sd -ldflags "-s -w -X github.com/prometheus/common/version.Version=3.16.0" -o "$OUT/prometheus" github.com/prometheus/prometheus/cmd/prometheus
}
