#!/usr/bin/env bash
# Builds the pinned upstream programs under tools/<name>/ into a binary cache kept outside
# the repository, keyed on each tool's pins (go.mod, go.sum) and recipe, then links them into
# .local/bin. A tool whose key is already cached is not rebuilt.
#
# usage: tools/build.sh [tool ...]      (default: every tool under tools/ with a recipe.sh)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# Go lives in /usr/local/go on the project's machines; a login shell may not have it on PATH.
command -v go >/dev/null 2>&1 || export PATH=/usr/local/go/bin:$PATH
command -v go >/dev/null 2>&1 || { echo "tools: Go is needed to build the pinned programs" >&2; exit 1; }
# Builds depend on the pins only: no VCS stamping, and no switching to another Go toolchain.
export GOFLAGS="-buildvcs=false ${GOFLAGS:-}" GOTOOLCHAIN=${GOTOOLCHAIN:-local}
cache=${MUTUALIS_BIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mutualis/bin}
bin=$root/.local/bin
mkdir -p "$cache" "$bin"

if [ $# -eq 0 ]; then
  set -- $(cd "$root/tools" && ls -d */ | tr -d / | while read -r t; do [ -f "$t/recipe.sh" ] && echo "$t"; done)
fi

tool_key() {
  # The Go version is part of the key: a new toolchain rebuilds everything. A tool's patches
  # (patches/*.patch, applied by its recipe) are part of it too.
  (cd "$root/tools/$1" && cat go.mod go.sum recipe.sh && { [ -d patches ] && cat patches/*.patch; true; } && go env GOVERSION) | sha256sum | cut -c1-16
}

# The source directory of a pinned module, downloaded first: `go list -m` alone answers with
# an empty directory while the module is not in the module cache yet.
module_dir() {
  local dir
  go mod download "$1" >&2
  dir=$(go list -m -f '{{.Dir}}' "$1")
  if [ -z "$dir" ] || [ ! -f "$dir/go.mod" ]; then
    echo "tools: no source directory for module $1" >&2
    return 1
  fi
  echo "$dir"
}

build_one() {
  local tool=$1 key out started lock
  key=$(tool_key "$tool")
  out=$cache/$tool-$key
  # Two checkouts (a CI clone beside a working copy) may build the same tool at once: the
  # second waits for the first and then finds its build complete.
  exec {lock}>"$cache/.$tool.lock"
  if ! flock -n "$lock"; then
    echo "tools: another build of $tool is running; waiting for it"
    flock "$lock"
  fi
  if [ -f "$out/.complete" ]; then
    touch "$out" # marks the build as in use, for the pruning below
    echo "tools: $tool is up to date ($out)"
  else
    echo "tools: building $tool (key $key); the first build of a tool can take a while"
    started=$(date +%s)
    rm -rf "$out.partial" && mkdir -p "$out.partial"
    (
      cd "$root/tools/$tool"
      export OUT=$out.partial CGO_ENABLED=${CGO_ENABLED:-0}
      # shellcheck source=/dev/null
      source ./recipe.sh
      build
    )
    touch "$out.partial/.complete"
    rm -rf "$out" && mv "$out.partial" "$out" && touch "$out"
    echo "tools: built $tool in $(( $(date +%s) - started ))s"
    # Other checkouts (a CI clone, another branch) may still use builds of other pins: only
    # those unused for a week are removed, which keeps the cache from growing without bound.
    find "$cache" -maxdepth 1 -name "$tool-*" ! -name "$tool-$key" ! -name "*.partial" \
      ! -newermt "-7 days" -exec rm -rf {} +
  fi
  exec {lock}>&-
  local f
  for f in "$out"/*; do
    ln -sfn "$f" "$bin/$(basename "$f")"
  done
}

for tool in "$@"; do
  [ -f "$root/tools/$tool/recipe.sh" ] || { echo "tools: unknown tool '$tool'" >&2; exit 2; }
  build_one "$tool"
done
