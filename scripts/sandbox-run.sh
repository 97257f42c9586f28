#!/usr/bin/env bash
# Runs a command inside a throwaway "sandbox host": fresh network and mount
# namespaces (private propagation), so links, addresses, nftables and mounts
# made by the tests never reach the machine. Tests also check BERTH_SANDBOX.
# Tests may use unshare; berth itself never does.
set -euo pipefail
if [[ $(id -u) -ne 0 ]]; then
    echo "sandbox-run: lane 2 needs root" >&2
    exit 1
fi
# The launcher's own network namespace: tests refuse to run in it.
host_netns=$(readlink /proc/self/ns/net)
exec unshare --net --mount --propagation private -- env BERTH_SANDBOX=1 BERTH_HOST_NETNS="$host_netns" "$@"
