#!/usr/bin/env node
// Static checks of dashboards/*.json, and the expression lists the Prometheus test evaluates.
//   check_dashboards.js                         lint every dashboard; parse every LogQL query
//                                               with Grafana's own grammar (@grafana/lezer-logql)
//   check_dashboards.js --promql IFACE INSTANCE print each PromQL expression, variables
//                                               substituted, one JSON object a line
//   check_dashboards.js --var-queries INSTANCE  print the label_values() variable queries
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const V = require('./grafana_vars');

const ROOT = path.resolve(__dirname, '../..');
const DIR = path.join(ROOT, 'dashboards');
const MOD = path.join(ROOT, 'tests/js/node_modules');

const dashboards = fs.readdirSync(DIR).filter((f) => f.endsWith('.json')).sort()
  .map((f) => ({ file: f, dash: JSON.parse(fs.readFileSync(path.join(DIR, f), 'utf8')) }));

const DS_VARS = { prometheus: 'datasource', loki: 'loki' };
// What the tests substitute: $iface as a two-value multi-select, so the regex form is used;
// namespace and pod as All, which Grafana writes as their allValue, unescaped.
const testVars = (iface, instance) => ({ iface: [iface, '/unknown'], instance: [instance],
  namespace: '.*', pod: '.*', log_job: 'traceiface' });
// A namespace no pod can have (Kubernetes names never hold '/'): a query that depends on
// $namespace must then offer nothing.
const NO_NAMESPACE = '/none';
// How a LogQL query filters by pod: under names of its own (see LOG in generate.js).
const LOKI_POD = '| json tif_namespace="namespace", tif_pod="pod" | ' +
  'tif_namespace=~"$namespace" | tif_pod=~"$pod"';

function targetsOf(dash, type) {
  const out = [];
  for (const p of V.allPanels(dash)) {
    for (const t of p.targets || []) {
      const ds = t.datasource || p.datasource || {};
      if (ds.type === type) out.push({ panel: p, target: t });
    }
  }
  return out;
}

if (process.argv[2] === '--promql') {
  const vars = testVars(process.argv[3], process.argv[4]);
  for (const { file, dash } of dashboards) {
    for (const { panel, target } of targetsOf(dash, 'prometheus')) {
      console.log(JSON.stringify({ dashboard: file, panel: panel.title, refId: target.refId,
        expr: V.substitute(target.expr, vars) }));
    }
  }
  process.exit(0);
}
if (process.argv[2] === '--var-queries') {
  // Each with namespace/pod at All; where there is a namespace variable, the ones after it
  // (pod, iface) once more with a namespace no pod has ("none": true): they must offer nothing.
  const all = { instance: [process.argv[3]], namespace: '.*', pod: '.*' };
  for (const { file, dash } of dashboards) {
    const list = dash.templating.list;
    const ns = list.findIndex((x) => x.name === 'namespace');
    for (const v of list.filter((x) => x.type === 'query')) {
      const m = /^label_values\((.*),\s*(\w+)\)$/.exec(v.query.query);
      if (!m) throw new Error(`${file}: variable ${v.name}: not label_values(): ${v.query.query}`);
      const line = { dashboard: file, name: v.name, label: m[2] };
      console.log(JSON.stringify({ ...line, match: V.substitute(m[1], all) }));
      if (ns >= 0 && list.indexOf(v) > ns) {
        console.log(JSON.stringify({ ...line, none: true,
          match: V.substitute(m[1], { ...all, namespace: [NO_NAMESPACE] }) }));
      }
    }
  }
  process.exit(0);
}

if (!fs.existsSync(path.join(MOD, '@grafana/lezer-logql'))) {
  // ctest's SKIP_RETURN_CODE 77 outside CI; in CI a missing install is a failure.
  console.log('SKIP: tests/js/node_modules missing (scripts/install-deps.sh runs npm ci)');
  process.exit(process.env.CI === 'true' ? 1 : 77);
}
const { parser } = require(path.join(MOD, '@grafana/lezer-logql'));
let passed = 0;
const failures = [];
function check(ok, what) {
  if (ok) passed++;
  else failures.push(what);
}

// namespace/pod: All must match the empty value (host devices, host-only nodes); pod follows
// namespace; iface follows both, and its All is the offered list so that it stays narrowed.
function checkPodVars(file, order, vars) {
  const full = (re, v) => new RegExp(`^(?:${re})$`).test(v);
  for (const name of ['namespace', 'pod']) {
    const v = vars[name];
    check(v && v.multi && v.includeAll && typeof v.allValue === 'string' &&
      full(v.allValue, '') && full(v.allValue, 'shop') && v.current.value[0] === '$__all',
    `${file}: ${name} must be multi-select, All by default, All matching "" and any name`);
    check(v && /^label_values\(traceiface_interface_info\{[^}]*instance=~"\$instance"/
      .test(v.query.query), `${file}: ${name} must come from traceiface_interface_info`);
  }
  check(vars.pod && /namespace=~"\$namespace"/.test(vars.pod.query.query),
    `${file}: pod must depend on namespace`);
  const q = vars.iface ? vars.iface.query.query : '';
  check(vars.iface && vars.iface.multi && vars.iface.includeAll && vars.iface.allValue === null &&
    /interface_info/.test(q) && /namespace=~"\$namespace"/.test(q) && /pod=~"\$pod"/.test(q) &&
    /instance=~"\$instance"/.test(q),
  `${file}: iface must follow instance, namespace and pod, with All = the offered list`);
  check(order.indexOf('namespace') < order.indexOf('pod') &&
    order.indexOf('pod') < order.indexOf('iface'), `${file}: variable order namespace, pod, iface`);
}

// Error nodes (⚠) in the lezer tree, as "offset: text".
function logqlErrors(expr) {
  const errs = [];
  parser.parse(expr).iterate({ enter: (n) => {
    if (n.type.isError) errs.push(`${n.from}: '${expr.slice(n.from, n.from + 20)}'`);
  } });
  return errs;
}
// The checker must be able to fail: queries Loki would refuse must give error nodes.
for (const bad of ['{job="x"} | json | iface=~', '{job="x"} |= | json',
  'sum by (iface) (count_over_time({job="x"} | json [5m])']) {
  check(logqlErrors(bad).length > 0, `lezer-logql accepted the broken query ${bad}`);
}

try {
  execFileSync('node', [path.join(DIR, 'src/generate.js'), '--check'], { stdio: 'inherit' });
  check(true);
} catch {
  check(false, 'dashboards/*.json are not what dashboards/src/generate.js makes');
}

for (const { file, dash } of dashboards) {
  const at = (p) => `${file}: panel ${p.id} "${p.title}"`;
  check(dash.schemaVersion >= 36 && dash.schemaVersion <= 41, `${file}: schemaVersion`);
  check(typeof dash.uid === 'string' && /^[\w-]{1,40}$/.test(dash.uid), `${file}: uid`);
  check(dash.id === null, `${file}: id must be null for provisioning`);
  const vars = Object.fromEntries(dash.templating.list.map((v) => [v.name, v]));
  for (const [type, name] of Object.entries(DS_VARS)) {
    if (name in vars) check(vars[name].type === 'datasource' && vars[name].query === type,
      `${file}: variable ${name} must be a ${type} datasource variable`);
  }
  check(vars.datasource, `${file}: no Prometheus datasource variable`);
  check(vars.instance && vars.instance.multi && vars.instance.datasource.uid === '${datasource}',
    `${file}: instance variable`);
  if (file === 'traceiface.json') {
    check(vars.loki, `${file}: no Loki datasource variable`);
    checkPodVars(file, dash.templating.list.map((v) => v.name), vars);
  }

  const panels = V.allPanels(dash);
  const ids = panels.map((p) => p.id);
  check(new Set(ids).size === ids.length && ids.every(Number.isInteger), `${file}: panel ids`);
  const boxes = [];
  for (const p of panels) {
    const g = p.gridPos || {};
    const sane = [g.x, g.y, g.w, g.h].every(Number.isInteger) && g.x >= 0 && g.y >= 0 &&
      g.w >= 1 && g.h >= 1 && g.x + g.w <= 24 && (p.type !== 'row' || (g.w === 24 && g.h === 1));
    check(sane, `${at(p)}: gridPos ${JSON.stringify(g)}`);
    for (const b of boxes) {
      const overlap = g.x < b.x + b.w && b.x < g.x + g.w && g.y < b.y + b.h && b.y < g.y + g.h;
      check(!overlap, `${at(p)}: overlaps panel ${b.id}`);
    }
    boxes.push({ ...g, id: p.id });
    if (p.type === 'row') continue;
    const ds = p.datasource || {};
    check(DS_VARS[ds.type] && ds.uid === `\${${DS_VARS[ds.type]}}` && vars[DS_VARS[ds.type]],
      `${at(p)}: datasource ${JSON.stringify(ds)} is not a template variable`);
    check((p.targets || []).length > 0, `${at(p)}: no targets`);
    for (const t of p.targets || []) {
      check(JSON.stringify(t.datasource) === JSON.stringify(ds),
        `${at(p)} ${t.refId}: target datasource differs from the panel's`);
      for (const v of V.referencedVars(t.expr)) {
        check(v in vars || v in V.BUILTIN, `${at(p)}: unknown variable $${v}`);
      }
      if (ds.type === 'prometheus' && p.type !== 'stat' && /histogram_quantile.*_(rtt|connect_latency)_seconds/
        .test(t.expr)) check(t.exemplar === true, `${at(p)} ${t.refId}: latency without exemplars`);
      for (const m of t.expr.matchAll(/(.{0,3})\$\{?(\w+)/g)) {
        if (vars[m[2]] && vars[m[2]].multi) check(m[1].endsWith('=~"'),
          `${at(p)}: $${m[2]} is multi-select and must be matched with =~`);
      }
      if (ds.type === 'loki' && /\$iface/.test(t.expr)) check(t.expr.includes(LOKI_POD),
        `${at(p)} ${t.refId}: LogQL on $iface must also filter by $namespace and $pod`);
    }
    if (p.repeat) check(p.repeat in vars, `${at(p)}: repeats over unknown ${p.repeat}`);
  }
  check(!panels.some((p) => p.type === 'row') || panels[0].type === 'row',
    `${file}: panels before the first row`);

  for (const { panel, target } of targetsOf(dash, 'loki')) {
    const expr = V.substitute(target.expr, testVars('veth3a9f', 'node-1'));
    const errs = logqlErrors(expr);
    check(errs.length === 0, `${at(panel)}: LogQL does not parse: ${expr}: ${errs.join(', ')}`);
  }
}
const lokiCount = dashboards.reduce((n, d) => n + targetsOf(d.dash, 'loki').length, 0);
check(lokiCount >= 3, `only ${lokiCount} LogQL queries found`);

for (const f of failures) console.error(`FAIL: ${f}`);
console.log(`dashboards: ${lokiCount} LogQL queries parsed; ${passed} checks passed, ` +
  `${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
