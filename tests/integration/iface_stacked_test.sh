#!/usr/bin/env bash
# Stacked devices and link life: a bridge over two veths and a macvlan over a third show their
# master / link relations in traceiface_interface_info (this kernel has no bond or 8021q module;
# IFLA_MASTER and IFLA_LINK are the same attributes for bonds and VLANs). MTU changes, flaps,
# renames and releases are followed, and a deleted device's series go after the grace period.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/iface_lib.sh"

tif_require_root_bpf
tif_make_netns_pair tifp
p=$TIF_HOST_IF
tif_make_netns_pair tifq
q=$TIF_HOST_IF
tif_make_netns_pair tifr
r=$TIF_HOST_IF
br=tifbr$$
mv=tifmv$$
ip link add "$br" type bridge
tif_cleanup_push "ip link del '$br'"
ip link set "$p" master "$br"
ip link set "$q" master "$br"
ip link set "$br" up
ip link add link "$r" name "$mv" type macvlan mode bridge
tif_cleanup_push "ip link del '$mv'"

port=$(tif_free_port)
iface_start_exporter "$port"
m="$TIF_EXPORTER_URL/metrics"
info() { tif_metric_sum "$m" "^traceiface_interface_info\\{iface=\"$1\",$2"; }
iface_wait_metric "$m" "^traceiface_interfaces_watched " "==" 5 10

[[ $(info "$p" "ifindex=\"[0-9]+\",kind=\"veth\",master=\"$br\",") == 1 ]] || tif_fail "$p: master $br missing"
[[ $(info "$q" "ifindex=\"[0-9]+\",kind=\"veth\",master=\"$br\",") == 1 ]] || tif_fail "$q: master $br missing"
[[ $(info "$br" "ifindex=\"[0-9]+\",kind=\"bridge\",master=\"\",") == 1 ]] || tif_fail "$br: kind bridge missing"
[[ $(info "$mv" "ifindex=\"[0-9]+\",kind=\"macvlan\",master=\"\",link=\"$r\",") == 1 ]] ||
    tif_fail "$mv: link $r missing"
[[ $(info "$r" "[^}]*operstate=\"up\"") == 1 ]] || tif_fail "$r: operstate up missing"

# MTU, flap, release from the master, rename: all followed.
ip link set "$r" mtu 1400
iface_wait_metric "$m" "^traceiface_interface_info\\{iface=\"$r\",[^}]*mtu=\"1400\"" "==" 1 5
ip link set "$r" down
iface_wait_metric "$m" "^traceiface_interface_info\\{iface=\"$r\",[^}]*operstate=\"down\"" "==" 1 5
ip link set "$r" up
iface_wait_metric "$m" "^traceiface_interface_info\\{iface=\"$r\",[^}]*operstate=\"(up|lowerlayerdown)\"" "==" 1 5
ip link set "$q" nomaster
iface_wait_metric "$m" "^traceiface_interface_info\\{iface=\"$q\",[^}]*master=\"\"" "==" 1 5
before=$(iface_value "$m" traceiface_packets_total "$p" egress)
ip link set "$br" down
ip link set "$br" name tifbs$$
tif_cleanup_push "ip link del tifbs$$"
ip link set tifbs$$ up
iface_wait_metric "$m" "^traceiface_interface_info\\{iface=\"$p\",[^}]*master=\"tifbs$$\"" "==" 1 5
iface_wait_metric "$m" "^traceiface_interface_info\\{iface=\"tifbs$$\"" "==" 1 5
after=$(iface_value "$m" traceiface_packets_total "$p" egress)
tif_assert_cmp "$after" ">=" "$before" "$p counters survive its master's rename"

# Renamed out of the filter: released, its series go after the grace period (2 s).
ip link set "$mv" name tfmv$$
tif_cleanup_push "ip link del tfmv$$"
iface_wait_metric "$m" "^traceiface_interfaces_watched " "==" 4 5
iface_wait_metric "$m" "^traceiface_interface_info\\{iface=\"$mv\"" "==" 0 6
# Deleted: the same.
ip link del "$r"
iface_wait_metric "$m" "^traceiface_interfaces_watched " "==" 3 5
# within the grace period the series are still there, marked gone
[[ $(info "$r" "[^}]*operstate=\"gone\"") == 1 ]] || tif_fail "$r: series gone before the grace period"
iface_wait_metric "$m" "^traceiface_(packets_total|interface_info)\\{iface=\"$r\"" "==" 0 6
echo "PASS: master/link relations, MTU, flap, rename and removal followed"
