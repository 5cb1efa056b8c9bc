// Template-variable substitution the way Grafana does it, for the dashboard tests.
// Multi-value variables become a regex: each value escaped, joined by '|', in parentheses
// when there is more than one (Grafana's Prometheus and Loki data sources both escape regex
// metacharacters with a doubled backslash, since the value lands in a double-quoted string).
'use strict';

const BUILTIN = {
  __rate_interval: '30s', __interval: '15s', __auto: '1m', __range: '5m',
  __range_s: '300', __interval_ms: '15000',
};

function regexEscape(v) {
  return v.replace(/[\\^$*+?.()|{}[\]]/g, '\\\\$&');
}

function formatMulti(values) {
  const esc = values.map(regexEscape);
  return esc.length === 1 ? esc[0] : `(${esc.join('|')})`;
}

// vars: {name: string | string[]}; arrays are multi-value selections.
function substitute(expr, vars) {
  const all = { ...BUILTIN };
  for (const [k, v] of Object.entries(vars)) all[k] = Array.isArray(v) ? formatMulti(v) : v;
  const out = expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (m, a, b) => {
    const name = a || b;
    if (!(name in all)) throw new Error(`unknown template variable ${m} in: ${expr}`);
    return all[name];
  });
  return out;
}

// Every $name / ${name} an expression uses.
function referencedVars(expr) {
  return [...expr.matchAll(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g)].map((m) => m[1] || m[2]);
}

// All panels, including those nested in collapsed rows.
function allPanels(dash) {
  const out = [];
  for (const p of dash.panels || []) {
    out.push(p);
    for (const c of p.panels || []) out.push(c);
  }
  return out;
}

module.exports = { BUILTIN, regexEscape, formatMulti, substitute, referencedVars, allPanels };
