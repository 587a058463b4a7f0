#!/usr/bin/env bash
# vfex set-up on Debian 12: installs what building, running and testing need,
# reserves 2 MB hugepages and mounts hugetlbfs where it can. Idempotent and
# non-interactive; fast when everything is already there. What it cannot do
# (not root, no hugepages) it says in one line and goes on.
#
# Environment: VFEX_HUGEPAGES  number of 2 MB pages to reserve [1024]
set -uo pipefail

PKGS=(
  build-essential pkg-config clang libclang-dev   # C shim and bindgen
  dpdk dpdk-dev libdpdk-dev libpcap-dev           # DPDK 22.11, testpmd, net_pcap
  libsystemd-dev                                  # static linking (--features static)
  tshark                                          # the wire oracle in tests
  openvswitch-switch-dpdk                         # vfex-perf's Open vSwitch (DPDK datapath) peer
  linux-perf                                      # vfex-perf: CPU cycles per packet (optional)
  iproute2 python3                                # namespaces, dpdk-telemetry.py
  iputils-ping ethtool                            # end-to-end tests (tests/netns.rs)
)
PAGES=${VFEX_HUGEPAGES:-1024}
say() { echo "setup: $*"; }

root=0
[ "$(id -u)" -eq 0 ] && root=1
SUDO=""
if [ $root -eq 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO="sudo -n"; root=1
fi

missing=()
for p in "${PKGS[@]}"; do
  case "$p" in \#*) continue ;; esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ $root -eq 1 ]; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq >/dev/null
    if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/vfex-setup-apt.log 2>&1; then
      say "apt-get install failed (see /tmp/vfex-setup-apt.log)"; exit 1
    fi
  else
    say "not root: cannot install ${missing[*]} (run as root or install them yourself)"
  fi
fi

if ! command -v cargo >/dev/null 2>&1; then
  say "cargo not found: install a Rust toolchain (1.85 or newer) first"
  exit 1
fi

# Open vSwitch: the DPDK build of ovs-vswitchd (vfex-perf starts it itself
# with its own directories; it also finds it without the alternative).
if [ $root -eq 1 ] && [ -x /usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk ]; then
  $SUDO update-alternatives --set ovs-vswitchd /usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk >/dev/null 2>&1 \
    || say "could not select ovs-vswitchd-dpdk with update-alternatives"
fi

# Hugepages: optional (vfex and its tests fall back to --no-huge).
hp=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
if [ $root -eq 0 ]; then
  say "not root: no hugepages reserved: vfex will run with --no-huge"
elif [ ! -e "$hp" ]; then
  say "this kernel has no 2 MB hugepages: vfex will run with --no-huge"
else
  cur=$(cat "$hp" 2>/dev/null || echo 0)
  if [ "$cur" -lt "$PAGES" ]; then
    echo "$PAGES" | $SUDO tee "$hp" >/dev/null 2>&1 || true
  fi
  got=$(cat "$hp" 2>/dev/null || echo 0)
  if ! grep -q ' hugetlbfs ' /proc/mounts; then
    $SUDO mkdir -p /dev/hugepages && $SUDO mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null || true
  fi
  if [ "$got" -lt "$PAGES" ] || ! grep -q ' hugetlbfs ' /proc/mounts; then
    say "could reserve only $got of $PAGES 2 MB hugepages (or mount hugetlbfs): vfex will run with --no-huge"
  fi
fi
exit 0
