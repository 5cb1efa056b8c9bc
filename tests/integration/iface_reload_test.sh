#!/usr/bin/env bash
# SIGHUP re-reads the interface filter: a newly included interface is watched, an excluded one
# released, and the counters of an interface that stays are not reset.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/iface_lib.sh"

tif_require_root_bpf
tif_require_cmd jq
tif_make_netns_pair tra
a_if=$TIF_HOST_IF a_ip=$TIF_NS_IP
tif_make_netns_pair trb
b_if=$TIF_HOST_IF b_ip=$TIF_NS_IP
cfg="$TIF_TMP/config.yml"
printf 'iface:\n  include: "^%s$"\n' "$a_if" >"$cfg"
port=$(tif_free_port)
tif_start_exporter "$port" --config.file="$cfg"
metrics="$TIF_EXPORTER_URL/metrics"

pkts() { tif_metric_sum "$metrics" "traceiface_packets_total\\{[^}]*iface=\"$1\"[^}]*direction=\"egress\""; }
series() { curl -sf "$metrics" | grep -c "^traceiface_packets_total{[^}]*iface=\"$1\"" || true; }
# Five refused connects per device: each sends a SYN out (and gets a RST back).
knock() { for _ in 1 2 3 4 5; do timeout 2 bash -c ">/dev/tcp/$1/9" 2>/dev/null || true; done; }
ping_both() { knock "$a_ip"; knock "$b_ip"; }
reload() {
    printf 'iface:\n  include: "%s"\n' "$1" >"$cfg"
    kill -HUP "$TIF_EXPORTER_PID"
    for _ in $(seq 50); do
        [[ $(tif_metric_sum "$metrics" '^traceiface_config_last_reload_successful ') == 1 ]] &&
            grep -q '"msg":"config reloaded"' "$TIF_TMP/exporter.out" && break
        sleep 0.1
    done
    sleep 0.3
}

ping_both
a1=$(pkts "$a_if")
tif_assert_cmp "$a1" ">=" 5 "packets on the included $a_if"
tif_assert_cmp "$(series "$b_if")" "==" 0 "no series for the not-yet-included $b_if"

reload "^($a_if|$b_if)$"
ping_both
a2=$(pkts "$a_if")
b2=$(pkts "$b_if")
tif_assert_cmp "$a2" ">=" "$((a1 + 5))" "$a_if kept counting across the reload (not reset)"
tif_assert_cmp "$b2" ">=" 5 "$b_if watched after the reload"

reload "^$b_if$"
ping_both
gone=$(curl -sf "$metrics" | grep -c "^traceiface_interface_info{[^}]*iface=\"$a_if\"[^}]*operstate=\"gone\"" || true)
tif_assert_cmp "$gone" "==" 1 "$a_if released (shown as gone during the grace period)"
tif_assert_cmp "$(pkts "$b_if")" ">=" "$((b2 + 5))" "$b_if still counting"
for d in ingress egress; do
    tif_assert_cmp "$(iface_ours "$a_if" "$d")" "==" 0 "our program left on $a_if $d"
done
echo "PASS: SIGHUP applies the interface filter; counters of staying interfaces continue"
