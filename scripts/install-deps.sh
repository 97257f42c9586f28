#!/usr/bin/env bash
# Installs what berth needs to build and test on Debian 12, as root.
# Idempotent: apt runs only when a package is missing.
set -euo pipefail

packages=(
    # build: system libraries the Swift package links
    pkg-config libyaml-dev libsystemd-dev libcap-dev libnftables-dev
    # runtime: the built-in busybox template; mke2fs, e2fsck and resize2fs for disk quotas
    busybox-static e2fsprogs
    # benchmark peers: container start-up and 1000 containers are measured against runc and crun
    runc crun
    # checkpoint, restore and migrate: CRIU driven through its RPC (criu swrk)
    criu
    # tests: JSON Schema validation of the manifests, and tools that check from outside;
    # a C compiler and static libc for the escape suite's probe (run inside a container),
    # arm64 headers to check that the container shim builds for aarch64 too
    python3 python3-yaml python3-jsonschema python3-pytest iproute2 gcc libc6-dev
    libc6-dev-arm64-cross linux-libc-dev-arm64-cross
    # tests: a private system bus (dbus-daemon, dbus-monitor) and systemd-machined with
    # machinectl, for the machined registration (berth itself needs neither)
    dbus-daemon dbus-bin systemd-container
    # LXCFS, for a container-sized /proc (spec.proc.virtualize): the tests run
    # their own lxcfs on a private mountpoint inside the sandbox (see below)
    lxcfs
)

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "install-deps: missing ${missing[*]}; run as root (or: sudo apt-get install ${missing[*]})" >&2
        exit 1
    fi
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Installing lxcfs starts lxcfs.service on a systemd host, which mounts
    # FUSE on /var/lib/lxcfs of the machine itself. The packages go in with
    # no service started: a policy-rc.d that refuses every start (invoke-rc.d
    # and deb-systemd-invoke obey it) for the length of this apt-get only;
    # under CI the unit is also masked, so no reboot starts it either. A
    # machine's own policy-rc.d is left as it is.
    policy=/usr/sbin/policy-rc.d
    own_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\n# install-deps.sh: no service starts while it installs\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        own_policy=1
        trap 'rm -f "$policy"' EXIT
    fi
    if [[ ${CI:-} == true && -d /run/systemd/system ]]; then
        systemctl mask lxcfs.service >/dev/null 2>&1 || true
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
    if ((own_policy)); then
        rm -f "$policy"
        trap - EXIT
    fi
fi

if ! command -v swift >/dev/null 2>&1; then
    echo "install-deps: no Swift toolchain on PATH (berth needs Swift 6.0 or later; see swift.org/install)" >&2
    exit 1
fi
