#!/usr/bin/env bash
# Runs a shell line as root in a VM booted by virtme-ng from Debian's kernel
# under qemu (no KVM here: TCG, ~25 s to boot), where /sys/fs/cgroup is
# cgroup2 and `criu check` passes: lane 3 (vm-lane.sh) and make bench's
# CRIU figures (bench-checkpoint.sh). The VM sees the host's filesystem (9p, which
# overlayfs refuses as an upper layer), so the line gets a tmpfs of the
# VM's own at /run/berth-lane. Usage: vm-run.sh LINE [TIMEOUT-SECONDS]; exits
# with the line's status. The line finds how the VM runs in BERTH_VM_UNDER
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
trap 'rm -f "$log"' EXIT
# Debian's kernel has loop, ext4's quota format, XFS (disk quotas) and FUSE (lxcfs, for the /proc suite)
# as modules, and the VM has no udev to load them.
inner="mkdir -p /run/berth-lane && mount -t tmpfs tmpfs /run/berth-lane && (modprobe loop 2>/dev/null || true) && \
(modprobe quota_v2 2>/dev/null || true) && (modprobe xfs 2>/dev/null || true) && (modprobe fuse 2>/dev/null || true) && \
{ export BERTH_VM_UNDER='$under'; $line; }; echo \"vm-run-status=\$?\""
PATH="$venv/bin:$PATH" timeout "$limit" "$vng" "${accel[@]}" --memory 2G -r "$kernel" --cwd "$PWD" -- "$inner" 2>&1 | tee "$log"
grep -q '^vm-run-status=0' "$log"
