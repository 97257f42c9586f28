#!/usr/bin/env bash
# After lane 2: nothing a test made may be left on the machine.
set -euo pipefail
leaks=$(find /sys/fs/cgroup -maxdepth 2 -name 'berth-test-*' 2>/dev/null || true)
if [[ -n "$leaks" ]]; then
    echo "check-leaks: cgroups left behind:" >&2
    echo "$leaks" >&2
    exit 1
fi
if grep -q 'berth-test-' /proc/self/mountinfo; then
    echo "check-leaks: mounts left behind:" >&2
    grep 'berth-test-' /proc/self/mountinfo >&2
    exit 1
fi
# Disk images (resources.disk) attached to loop devices.
loops=$(grep -l 'berth-test-' /sys/block/loop*/loop/backing_file 2>/dev/null || true)
if [[ -n "$loops" ]]; then
    echo "check-leaks: loop devices left attached:" >&2
    for loop in $loops; do echo "$loop: $(cat "$loop")" >&2; done
    exit 1
fi
echo "check-leaks: nothing left behind"
