#!/usr/bin/env bash
# Lane 3's tools: qemu, Debian's kernel package (booted under qemu, where
# /sys/fs/cgroup is cgroup2) and virtme-ng from PyPI in a venv of the project's.
set -euo pipefail
cd "$(dirname "$0")/.."
# xfsprogs: the disk-quota suite formats an XFS state dir with project quotas there.
# openssh-server: the migrate test's target host runs an sshd of its own.
# lxcfs: the /proc suite starts one of its own in the VM (FUSE; no service starts).
packages=(qemu-system-x86 linux-image-amd64 python3-venv xfsprogs openssh-server lxcfs)
bash scripts/apt-install.sh install-vm-deps "${packages[@]}"
venv=.build-venv
if [[ ! -x "$venv/bin/vng" ]]; then
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install -q 'virtme-ng>=1.30'
fi
