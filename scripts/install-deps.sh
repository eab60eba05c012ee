#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Installs the Debian 12 packages needed to build xdpsvc and run its tests,
# only those missing. Safe to repeat; silent when everything is there.
set -u

PKGS="clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libyaml-dev
      libclang-rt-14-dev
      make gcc pkg-config
      iproute2 iputils-ping curl ethtool jq procps util-linux time
      netsniff-ng iptables nftables conntrack python3"

missing=""
for p in $PKGS; do
	if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing; run as root: sudo $0" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086 # one word per package
apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null
