# nats-server, from the module root.
build() {
  go build -trimpath -ldflags "-s -w" -o "$OUT/nats-server" github.com/nats-io/nats-server/v2
}
