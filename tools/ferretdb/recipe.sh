# FerretDB v1 (MongoDB wire protocol; the platform runs it on PostgreSQL). Its version check
# panics unless build/version/version.txt exists, and the module as served has no such file. The
# pinned module's source is therefore copied out of the module cache, the file written, the
# project's patches applied (patches/: tenant boundaries FerretDB does not keep by itself), and
# the command built there with FerretDB's own go.mod, as upstream's release build does.
build() {
  local version src work patch
  version=$(go list -m -f '{{.Version}}' github.com/FerretDB/FerretDB)
  src=$(module_dir github.com/FerretDB/FerretDB)
  work=$(mktemp -d)
  trap 'chmod -R u+w "$work"; rm -rf "$work"' RETURN
  cp -r "$src/." "$work/"
  chmod -R u+w "$work"
  echo "$version" > "$work/build/version/version.txt"
  echo "local" > "$work/build/version/package.txt"
  for patch in patches/*.patch; do
    patch -d "$work" -p1 --forward --quiet < "$patch"
  done
  (cd "$work" && go build -trimpath -ldflags "-s -w" -o "$OUT/ferretdb" ./cmd/ferretdb)
}
