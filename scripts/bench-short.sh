#!/usr/bin/env bash
# CI's bounded pass of the fleet benchmark (make bench-short): 20
# containers on a bridge network, then 20 on a macvlan one (each pass
# itself fails when its teardown leaves a container, a trash entry or a
# link: the bridge, or either end of the macvlan network's veth pair), then
# nothing of this run may be left in any cgroup hierarchy
# (cgroup2's `unified` too, where runc makes its own). Only what this run
# added is counted: a leftover of an older run is not this run's.
set -euo pipefail
list() { find /sys/fs/cgroup -maxdepth 2 -name 'berth-bench-*' 2>/dev/null | sort; }
before=$(list)
bash scripts/sandbox-run.sh .build/release/berth-bench scale 20
left=$(comm -13 <(echo "$before") <(list))
if [[ -n "$left" ]]; then
    echo "bench-short: cgroups left behind:" >&2
    echo "$left" >&2
    exit 1
fi
echo "bench-short: nothing left behind"
