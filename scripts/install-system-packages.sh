#!/usr/bin/env bash
# Installs the Debian packages the local platform and the tests use, when they are missing.
# Package services are not started: the local platform runs its own instances on its own ports.
set -euo pipefail

# chromium: the browser tests of the observatory drive it headless (playwright-core).
# postgresql: the server under FerretDB; the platform runs a cluster of its own under .local/.
# patch: the pinned tools' recipes apply the project's patches (tools/*/patches).
# poppler-utils, libxml2-utils: the tests read the PDFs and XML the services write with tools we did not
# write (pdftotext, pdfinfo, xmllint).
# xmlsec1, libnss3-tools: the parapheur's XAdES signatures are verified by xmlsec1; pdfsig (poppler)
# trusts a collectivity's authority through an NSS database made with certutil.
packages=(openssl curl patch clamav-daemon chromium postgresql poppler-utils libxml2-utils xmlsec1 libnss3-tools)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-system-packages: missing Debian packages: ${missing[*]} (run as root or install them)" >&2
  exit 1
fi

echo "install-system-packages: installing ${missing[*]}"
# policy-rc.d answering 101 stops the packages' init scripts from starting system services
# (the platform runs its own, on its own ports); it is removed again afterwards.
policy=/usr/sbin/policy-rc.d
placed=false
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && placed=true
fi
trap '$placed && rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
