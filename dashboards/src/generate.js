#!/usr/bin/env node
// Generates dashboards/traceiface.json and dashboards/traceiface-health.json.
//   node dashboards/src/generate.js          write them
//   node dashboards/src/generate.js --check  exit 1 if the committed files differ
'use strict';
const fs = require('fs');
const path = require('path');
const g = require('./grafana');
const { SEL, INFO_SEL, INST, RI, Layout, timeseries: ts, stat, heatmap, table, logs } = g;

const RTX = 'traceiface_tcp_retransmit_segments_total';
const RTT = 'traceiface_tcp_rtt_seconds';
const CONN = 'traceiface_tcp_connect_latency_seconds';
const SIZE = 'traceiface_packet_size_bytes';
// The pod of a line's socket is read into names of our own: in Kubernetes the log shipper
// gives the exporter's stream its own namespace/pod labels, and `| json` would then file the
// fields under namespace_extracted. A host socket's line has neither field: its labels are "",
// which the All value '.*' matches.
const LOG = '{job="$log_job"} | json | event="tcp_retransmit" | iface=~"$iface" | ' +
  'json tif_namespace="namespace", tif_pod="pod" | tif_namespace=~"$namespace" | ' +
  'tif_pod=~"$pod"';

const rate = (m, sel = SEL) => `rate(${m}{${sel}}${RI})`;
const q = (phi, m, by) =>
  `histogram_quantile(${phi}, sum by (${by}le) (${rate(m + '_bucket')}))`;
const quantiles = (m, by, legend) => [0.5, 0.9, 0.99].map((phi) =>
  [q(phi, m, by), `p${Math.round(phi * 100)} ${legend}`]);

const vars = (withIface) => [
  g.dsVar('datasource', 'Prometheus', 'prometheus'),
  ...(withIface ? [g.dsVar('loki', 'Loki', 'loki')] : []),
  g.queryVar('instance', 'Instance / node', 'label_values(traceiface_build_info, instance)'),
  ...(withIface ? [
    // A host device has no namespace/pod label, and a host-only node none at all: All must be
    // '.*', which matches the absent label ('.+' would hide every host device).
    g.queryVar('namespace', 'Namespace', 'label_values(traceiface_interface_info' +
      '{instance=~"$instance"}, namespace)', { allValue: '.*', current: g.ALL }),
    g.queryVar('pod', 'Pod', 'label_values(traceiface_interface_info{instance=~"$instance", ' +
      'namespace=~"$namespace"}, pod)', { allValue: '.*', current: g.ALL }),
    // Every per-interface panel follows namespace/pod through $iface: interface_info offers a
    // pod's veths, the data families (no namespace label, so only under All) the rest, such
    // as /unknown. All is the list offered, not a regex, or it would undo a pod choice.
    g.queryVar('iface', 'Interface',
      'label_values({__name__=~"traceiface_(interface_info|packets_total|' +
      'tcp_retransmit_segments_total|tcp_rtt_seconds_count|tcp_connect_latency_seconds_count)",' +
      ' instance=~"$instance", namespace=~"$namespace", pod=~"$pod"}, iface)',
    { allValue: null, current: g.ALL }),
    g.textVar('log_job', 'Loki job', 'traceiface',
      'Value of the job stream label under which the exporter\'s stdout reaches Loki'),
  ] : []),
];

const UP_MAP = [{ options: { 0: { color: 'red', text: 'DOWN' }, 1: { color: 'green', text: 'UP' } },
  type: 'value' }];

function health(L, wide) {
  L.add(stat('Probes up', 'traceiface_probe_up per probe: 0 means the probe failed to load ' +
    '(the verifier\'s reason is in the log, component="libbpf").', 'none',
  `min by (probe) (traceiface_probe_up{${INST}})`,
  { legend: '{{probe}}', mappings: UP_MAP,
    steps: [{ color: 'red', value: null }, { color: 'green', value: 1 }] }), wide ? 8 : 6, 5);
  L.add(ts('Events lost /s', 'Events that never reached user space, by probe and stage. ' +
    'The counters on /metrics stay exact; only JSON lines are missing.', 'ops',
  [[`sum by (probe, stage) (${rate('traceiface_events_lost_total', INST)})`,
    '{{probe}} {{stage}}']]), wide ? 8 : 6, 5);
  L.add(ts('Span-context frames /s by result', 'Frames applications sent on the span ' +
    'socket to bind trace context to their TCP connections, by result.', 'ops',
  [[`sum by (result) (${rate('traceiface_span_frames_total', INST)})`, '{{result}}']]),
  wide ? 8 : 6, 5);
  if (!wide) {
    L.add(ts('Span bindings', 'Live trace-context bindings of TCP sockets.', 'none',
      [[`sum by (instance) (traceiface_span_bindings{${INST}})`, '{{instance}}']]), 6, 5);
  }
}

function main() {
  const L = new Layout();
  L.row('Overview');
  L.add(stat('Retransmitted segments /s', 'All selected interfaces.', 'ops',
    `sum(${rate(RTX)})`, { decimals: 2 }), 4, 4);
  L.add(stat('Retransmit share of egress packets', 'Retransmitted segments over egress ' +
    'packets (a GSO super-packet counts once, so this is an upper bound).', 'percentunit',
  `sum(${rate(RTX)}) / sum(${rate('traceiface_packets_total', SEL + ', direction="egress"')})`,
  { decimals: 2, steps: [{ color: 'green', value: null }, { color: 'orange', value: 0.01 },
    { color: 'red', value: 0.05 }] }), 4, 4);
  L.add(stat('RTT p99', 'Smoothed RTT samples, all selected interfaces.', 's',
    q(0.99, RTT, ''), { decimals: 3 }), 4, 4);
  L.add(stat('Connect latency p99', 'SYN to established, all selected interfaces.', 's',
    q(0.99, CONN, ''), { decimals: 3 }), 4, 4);
  L.add(stat('Connect failures /s', 'Refused, timed out and other failed connects.', 'ops',
    `sum(${rate('traceiface_tcp_connect_failures_total')})`, { decimals: 2 }), 4, 4);
  L.add(stat('Lowest probe_up', '1 when every probe is attached.', 'none',
    `min(traceiface_probe_up{${INST}})`, { mappings: UP_MAP,
      steps: [{ color: 'red', value: null }, { color: 'green', value: 1 }] }), 4, 4);

  L.row('Retransmits');
  L.add(ts('Retransmitted segments /s by interface and kind', 'kind: syn, synack, rto ' +
    '(after a timeout), fast (fast retransmit), other (TLP, RACK).', 'ops',
  [[`sum by (iface, kind) (${rate(RTX)})`, '{{iface}} {{kind}}']]), 12, 8);
  L.add(ts('Retransmitted segments /s by kind', 'Stacked, all selected interfaces.', 'ops',
    [[`sum by (kind) (${rate(RTX)})`, '{{kind}}']], { stack: true, fill: 40 }), 12, 8);
  L.add({ ...table('Retransmits by pod', 'Segments retransmitted over the dashboard\'s ' +
    'range per interface, with the pod its veth leads into (empty: a host device).', ''),
  targets: [g.promTarget(`sum by (namespace, pod, iface) (increase(${RTX}{${SEL}}[$__range]) ` +
    // One info series per interface, or the join fails: a veth re-created under the same name
    // (Calico names it after the pod) is listed twice while the old one is "gone".
    `* on (instance, iface) group_left (namespace, pod) topk by (instance, iface) (1, ` +
    `max by (instance, iface, namespace, pod) (traceiface_interface_info{${INFO_SEL}})))`, '',
  'A', { format: 'table', instant: true, range: false })],
  options: { cellHeight: 'sm', footer: { show: false }, showHeader: true,
    sortBy: [{ desc: true, displayName: 'segments' }] },
  transformations: [{ id: 'organize', options: { excludeByName: { Time: true },
    renameByName: { Value: 'segments' } } }] }, 24, 8);

  L.add(ts('Retransmits leaving each interface /s (bridge ports, bond slaves)', 'Segments ' +
    'of this node\'s sockets that left the interface resending data, counted by tc egress: ' +
    'a bridge port\'s or bond slave\'s share of its master\'s retransmits (the panels above ' +
    'count by the socket\'s route, i.e. the master). Legend: master, then port.', 'ops',
  [[`sum by (master, iface) (${rate('traceiface_tcp_egress_retransmit_segments_total')} ` +
    `* on (instance, iface) group_left (master) topk by (instance, iface) (1, ` +
    `max by (instance, iface, master) (traceiface_interface_info{${INFO_SEL}})))`,
  '{{master}} {{iface}}']]), 24, 8);

  L.row('Round-trip time');
  L.add(ts('RTT quantiles by interface', 'From the smoothed-RTT histogram. Exemplars link ' +
    'to the trace (trace_id) when the Prometheus data source has exemplars enabled.', 's',
  quantiles(RTT, 'iface, ', '{{iface}}'), { exemplar: true }), 12, 8);
  L.add(ts('Mean RTT by interface', 'Sum of the samples over their count.', 's', null, {
    targets: g.targets([
      [`sum by (iface) (${rate(RTT + '_sum')}) / sum by (iface) (${rate(RTT + '_count')})`,
        'mean {{iface}}'],
    ], { exemplar: false }),
  }), 12, 8);
  L.add(heatmap('RTT distribution: $iface', 'One heatmap per selected interface.', 's',
    `sum by (le) (${rate(RTT + '_bucket')})`, { exemplar: true, repeat: 'iface' }), 24, 8);

  L.row('Connections');
  L.add(ts('Connect latency quantiles by interface', 'Active opens: first SYN sent to ' +
    'SYN-ACK received, SYN retransmissions included.', 's',
  quantiles(CONN, 'iface, ', '{{iface}}'), { exemplar: true }), 8, 8);
  L.add(heatmap('Connect latency distribution', 'All selected interfaces.', 's',
    `sum by (le) (${rate(CONN + '_bucket')})`, { exemplar: true }), 8, 8);
  L.add(ts('Connects and failures /s', 'Completed connects per interface, and failures by ' +
    'reason (refused: RST, timed_out: no answer to the SYNs, other).', 'ops', [
    [`sum by (iface) (${rate(CONN + '_count')})`, 'connects {{iface}}'],
    [`sum by (iface, reason) (${rate('traceiface_tcp_connect_failures_total')})`,
      'failed {{iface}} {{reason}}'],
  ]), 8, 8);

  L.row('Packets and bytes');
  L.add(ts('Packets /s', 'As the tc programs see them; a GSO/GRO super-packet counts once.',
    'pps', [[`sum by (iface, direction) (${rate('traceiface_packets_total')})`,
      '{{iface}} {{direction}}']]), 8, 8);
  L.add(ts('Throughput', 'Bytes including the L2 header, as bits per second.', 'bps',
    [[`8 * sum by (iface, direction) (${rate('traceiface_bytes_total')})`,
      '{{iface}} {{direction}}']]), 8, 8);
  L.add(ts('Packet size', 'Median and p99 from the log2 size histogram; mean = bytes / ' +
    'packets.', 'bytes', [
    [q(0.5, SIZE, 'iface, direction, '), 'p50 {{iface}} {{direction}}'],
    [q(0.99, SIZE, 'iface, direction, '), 'p99 {{iface}} {{direction}}'],
    [`sum by (iface, direction) (${rate('traceiface_bytes_total')}) / sum by (iface, ` +
      `direction) (${rate('traceiface_packets_total')})`, 'mean {{iface}} {{direction}}'],
  ]), 8, 8);
  L.add(ts('Oversize frames /s', 'Longer than MTU + L2 header: GSO/GRO super-packets, or ' +
    'frames that a smaller MTU further on will drop.', 'pps',
  [[`sum by (iface, direction) (${rate('traceiface_oversize_packets_total')})`,
    '{{iface}} {{direction}}']]), 8, 8);
  L.add(heatmap('Packet size distribution', 'All selected interfaces and directions.',
    'bytes', `sum by (le) (${rate(SIZE + '_bucket')})`), 8, 8);
  L.add(table('Interfaces', 'traceiface_interface_info: kind, master, MTU, oper state, and ' +
    'the pod a veth leads into.', 'max by (iface, ifindex, kind, master, mtu, operstate, ' +
    `namespace, pod) (traceiface_interface_info{${INFO_SEL}})`), 8, 8);

  L.row('Exporter health');
  health(L, false);

  L.row('Logs (Loki)');
  L.add(logs('Retransmit lines', 'The exporter\'s JSON lines for the selected interfaces. ' +
    'A line with trace_id links to the trace through the Loki data source\'s derived field.',
  LOG), 24, 10);
  L.add(ts('Retransmitted segments by kind, from the logs', 'sum of segs over the lines.',
    'none', null, { ds: g.LOKI, targets: [g.lokiTarget(
      `sum by (iface, kind) (sum_over_time(${LOG} | unwrap segs [$__auto]))`,
      '{{iface}} {{kind}}', 'A')] }), 12, 8);
  L.add({ ...table('Top flows by retransmitted segments', 'Over the dashboard\'s range.', ''),
    datasource: g.LOKI,
    targets: [g.lokiTarget('topk(10, sum by (tif_namespace, tif_pod, iface, saddr, daddr, ' +
      `dport) (sum_over_time(${LOG} | unwrap segs [$__range])))`, '', 'A', true)],
    transformations: [{ id: 'organize', options: { excludeByName: { Time: true },
      renameByName: { Value: 'segments', tif_namespace: 'namespace', tif_pod: 'pod' } } }] },
  12, 8);
  L.add(logs('Retransmits of traced requests', 'Only lines bound to a trace (trace_id).',
    `${LOG} | trace_id != ""`), 24, 8);

  return g.dashboard({
    uid: 'traceiface', title: 'traceiface: TCP health per interface',
    description: 'Retransmits, RTT, connect latency, packets and oversize frames per network ' +
      'interface, from the traceiface eBPF exporter, with its retransmit log lines from Loki.',
    tags: ['traceiface', 'tcp', 'ebpf', 'network'], vars: vars(true), panels: L.panels,
    links: [{ asDropdown: false, icon: 'dashboard', includeVars: true, keepTime: true,
      tags: [], targetBlank: false, title: 'traceiface exporter health', type: 'link',
      url: '/d/traceiface-health' }],
  });
}

function healthDashboard() {
  const L = new Layout();
  health(L, true);
  L.add(ts('Events produced, consumed, lost and held /s', 'produced = consumed + lost, per ' +
    'probe, once the ring buffer is drained. Held: kept in the kernel over --log.event-rate ' +
    '(counted, no log line).', 'ops', [
    [`sum by (probe) (${rate('traceiface_events_produced_total', INST)})`, 'produced {{probe}}'],
    [`sum by (probe) (${rate('traceiface_events_consumed_total', INST)})`, 'consumed {{probe}}'],
    [`sum by (probe) (${rate('traceiface_events_lost_total', INST)})`, 'lost {{probe}}'],
    [`sum by (probe) (${rate('traceiface_events_held_total', INST)})`, 'held in kernel {{probe}}'],
  ]), 12, 8);
  L.add(ts('BPF program recursion misses /s', 'Runs the kernel skipped because the program ' +
    'was already running on that CPU: those events are not counted.', 'ops',
  [[`sum by (program) (${rate('traceiface_bpf_program_recursion_misses_total', INST)})`,
    '{{program}}']]), 12, 8);
  L.add(ts('Collector success', '1 when the collector answered the last scrape.', 'none',
    [[`min by (collector) (traceiface_scrape_collector_success{${INST}})`, '{{collector}}']],
    { min: 0 }), 8, 8);
  L.add(ts('Collector duration', 'Time each collector took in the last scrape.', 's',
    [[`max by (collector) (traceiface_scrape_collector_duration_seconds{${INST}})`,
      '{{collector}}']]), 8, 8);
  L.add(ts('Span bindings', 'Live trace-context bindings of TCP sockets.', 'none',
    [[`sum by (instance) (traceiface_span_bindings{${INST}})`, '{{instance}}']]), 8, 8);
  L.add(table('Build', 'traceiface_build_info per instance.', `traceiface_build_info{${INST}}`),
    24, 6);
  return g.dashboard({
    uid: 'traceiface-health', title: 'traceiface: exporter health',
    description: 'Is the traceiface exporter itself healthy: probes, lost events, BPF ' +
      'recursion misses, collectors, span-context socket.',
    tags: ['traceiface', 'ebpf'], vars: vars(false), panels: L.panels,
    links: [{ asDropdown: false, icon: 'dashboard', includeVars: true, keepTime: true, tags: [],
      targetBlank: false, title: 'traceiface: TCP health', type: 'link', url: '/d/traceiface' }],
  });
}

const out = {
  'traceiface.json': main(),
  'traceiface-health.json': healthDashboard(),
};
const dir = path.join(__dirname, '..');
let stale = 0;
for (const [name, dash] of Object.entries(out)) {
  const text = JSON.stringify(dash, null, 2) + '\n';
  const file = path.join(dir, name);
  if (process.argv.includes('--check')) {
    const have = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    if (have !== text) {
      console.error(`${name}: differs from what dashboards/src/generate.js makes`);
      stale++;
    }
  } else {
    fs.writeFileSync(file, text);
  }
}
process.exit(stale ? 1 : 0);
