#!/usr/bin/env bash
# The landing page in a real headless Chromium: after real retransmits on a test veth, the
# rendered DOM has an interfaces table whose row for that veth shows the retransmitted segments
# /metrics reports. Also keeps a screenshot in $TIF_TMP for a human look (TIF_KEEP_TMP=1).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/retransmit_lib.sh"

tif_require_root_bpf
tif_require_cmd chromium python3
tif_make_netns_pair tip
tif_tbf "$TIF_HOST_IF"
port=$(tif_free_port)
tif_start_exporter "$port"
rtx_iperf_upload "$TIF_NS" "$TIF_NS_IP" 4 host

want=$(tif_metric_sum "$TIF_EXPORTER_URL/metrics" \
    "traceiface_tcp_retransmit_segments_total\\{[^}]*iface=\"$TIF_HOST_IF\"")
tif_assert_cmp "$want" ">" 0 "retransmits to show"

chrome=(chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run
    --disable-background-networking --disable-component-update --disable-sync
    --user-data-dir="$TIF_TMP/chrome")
timeout 60 "${chrome[@]}" --dump-dom "$TIF_EXPORTER_URL/" >"$TIF_TMP/page.html" 2>"$TIF_TMP/chrome.log" ||
    tif_fail "chromium could not render the page: $(tail -3 "$TIF_TMP/chrome.log")"
timeout 60 "${chrome[@]}" --screenshot="$TIF_TMP/page.png" --window-size=1100,400 \
    "$TIF_EXPORTER_URL/" >/dev/null 2>&1 || true

# Read the table back from the DOM Chromium built.
got=$(python3 - "$TIF_TMP/page.html" "$TIF_HOST_IF" <<'PY'
import sys
from html.parser import HTMLParser

class Table(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.row, self.cell, self.in_table = [], None, None, False
    def handle_starttag(self, tag, attrs):
        if tag == "table" and ("id", "interfaces") in attrs: self.in_table = True
        elif self.in_table and tag == "tr": self.row = []
        elif self.row is not None and tag in ("td", "th"): self.cell = ""
        elif self.row is not None and tag == "svg": self.cell = (self.cell or "") + "[svg]"
    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.row is not None: self.row.append(self.cell.strip()); self.cell = None
        elif tag == "tr" and self.row is not None: self.rows.append(self.row); self.row = None
        elif tag == "table": self.in_table = False
    def handle_data(self, data):
        if self.cell is not None: self.cell += data

t = Table(); t.feed(open(sys.argv[1]).read())
head = t.rows[0]
for r in t.rows[1:]:
    if r[0] == sys.argv[2]:
        print(r[head.index("Retransmitted segments")]); break
PY
)
echo "page shows $got retransmitted segments on $TIF_HOST_IF; /metrics said $want"
[[ -n $got ]] || tif_fail "no row for $TIF_HOST_IF in the rendered table"
# The exporter keeps counting between the scrape and the page; never less, barely more.
tif_assert_cmp "$got" ">=" "$want" "page behind /metrics"
rtx_assert_within "$got" "$want" 0.05
echo "PASS: landing page renders in Chromium with the interface table"
