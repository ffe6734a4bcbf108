#!/usr/bin/env bash
# Refreshes the embedded IP-to-network table (data/netdb/netdb.bin.gz) from the npm registry's
# @ip-location-db/asn and @ip-location-db/asn-country packages (CC BY 4.0: RouteViews, the
# five RIRs and DB-IP). Needs npm and cargo; writes nothing else.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent @ip-location-db/asn @ip-location-db/asn-country >/dev/null
mkdir asn country
tar xzf ip-location-db-asn-[0-9]*.tgz -C asn
tar xzf ip-location-db-asn-country-[0-9]*.tgz -C country
for f in asn/package/*LICENSE* asn/package/MODIFICATIONS; do cp "$f" "$here/"; done
grep -h '"version"' asn/package/package.json country/package/package.json > "$here/VERSIONS"
cd "$here/../.."
cargo run --quiet --release -p interfero-netdb --bin netdb-build -- \
    "$work/asn/package" "$work/country/package" "$here/netdb.bin.gz"
