#!/usr/bin/env bash
# System packages the product and its tests need, installed with apt-get only when missing:
# pango (WeasyPrint PDFs), poppler-utils (pdftotext in tests), chromium + driver (browser tests),
# fonts for PDFs and screenshots, nodejs/npm (Prism mock server in gateway tests).
set -euo pipefail
need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in libpango-1.0-0 libpangoft2-1.0-0 poppler-utils chromium chromium-driver fonts-dejavu-core; do
  have_pkg "$pkg" || need+=("$pkg")
done
command -v node >/dev/null 2>&1 || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != "0" ]; then SUDO=sudo; else SUDO=; fi
  echo "Installing system packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
