#!/usr/bin/env node
// chart_pod.js RENDERED.yaml: the DaemonSet's pod as tests/image/image_pod_test.sh runs it
// through CRI, read from the chart as rendered (tests/helm/render), as JSON on stdout:
//   {hostNetwork, terminationGracePeriodSeconds, containers: [{name, init, image, command, args, env, runAsUser, runAsGroup,
//     runAsNonRoot, privileged, noNewPrivs, readOnlyRootFilesystem, capAdd, capDrop, seccomp,
//     mounts: [{hostPath | configMap, containerPath, readOnly, propagation}]}],
//    configMaps: {name: {key: text}}}
// Init containers first, in order. What the kubelet would derive is derived here the same
// way: noNewPrivs = allowPrivilegeEscalation === false; propagation private, rslave
// (HostToContainer) or rshared (Bidirectional); fieldRef env vars become placeholders.
'use strict';
const fs = require('fs');
const path = require('path');
const yaml = require(path.resolve(__dirname, '../js/node_modules/js-yaml'));

const objs = yaml.loadAll(fs.readFileSync(process.argv[2], 'utf8')).filter((o) => o);
const dss = objs.filter((o) => o.kind === 'DaemonSet');
if (dss.length !== 1) throw new Error(`want one DaemonSet, found ${dss.length}`);
const pod = dss[0].spec.template.spec;
const vols = Object.fromEntries((pod.volumes || []).map((v) => [v.name, v]));
const PROP = { undefined: 'private', None: 'private', HostToContainer: 'rslave',
  Bidirectional: 'rshared' };

function container(c, init) {
  const sc = c.securityContext || {};
  const caps = sc.capabilities || {};
  const mounts = (c.volumeMounts || []).map((m) => {
    const v = vols[m.name];
    if (!v) throw new Error(`${c.name}: volume ${m.name} not in the pod`);
    if (!(m.mountPropagation in PROP)) throw new Error(`propagation ${m.mountPropagation}`);
    const out = { containerPath: m.mountPath, readOnly: !!m.readOnly,
      propagation: PROP[m.mountPropagation] };
    if (v.hostPath) out.hostPath = v.hostPath.path;
    else if (v.configMap) out.configMap = v.configMap.name;
    else throw new Error(`${c.name}: volume ${m.name}: neither hostPath nor configMap`);
    return out;
  });
  const env = {};
  for (const e of c.env || []) env[e.name] = e.value !== undefined ? e.value : `<${e.name}>`;
  return {
    name: c.name, init, image: c.image, command: c.command || [], args: c.args || [], env,
    runAsUser: sc.runAsUser, runAsGroup: sc.runAsGroup, runAsNonRoot: sc.runAsNonRoot,
    privileged: !!sc.privileged, noNewPrivs: sc.allowPrivilegeEscalation === false,
    readOnlyRootFilesystem: !!sc.readOnlyRootFilesystem, capAdd: caps.add || [],
    capDrop: caps.drop || [], seccomp: sc.seccompProfile ? sc.seccompProfile.type : null,
    mounts,
  };
}

const configMaps = {};
for (const o of objs.filter((x) => x.kind === 'ConfigMap')) configMaps[o.metadata.name] = o.data;
process.stdout.write(JSON.stringify({
  hostNetwork: !!pod.hostNetwork,
  terminationGracePeriodSeconds: pod.terminationGracePeriodSeconds,
  containers: [...(pod.initContainers || []).map((c) => container(c, true)),
    ...pod.containers.map((c) => container(c, false))],
  configMaps,
}, null, 1) + '\n');
