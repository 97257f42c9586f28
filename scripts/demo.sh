#!/usr/bin/env bash
# The newcomer's tour, on the bundled manifests, inside a throwaway sandbox
# host (its own network and mount namespaces): nothing touches the machine's
# own network, and everything is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
berth=$(realpath "${1:-.build/debug/berth}")
manifests=$(realpath manifests)

if [[ "${BERTH_SANDBOX:-}" != 1 ]]; then
    if [[ $(id -u) -ne 0 ]]; then
        echo "demo: run as root (make demo): it starts real containers in a sandbox host" >&2
        exit 1
    fi
    exec bash scripts/sandbox-run.sh bash "$0" "$berth"
fi

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
work=$(mktemp -d /tmp/berth-demo-XXXXXX)
parent="berth-demo-$$"
global=(--state-dir "$work/state" --run-dir "$work/run" --cgroup-parent "$parent")
cleanup() {
    "$berth" apply "${global[@]}" --prune --yes > /dev/null 2>&1 || true
    for hierarchy in /sys/fs/cgroup/*/"$parent" /sys/fs/cgroup/"$parent"; do [[ -d $hierarchy ]] && rmdir "$hierarchy" 2> /dev/null; done
    # The trash emptier apply started holds this lock until it is done.
    if [[ -e $work/run/trash.lock ]]; then flock "$work/run/trash.lock" true; fi
    rm -rf "$work"
}
trap cleanup EXIT

step "berth validate manifests/"
"$berth" validate "$manifests"

step "a broken manifest: every error with file, line, column and field"
cat > "$work/web3.yaml" <<'YAML'
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
(cd "$work" && "$berth" validate "$manifests" web3.yaml) || echo "(exit status $?, as expected)"

step "berth plan manifests/"
"$berth" plan "${global[@]}" "$manifests"

step "berth apply manifests/"
"$berth" apply "${global[@]}" "$manifests"

step "berth list"
"$berth" list "${global[@]}"

step "a request served by a container: wget http://10.88.0.11/ from the sandbox host"
for _ in 1 2 3 4 5 6 7 8 9 10; do
    /bin/busybox wget -q -O - http://10.88.0.11/ && break
    sleep 0.3
done

step "a port forward: host port 8080 on the edge network's gateway reaches edge-web:80"
for _ in 1 2 3 4 5 6 7 8 9 10; do
    /bin/busybox wget -q -O - http://10.89.0.1:8080/ && break
    sleep 0.3
done

step "berth exec web2 -- ip -o -4 addr"
"$berth" exec "${global[@]}" web2 -- ip -o -4 addr

step "a second plan has nothing to do (exit 0 with --detailed-exitcode)"
"$berth" plan "${global[@]}" --detailed-exitcode "$manifests"

step "drift: someone lowers web1's memory limit behind berth's back"
for limit in /sys/fs/cgroup/memory/"$parent"/web1/memory.limit_in_bytes /sys/fs/cgroup/"$parent"/web1/memory.max; do
    [[ -f $limit ]] && echo 67108864 > "$limit" && echo "echo 67108864 > $limit"
done
"$berth" drift "${global[@]}" --detailed-exitcode "$manifests" || echo "(exit status $?: drift found)"

step "berth apply corrects it live"
"$berth" apply "${global[@]}" "$manifests"
"$berth" drift "${global[@]}" --detailed-exitcode "$manifests"

step "berth ubc web1"
"$berth" ubc "${global[@]}" web1

step "cleanup: apply --prune with no manifests removes everything berth made (--yes: no prompt)"
"$berth" apply "${global[@]}" --prune --yes
"$berth" list "${global[@]}"
