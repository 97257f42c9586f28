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
    # their own lxcfs on a private mountpoint inside the sandbox; apt-install.sh
    # installs it with no service started
    lxcfs
)

bash "$(dirname "$0")/apt-install.sh" install-deps "${packages[@]}"

if ! command -v swift >/dev/null 2>&1; then
    echo "install-deps: no Swift toolchain on PATH (berth needs Swift 6.0 or later; see swift.org/install)" >&2
    exit 1
fi
