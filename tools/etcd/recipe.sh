# etcd from its server module, whose root package is the etcd command.
build() {
  go build -trimpath -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3
}
