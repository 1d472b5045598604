# Kubernetes control plane and kubectl from k8s.io/kubernetes. The version ldflags make the
# binaries report their real version (kubectl and kwok read it).
build() {
  local v major minor ld p
  v=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
  major=$(echo "$v" | cut -d. -f1 | tr -d v)
  minor=$(echo "$v" | cut -d. -f2)
  ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$v -X $p.gitMajor=$major -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$ld" -o "$OUT/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubectl
}
