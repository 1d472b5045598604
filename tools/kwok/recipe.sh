# KWOK simulates nodes and pod lifecycles. Its Stage definitions ship inside the module; the
# ones the local platform needs are copied next to the binary so the cache is self-contained.
build() {
  local dir
  go build -trimpath -ldflags "-s -w" -o "$OUT/kwok" sigs.k8s.io/kwok/cmd/kwok
  dir=$(module_dir sigs.k8s.io/kwok)/kustomize/stage
  {
    cat "$dir/node/fast/node-initialize.yaml"; echo "---"
    cat "$dir/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml"; echo "---"
    cat "$dir/pod/fast/pod-ready.yaml"; echo "---"
    cat "$dir/pod/fast/pod-complete.yaml"; echo "---"
    cat "$dir/pod/fast/pod-delete.yaml"
  } > "$OUT/kwok-stages.yaml"
}
