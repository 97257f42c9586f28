#!/usr/bin/env bash
# The newcomer's tour, on the bundled manifests.
set -euo pipefail
cd "$(dirname "$0")/.."
berth=$(realpath "${1:-.build/debug/berth}")
manifests=$(realpath manifests)

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "berth validate manifests/"
"$berth" validate manifests/

step "the same, as JSON"
"$berth" validate --output json manifests/

step "a broken manifest: every error with file, line, column and field"
broken=$(mktemp -d)
trap 'rm -rf "$broken"' EXIT
cat > "$broken/web.yaml" <<'YAML'
apiVersion: berth/v1
kind: Container
metadata:
  name: web3
spec:
  profiles: [smal]
  rootfs: {template: busybox}
  resources:
    memroy: {max: 512Mi}
    cpu: {limit: 1.5, weight: 20000}
  networks:
    - network: front
      addresses: [10.88.0.11]
      interface: eth0-with-a-long-name
YAML
if "$berth" validate manifests/ "$broken/web.yaml"; then
    echo "demo: expected the broken manifest to fail" >&2
    exit 1
fi
echo "(exit status 1, as expected)"

step "checks across documents: a taken address and a misspelt profile"
cat > "$broken/web3.yaml" <<'YAML'
apiVersion: berth/v1
kind: Container
metadata:
  name: web3
spec:
  profiles: [smal]
  networks:
    - network: front
      addresses: [10.88.0.11]
YAML
if (cd "$broken" && "$berth" validate "$manifests" web3.yaml); then
    echo "demo: expected the conflicting manifest to fail" >&2
    exit 1
fi
echo "(exit status 1, as expected)"

step "next: plan, apply, list, a request served by a container, drift and cleanup arrive with the runtime"
