#!/usr/bin/env bash
# Builds (up) or removes (down) the end-to-end topologies of tests/netns.rs
# by hand, to try vfex interactively. Needs root.
#
#   scripts/netns.sh up a|b|c     namespaces, veths, addresses, vfex configs
#   scripts/netns.sh down a|b|c   removes them (and every link in them)
#
# a: VN-Tag, b: E-Tag: vm1, vm2 -> [hv: vfex port extender] -> wire (pup/cext)
#    -> [sw: vfex controlling bridge] -> ext.   10.8.0.1, .2, ext .9
# c: [vs: vfex VEPA station] with vm1, vm2, and Linux macvlan (vepa) mv1, mv2
#    on mh/mvlow, both behind br0 in sw (hairpin on), ext on br0.
#    10.9.0.1, .2 (vfex), .11, .12 (macvlan), ext .9
# `up` prints the vfex commands to start; configs go to /tmp/vfex-netns-TOPO.
set -euo pipefail
cmd=${1:-}; topo=${2:-}
case "$cmd:$topo" in up:a|up:b|up:c|down:a|down:b|down:c) ;; *)
  echo "usage: $0 up|down a|b|c" >&2; exit 2 ;;
esac
P=vfxsh$topo
dir=/tmp/vfex-netns-$topo
if [ "$topo" = c ]; then NS=(vs vm1 vm2 mh mv1 mv2 sw ext); else NS=(vm1 vm2 hv sw ext); fi

if [ "$cmd" = down ]; then
  for n in "${NS[@]}"; do ip netns del "$P-$n" 2>/dev/null || true; done
  rm -rf "$dir"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || { echo "$0: needs root" >&2; exit 1; }
for n in "${NS[@]}"; do
  ip netns add "$P-$n"
  ip netns exec "$P-$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$P-$n" link set lo up
done
veth() { # NS_A IF_A NS_B IF_B
  ip link add "$2" netns "$P-$1" type veth peer name "$4" netns "$P-$3"
  ip -n "$P-$1" link set "$2" up; ip -n "$P-$3" link set "$4" up
}
host() { # NS IF MAC IP/LEN
  ip -n "$P-$1" link set "$2" address "$3"
  ip -n "$P-$1" addr add "$4" dev "$2"
  ip netns exec "$P-$1" ethtool -K "$2" tx off >/dev/null
}
mkdir -p "$dir"
run="target/debug/vfex"
if [ "$topo" != c ]; then
  if [ "$topo" = a ]; then encap=vntag key=vif a=101 b=102 list=100
  else encap=etag key=ecid a=0x101 b=0x102 list=0x1001; fi
  veth vm1 eth0 hv pvm1; veth vm2 eth0 hv pvm2; veth hv pup sw cext; veth sw ccore ext eth0
  ip -n "$P-hv" link set pup mtu 1600; ip -n "$P-sw" link set cext mtu 1600
  host vm1 eth0 02:00:00:00:01:01 10.8.0.1/24
  host vm2 eth0 02:00:00:00:01:02 10.8.0.2/24
  host ext eth0 02:00:00:00:09:09 10.8.0.9/24
  cat >"$dir/extender.toml" <<EOF
role = "port-extender"
encap = "$encap"
[ports.uplink]
kind = "uplink"
devargs = "net_af_packet0,iface=pup,qdisc_bypass=0"
[ports.vm1]
kind = "downlink"
devargs = "net_af_packet1,iface=pvm1"
[ports.vm2]
kind = "downlink"
devargs = "net_af_packet2,iface=pvm2"
[veths.vm1]
port = "vm1"
$key = $a
mac = "02:00:00:00:01:01"
[veths.vm2]
port = "vm2"
$key = $b
mac = "02:00:00:00:01:02"
[vif_lists.all]
id = $list
members = ["vm1", "vm2"]
EOF
  cat >"$dir/bridge.toml" <<EOF
role = "controlling-bridge"
encap = "$encap"
[ports.ext1]
kind = "downlink"
devargs = "net_af_packet0,iface=cext"
[ports.core]
kind = "uplink"
devargs = "net_af_packet1,iface=ccore"
[veths.a1]
port = "ext1"
$key = $a
[veths.a2]
port = "ext1"
$key = $b
[vif_lists.ext1-all]
id = $list
members = ["a1", "a2"]
EOF
  echo "ip netns exec $P-hv $run -l 0,1 --no-huge -m 512 --no-pci --file-prefix $P-hv -- --config $dir/extender.toml --duration 0 -i"
  echo "ip netns exec $P-sw $run --lcores 0@1,1@0 --no-huge -m 512 --no-pci --file-prefix $P-sw -- --config $dir/bridge.toml --duration 0"
  echo "ip netns exec $P-vm1 ping -c 3 10.8.0.2; ip netns exec $P-hv tshark -i pup"
else
  ip -n "$P-sw" link add br0 type bridge; ip -n "$P-sw" link set br0 up
  veth vs sup sw bst; veth mh mvlow sw bmv; veth ext eth0 sw bext
  for p in bst bmv bext; do ip -n "$P-sw" link set "$p" master br0; done
  for p in bst bmv; do bridge -n "$P-sw" link set dev "$p" hairpin on; done
  host ext eth0 02:00:00:00:09:09 10.9.0.9/24
  veth vm1 eth0 vs pvm1; host vm1 eth0 02:00:00:00:03:01 10.9.0.1/24
  veth vm2 eth0 vs pvm2; host vm2 eth0 02:00:00:00:03:02 10.9.0.2/24
  for i in 1 2; do
    ip -n "$P-mh" link add link mvlow name "mv$i" type macvlan mode vepa
    ip -n "$P-mh" link set "mv$i" netns "$P-mv$i"
    ip -n "$P-mv$i" link set "mv$i" name eth0; ip -n "$P-mv$i" link set eth0 up
    host "mv$i" eth0 "02:00:00:00:04:0$i" "10.9.0.1$i/24"
  done
  cat >"$dir/station.toml" <<EOF
role = "vepa-station"
encap = "none"
[ports.uplink]
kind = "uplink"
devargs = "net_af_packet0,iface=sup"
[ports.vm1]
kind = "downlink"
devargs = "net_af_packet1,iface=pvm1"
[ports.vm2]
kind = "downlink"
devargs = "net_af_packet2,iface=pvm2"
[veths.vm1]
port = "vm1"
mac = "02:00:00:00:03:01"
[veths.vm2]
port = "vm2"
mac = "02:00:00:00:03:02"
EOF
  echo "ip netns exec $P-vs $run -l 0,1 --no-huge -m 512 --no-pci --file-prefix $P-vs -- --config $dir/station.toml --duration 0 -i"
  echo "ip netns exec $P-vm1 ping -c 3 10.9.0.2; ip netns exec $P-mv1 ping -c 3 10.9.0.12"
fi
