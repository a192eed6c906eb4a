#!/usr/bin/env bash
# System tools some tests drive as a person would: headless Chromium (dashboard) and poppler
# (certificate PDFs), kubectl (renders the kustomize overlays offline), and Prometheus 2.42 with
# promtool (the observability test scrapes the platform and checks the shipped alert rules). Installed from Debian's packages when missing and we may install them.
set -euo pipefail
# The official AsyncAPI JSON Schemas (npm's @asyncapi/specs, pinned): the contracts test validates
# the served AsyncAPI document against them. Fetched once, at install time, into .tools/.
ASYNCAPI_SPECS=6.11.1
if [ ! -f ".tools/asyncapi-specs/$ASYNCAPI_SPECS/package/schemas/3.0.0-without-\$id.json" ]; then
  command -v npm >/dev/null 2>&1 || { echo "please install npm (Debian: npm): the AsyncAPI test needs @asyncapi/specs" >&2; exit 1; }
  mkdir -p ".tools/asyncapi-specs/$ASYNCAPI_SPECS"
  (cd ".tools/asyncapi-specs/$ASYNCAPI_SPECS" && npm pack --silent "@asyncapi/specs@$ASYNCAPI_SPECS" >/dev/null && tar xzf asyncapi-specs-*.tgz)
fi
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
command -v kubectl >/dev/null 2>&1 || need+=(kubectl)
{ command -v prometheus && command -v promtool; } >/dev/null 2>&1 || need+=(prometheus)
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
