#!/usr/bin/env bash
# System tools some tests drive as a person would: headless Chromium (dashboard) and poppler
# (certificate PDFs), and kubectl (renders the kustomize overlays offline). Installed from Debian's packages when missing and we may install them.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
command -v kubectl >/dev/null 2>&1 || need+=(kubectl)
# Chinese glyphs for the console's zh-Hans pages in the browser tests' screenshots
[ -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || need+=(fonts-noto-cjk)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${need[*]} from Debian's packages"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >/dev/null
elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >/dev/null
else
  echo "please install: ${need[*]} (the browser and PDF tests need them)" >&2
  exit 1
fi
