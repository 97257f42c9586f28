#!/usr/bin/env bash
# Runs a shell line as root in a VM booted by virtme-ng from Debian's kernel
# under qemu (no KVM here: TCG, ~25 s to boot), where /sys/fs/cgroup is
# cgroup2 and `criu check` passes: lane 3 (vm-lane.sh) and make bench's
# CRIU figures (bench-checkpoint.sh). The VM sees the host's filesystem (9p, which
# overlayfs refuses as an upper layer), so the line gets a tmpfs of the
# VM's own at /run/berth-lane. Usage: vm-run.sh LINE [TIMEOUT-SECONDS]; exits
# 0 when the line passed, else 1. A guest that stops (no heartbeat for
# BERTH_VM_STALL seconds, 180) is booted once more for the whole line, within
# the same TIMEOUT. The line finds how the VM runs in BERTH_VM_UNDER
# ("qemu TCG, no KVM" or "qemu with KVM").
set -euo pipefail
cd "$(dirname "$0")/.."
line=$1
limit=${2:-2400}
venv=$(realpath -m "${BERTH_VNG_VENV:-.build-venv}")
vng="$venv/bin/vng"
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1 || true)
if [[ ! -x "$vng" || -z "$kernel" ]]; then
    echo "vm-run: virtme-ng or a kernel in /boot is missing (make deps-vm installs them)" >&2
    exit 1
fi
# KVM where the CPU has it and /dev/kvm opens (BERTH_VM_KVM=1 or 0 decides
# instead); else TCG, as on this project's machines (no vmx/svm), which
# makes every process in the VM 10-50 times slower.
kvm=${BERTH_VM_KVM:-}
if [[ -z $kvm ]]; then
    kvm=0
    if grep -qwE 'vmx|svm' /proc/cpuinfo && [[ -r /dev/kvm && -w /dev/kvm ]]; then kvm=1; fi
fi
accel=(--disable-kvm)
under="qemu TCG, no KVM"
if [[ $kvm == 1 ]]; then
    accel=()
    under="qemu with KVM"
fi
echo "vm-run: $under"
log=$(mktemp)
beat=$(mktemp)
# The guest runs a script file the host wrote (it sees the host's files):
# the kernel's command line, which would carry a line given inline, holds
# 2048 bytes, and a longer one is cut off with the init virtme-ng boots.
mkdir -p .build
script=$(mktemp -p "$PWD/.build" vm-run-XXXXXX.sh)
trap 'rm -f "$log" "$beat" "$script"' EXIT
# Debian's kernel has loop, ext4's quota format, XFS (disk quotas) and FUSE (lxcfs, for the /proc suite)
# as modules, and the VM has no udev to load them. A heartbeat line every
# 20 s tells this script the guest still runs (it is taken out of the
# output): a guest that stops (its vCPUs halted, at boot or mid-run, with
# every test at once) would otherwise be ended only by qemu's timeout. A
# guest that is alive but whose line hangs is the line's to report
# (vm-watch.sh in lane 3).
cat > "$script" <<EOF
(while sleep 20; do echo vm-run-heartbeat; done) &
heartbeat=\$!
mkdir -p /run/berth-lane && mount -t tmpfs tmpfs /run/berth-lane || { echo "vm-run-status=1"; exit 1; }
for module in loop quota_v2 xfs fuse; do modprobe "\$module" 2>/dev/null || true; done
export BERTH_VM_UNDER='$under'
$line
echo "vm-run-status=\$?"
kill "\$heartbeat" 2>/dev/null
EOF
inner="sh $script"
# No heartbeat for this long (boot included: ~25 s under TCG) is a guest that stopped.
stall=${BERTH_VM_STALL:-180}
deadline=$(($(date +%s) + limit))
# One boot of the VM, within what is left of the limit: 0 when the line
# passed, 1 when it failed or timed out, 2 when the guest stopped.
boot() {
    : > "$log"
    date +%s > "$beat"
    (
        PATH="$venv/bin:$PATH" timeout "$1" "$vng" "${accel[@]}" --memory 2G -r "$kernel" --cwd "$PWD" -- "$inner" 2>&1 |
            while IFS= read -r output || [[ -n $output ]]; do
                if [[ $output == vm-run-heartbeat ]]; then date +%s > "$beat"; else printf '%s\n' "$output"; fi
            done | tee "$log"
    ) &
    local runner=$!
    while kill -0 "$runner" 2>/dev/null; do
        sleep 5
        local last
        last=$(cat "$beat")
        if (($(date +%s) - last > stall)) && kill -0 "$runner" 2>/dev/null; then
            echo "vm-run: no heartbeat from the guest for $(($(date +%s) - last)) s (it stopped, or never booted); ending qemu"
            pkill -TERM -x timeout -P "$runner" 2>/dev/null
            wait "$runner" 2>/dev/null
            return 2
        fi
    done
    wait "$runner" 2>/dev/null
    grep -q '^vm-run-status=0' "$log" && return 0
    return 1
}
status=0
boot "$limit" || status=$?
if ((status == 2)); then
    # Once more, in what is left of the limit; a second stop fails the run.
    left=$((deadline - $(date +%s)))
    if ((left > 60)); then
        echo "vm-run: booting the VM again for the whole line (${left} s left of ${limit})"
        status=0
        boot "$left" || status=$?
    fi
fi
((status == 0))
