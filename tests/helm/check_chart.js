#!/usr/bin/env node
// Checks of helm/traceiface as rendered by tests/helm/render (see chart_test.sh):
//   check_chart.js DIR   DIR holds SCENARIO.yaml (rendered) and SCENARIO.values.json (merged
//                        values) for the scenarios default, full, privileged and hostonly.
// Every merged values object must validate against values.schema.json (ajv), and patches a
// user could get wrong must not; every rendered object must validate with the
// kubernetes-models class of its apiVersion/kind; then what the chart promises is asserted.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const ROOT = path.resolve(__dirname, '../..');
const MOD = path.join(ROOT, 'tests/js/node_modules');
const req = (m) => require(path.join(MOD, m));
const yaml = req('js-yaml');
const Ajv = req('ajv');
const CHART = path.join(ROOT, 'helm/traceiface');
const dir = process.argv[2];

let passed = 0;
const failures = [];
function check(ok, what) {
  if (ok) passed++;
  else failures.push(what);
  return ok;
}

// --- values.schema.json ---
const schema = JSON.parse(fs.readFileSync(path.join(CHART, 'values.schema.json'), 'utf8'));
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
const defaults = yaml.load(fs.readFileSync(path.join(CHART, 'values.yaml'), 'utf8'));
const merge = (a, b) => {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && a[k] && typeof a[k] === 'object'
      ? merge(a[k], v) : v;
  }
  return out;
};
check(validate(defaults), `values.yaml: ${JSON.stringify(validate.errors)}`);
const BAD = {
  'port as a string': { port: '9742' },
  'privileged as a string': { securityContext: { privileged: 'yes' } },
  'runAsRoot as a string': { securityContext: { runAsRoot: 'no' } },
  'misspelt key': { tolerration: [] },
  'CAP_ prefix': { securityContext: { extraCapabilities: ['CAP_SYS_ADMIN'] } },
  'telemetry path under /-/': { telemetryPath: '/-/metrics' },
  'log level': { logLevel: 'verbose' },
  'relative span socket dir': { spanSocket: { hostPath: 'run/traceiface' } },
  'relative CRI socket': { k8s: { criSocket: 'run/containerd/containerd.sock' } },
  'k8s misspelt key': { k8s: { criSocekt: '/run/containerd/containerd.sock' } },
  'pod label key with a space': { k8s: { podLabels: ['app name'] } },
  'monitor interval': { serviceMonitor: { enabled: true, interval: 30 } },
};
for (const [what, patch] of Object.entries(BAD)) {
  check(!validate(merge(defaults, patch)), `values.schema.json accepted a bad value: ${what}`);
}

// --- rendered manifests ---
const MODELS = { 'monitoring.coreos.com/v1': '@kubernetes-models/prometheus-operator/' +
  'monitoring.coreos.com/v1' };
function modelClass(apiVersion, kind) {
  const base = MODELS[apiVersion] || `kubernetes-models/${apiVersion}`;
  try {
    return req(`${base}/${kind}`)[kind];
  } catch {
    return null;
  }
}

// Rendered text of each template ("traceiface/templates/x.yaml" -> text), for the checksum.
function sources(text) {
  const out = {};
  for (const part of text.split(/^---\n# Source: /m).slice(1)) {
    const nl = part.indexOf('\n');
    out[part.slice(0, nl)] = part.slice(nl + 1).replace(/\n$/, '');
  }
  return out;
}

const rendered = {};
for (const scenario of ['default', 'full', 'privileged', 'hostonly']) {
  const text = fs.readFileSync(path.join(dir, `${scenario}.yaml`), 'utf8');
  const values = JSON.parse(fs.readFileSync(path.join(dir, `${scenario}.values.json`), 'utf8'));
  check(validate(values), `${scenario}: merged values: ${JSON.stringify(validate.errors)}`);
  const objs = yaml.loadAll(text).filter((o) => o !== null);
  const byKind = {};
  for (const o of objs) {
    const at = `${scenario}: ${o.kind} ${o.metadata && o.metadata.name}`;
    const Cls = modelClass(o.apiVersion, o.kind);
    if (!check(Cls, `${at}: no kubernetes-models class for ${o.apiVersion} ${o.kind}`)) continue;
    try {
      new Cls(o).validate();
      check(true);
    } catch (e) {
      check(false, `${at}: ${e.message}`);
    }
    check(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(o.metadata.name), `${at}: name`);
    check(o.metadata.namespace, `${at}: no namespace`);
    (byKind[o.kind] = byKind[o.kind] || []).push(o);
  }
  rendered[scenario] = { text, objs, byKind, values, src: sources(text) };
}

function daemonSetChecks(scenario) {
  const { byKind, values, src } = rendered[scenario];
  const at = (s) => `${scenario}: DaemonSet: ${s}`;
  const ds = (byKind.DaemonSet || [])[0];
  if (!check(ds && byKind.DaemonSet.length === 1, `${scenario}: one DaemonSet`)) return null;
  const pod = ds.spec.template.spec;
  const c = pod.containers[0];
  const sc = c.securityContext;
  const podLabels = ds.spec.template.metadata.labels;
  for (const [k, v] of Object.entries(ds.spec.selector.matchLabels)) {
    check(podLabels[k] === v, at(`selector label ${k} not on the pod`));
  }
  check(pod.hostNetwork === true && pod.dnsPolicy === 'ClusterFirstWithHostNet', at('hostNetwork'));
  check(c.image === `${values.image.repository}:${values.image.tag || '0.1.0'}`, at('image'));
  check(c.args.includes(`--web.listen-address=:${values.port}`), at('listen address'));
  check(c.args.includes('--config.file=/etc/traceiface/config.yaml') === values.passConfigFile,
    at('--config.file only when passConfigFile'));
  check(c.ports.some((p) => p.name === 'metrics' && p.containerPort === values.port), at('port'));
  const mount = (p) => c.volumeMounts.find((m) => m.mountPath === p);
  const vol = (m) => m && pod.volumes.find((v) => v.name === m.name);
  // As root the node's whole /sys/fs/bpf; as 65534 only the pin directory prepare-dirs gave it,
  // mounted at /sys/fs/bpf and pinned into: the pins sit at the node's /sys/fs/bpf/traceiface
  // either way.
  const asRoot = values.securityContext.runAsRoot;
  check(vol(mount('/sys/fs/bpf'))?.hostPath?.path ===
    (asRoot ? '/sys/fs/bpf' : '/sys/fs/bpf/traceiface'), at('bpffs hostPath'));
  check(mount('/sys/fs/bpf')?.mountPropagation === 'HostToContainer', at('bpffs HostToContainer'));
  check(c.args.includes('--bpf.pin-path=/sys/fs/bpf') === !asRoot, at('pin path iff non-root'));
  // The init container that mounts bpffs on a node without one: the same image, privileged
  // (Bidirectional propagation needs it), only when bpffs.mountOnHost.
  const init = (pod.initContainers || []).find((x) => x.name === 'mount-bpffs');
  if (check(!!init === values.bpffs.mountOnHost, at('mount-bpffs init container iff mountOnHost')) &&
    init) {
    check(init.image === c.image && init.args[0] === 'mount-bpffs', at('mount-bpffs image/args'));
    check(init.securityContext.privileged === true, at('mount-bpffs privileged'));
    const im = init.volumeMounts.find((m) => m.mountPath === '/sys/fs/bpf');
    check(im?.mountPropagation === 'Bidirectional' &&
      pod.volumes.find((v) => v.name === im.name)?.hostPath?.path === '/sys/fs/bpf',
    at('mount-bpffs mounts the node /sys/fs/bpf Bidirectional'));
  }
  // prepare-dirs: the node's pin and span-socket directories to 65534, as root with CAP_CHOWN
  // alone (the binary's file capabilities are permitted-only: execve needs none of them),
  // only for a non-root daemon, after mount-bpffs.
  const prep = (pod.initContainers || []).find((x) => x.name === 'prepare-dirs');
  if (check(!!prep === !asRoot, at('prepare-dirs init container iff non-root')) && prep) {
    const ps = prep.securityContext;
    check(prep.image === c.image && prep.args[0] === 'prepare-dirs' &&
      prep.args.includes('--owner=65534:65534') && prep.args.includes('/sys/fs/bpf/traceiface') &&
      prep.args.includes('/run/traceiface') === values.spanSocket.enabled,
    at(`prepare-dirs args ${prep.args}`));
    check(ps.runAsUser === 0 && ps.privileged === false && ps.allowPrivilegeEscalation === false &&
      JSON.stringify(ps.capabilities.drop) === '["ALL"]' &&
      JSON.stringify(ps.capabilities.add) === '["CHOWN"]',
    at('prepare-dirs: root with CHOWN alone'));
    const pm = (p) => prep.volumeMounts.find((m) => m.mountPath === p);
    check(pod.volumes.find((v) => v.name === pm('/sys/fs/bpf')?.name)?.hostPath?.path ===
      '/sys/fs/bpf', at('prepare-dirs mounts the node /sys/fs/bpf'));
    check(values.spanSocket.enabled ? pm('/run/traceiface')?.name === mount('/run/traceiface')?.name
      : !pm('/run/traceiface'), at('prepare-dirs mounts the span-socket directory'));
    check(pod.initContainers[pod.initContainers.length - 1] === prep,
      at('prepare-dirs runs after mount-bpffs'));
  }
  check(mount('/sys/kernel/btf')?.readOnly === true &&
    vol(mount('/sys/kernel/btf'))?.hostPath?.path === '/sys/kernel/btf', at('btf read-only'));
  const span = vol(mount('/run/traceiface'));
  check(values.spanSocket.enabled ? span?.hostPath?.path === values.spanSocket.hostPath &&
    span.hostPath.type === 'DirectoryOrCreate' : !span, at('span socket hostPath'));
  // Pod identity: the runtime socket's directory, /proc and the netns mounts, read-only under
  // /host, and the flags naming them; off = --k8s.cri-endpoint="".
  if (values.k8s.enabled) {
    const sockDir = path.dirname(values.k8s.criSocket);
    check(c.args.includes(`--k8s.cri-endpoint=unix:///host${values.k8s.criSocket}`) &&
      c.args.includes('--k8s.host-root=/host'), at('k8s flags'));
    const labels = values.k8s.podLabels || [];
    check(labels.length ? c.args.includes(`--k8s.pod-labels=${labels.join(',')}`)
      : !c.args.some((a) => a.startsWith('--k8s.pod-labels')), at('k8s.podLabels'));
    check(mount(`/host${sockDir}`)?.readOnly === true &&
      vol(mount(`/host${sockDir}`))?.hostPath?.path === sockDir, at('CRI socket dir read-only'));
    check(mount('/host/proc')?.readOnly === true &&
      vol(mount('/host/proc'))?.hostPath?.path === '/proc', at('host /proc read-only'));
    const ns = mount(`/host${values.k8s.netnsDir}`);
    check(ns?.readOnly === true && ns.mountPropagation === 'HostToContainer' &&
      vol(ns)?.hostPath?.path === values.k8s.netnsDir, at('netns dir read-only, HostToContainer'));
    check(mount('/host/sys/fs/cgroup')?.readOnly === true &&
      vol(mount('/host/sys/fs/cgroup'))?.hostPath?.path === '/sys/fs/cgroup',
    at('host cgroup hierarchy read-only'));
  } else {
    check(c.args.includes('--k8s.cri-endpoint=') && !mount('/host/proc') &&
      !mount('/host/sys/fs/cgroup'), at('k8s off'));
  }
  const cm = vol(mount('/etc/traceiface'))?.configMap?.name;
  check((byKind.ConfigMap || []).some((m) => m.metadata.name === cm &&
    'config.yaml' in m.data), at('config ConfigMap mounted at /etc/traceiface'));
  const sum = crypto.createHash('sha256')
    .update(src['traceiface/templates/configmap.yaml'] || '').digest('hex');
  check(ds.spec.template.metadata.annotations['checksum/config'] === sum,
    at('checksum/config is not the sha256 of the rendered ConfigMap'));
  // Root, or the image's uid 65534 on its binary's file capabilities.
  check(asRoot ? sc.runAsUser === 0 && sc.runAsGroup === 0 && sc.runAsNonRoot === false
    : sc.runAsUser === 65534 && sc.runAsGroup === 65534 && sc.runAsNonRoot === true,
  at(`user: runAsRoot ${asRoot}`));
  if (values.securityContext.privileged) {
    check(sc.privileged === true && sc.allowPrivilegeEscalation === undefined, at('privileged'));
  } else {
    // no_new_privs (allowPrivilegeEscalation: false) would void the file capabilities of uid
    // 65534; root needs no gain at execve and keeps it.
    check(sc.privileged === false && sc.allowPrivilegeEscalation === !asRoot, at('unprivileged'));
    check(JSON.stringify(sc.capabilities.drop) === '["ALL"]', at('drop ALL'));
    const add = sc.capabilities.add;
    check(['BPF', 'PERFMON', 'NET_ADMIN'].every((x) => add.includes(x)), at('BPF caps'));
    check(new Set(add).size === add.length, at(`duplicate capabilities ${add}`));
    const legacy = ['SYS_ADMIN', 'SYS_RESOURCE'].every((x) => add.includes(x));
    check(legacy === !!values.securityContext.legacyKernel, at('legacy caps only if asked'));
    // Pod identity's resolver thread: SYS_PTRACE and DAC_OVERRIDE, with k8s.enabled only.
    const k8sCaps = ['SYS_PTRACE', 'DAC_OVERRIDE'].filter((x) => add.includes(x)).length;
    check(k8sCaps === (values.k8s.enabled ? 2 : 0), at(`k8s caps iff k8s.enabled: ${add}`));
  }
  check((pod.priorityClassName || '') === values.priorityClassName, at('priorityClassName'));
  check(JSON.stringify(pod.tolerations) === JSON.stringify(values.tolerations), at('tolerations'));
  const sa = byKind.ServiceAccount || [];
  check(values.serviceAccount.create ? sa[0]?.metadata.name === pod.serviceAccountName
    : sa.length === 0 && pod.serviceAccountName === 'default', at('service account'));
  const svc = (byKind.Service || [])[0];
  if (check(!!svc === values.service.enabled, `${scenario}: Service iff service.enabled`) && svc) {
    check(Object.entries(svc.spec.selector).every(([k, v]) => podLabels[k] === v),
      `${scenario}: Service selects the pods`);
    check(svc.spec.ports[0].targetPort === 'metrics', `${scenario}: Service targetPort`);
  }
  for (const kind of ['ServiceMonitor', 'PodMonitor']) {
    const on = values[kind[0].toLowerCase() + kind.slice(1)].enabled;
    const mon = (byKind[kind] || [])[0];
    if (!check(!!mon === on, `${scenario}: ${kind} iff enabled`) || !mon) continue;
    const ep = (mon.spec.endpoints || mon.spec.podMetricsEndpoints)[0];
    check(ep.port === 'metrics' && ep.path === values.telemetryPath, `${kind}: endpoint`);
    check(ep.relabelings.some((r) => r.targetLabel === 'instance' &&
      r.sourceLabels[0] === '__meta_kubernetes_pod_node_name'), `${kind}: instance = node`);
    check(Object.entries(mon.spec.selector.matchLabels).every(([k, v]) => podLabels[k] === v),
      `${kind}: selector`);
  }
  const dash = (byKind.ConfigMap || []).find((m) => m.metadata.labels.grafana_dashboard === '1');
  check(!!dash === values.grafanaDashboards.enabled, `${scenario}: dashboards ConfigMap iff on`);
  if (dash) {
    check(dash.metadata.namespace === (values.grafanaDashboards.namespace || 'monitoring'),
      `${scenario}: dashboards namespace`);
    for (const f of ['traceiface.json', 'traceiface-health.json']) {
      const want = JSON.parse(fs.readFileSync(path.join(ROOT, 'dashboards', f), 'utf8'));
      check(JSON.stringify(JSON.parse(dash.data[f] || 'null')) === JSON.stringify(want),
        `${scenario}: dashboards ConfigMap ${f} differs from dashboards/${f}`);
    }
  }
  return ds.spec.template.metadata.annotations['checksum/config'];
}

const sums = ['default', 'full', 'privileged', 'hostonly'].map(daemonSetChecks);
check(sums[0] && sums[1] && sums[0] !== sums[1], 'a changed config must change checksum/config');

for (const f of failures) console.error(`FAIL: ${f}`);
console.log(`chart: ${passed} checks passed, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
