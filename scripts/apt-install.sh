#!/usr/bin/env bash
# apt-install.sh NAME PACKAGE...: installs those of Debian's PACKAGEs that are
# missing, as root, with no service started; NAME prefixes its messages.
# Idempotent: apt runs only when a package is missing. Shared by
# install-deps.sh and install-vm-deps.sh (both install lxcfs).
set -euo pipefail
name=$1
shift
missing=()
for package in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
((${#missing[@]})) || exit 0
if [[ $(id -u) -ne 0 ]]; then
    echo "$name: missing ${missing[*]}; run as root (or: sudo apt-get install ${missing[*]})" >&2
    exit 1
fi
echo "$name: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Installing lxcfs starts lxcfs.service on a systemd host, which mounts
# FUSE on /var/lib/lxcfs of the machine itself. The packages go in with
# no service started: a policy-rc.d that refuses every start (invoke-rc.d
# and deb-systemd-invoke obey it) for the length of this apt-get only;
# under CI the unit is also masked, so no reboot starts it either. A
# machine's own policy-rc.d is left as it is.
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# %s: no service starts while it installs\nexit 101\n' "$name" >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
fi
if [[ ${CI:-} == true && -d /run/systemd/system ]]; then
    systemctl mask lxcfs.service >/dev/null 2>&1 || true
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
