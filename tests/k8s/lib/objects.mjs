// What the checks need to know about rendered objects: pod templates and their labels, label selectors, container
// ports, and the value each environment variable of a container resolves to.

const workloadKinds = new Set(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"]);

/** The pod spec of a workload or Pod, else undefined. */
export function podSpecOf(object) {
  return workloadKinds.has(object?.kind) ? object.spec?.template?.spec : object?.kind === "Pod" ? object.spec : undefined;
}

/** The labels its pods carry. */
export function podLabelsOf(object) {
  return (workloadKinds.has(object.kind) ? object.spec?.template?.metadata?.labels : object.metadata?.labels) ?? {};
}

/** The objects that run pods (workloads and bare Pods). */
export function podTemplates(all) {
  return all.filter((o) => podSpecOf(o));
}

export function nameOf(object) {
  return `${object?.kind}/${object?.metadata?.name}`;
}

/** A Service's or matchLabels-only selector (a plain map): matches when every pair is among the labels; empty matches nothing. */
export function matches(selector, labels) {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([key, value]) => labels[key] === value);
}

/**
 * A LabelSelector (matchLabels and matchExpressions). An empty one selects every pod of the namespace in a
 * NetworkPolicy (`emptyMatchesAll`); callers that want a selector for particular pods refuse it instead.
 */
export function selects(selector, labels, { emptyMatchesAll = false } = {}) {
  const pairs = Object.entries(selector?.matchLabels ?? {});
  const expressions = selector?.matchExpressions ?? [];
  if (pairs.length === 0 && expressions.length === 0) return emptyMatchesAll;
  return pairs.every(([key, value]) => labels[key] === value) && expressions.every((e) => {
    const has = Object.hasOwn(labels, e.key);
    switch (e.operator) {
      case "In": return has && (e.values ?? []).includes(labels[e.key]);
      case "NotIn": return !has || !(e.values ?? []).includes(labels[e.key]);
      case "Exists": return has;
      case "DoesNotExist": return !has;
      default: return false;
    }
  });
}

export function containersOf(spec) {
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
}

/** The container port a Service targetPort or NetworkPolicy port means (a number or a port name), or undefined. */
export function containerPort(spec, port) {
  for (const container of spec?.containers ?? []) {
    for (const p of container.ports ?? []) {
      if (typeof port === "string" ? p.name === port : p.containerPort === port) return p;
    }
  }
  return undefined;
}

export function named(all, kind, name) {
  return all.find((o) => o.kind === kind && o.metadata?.name === name);
}

/** The value of one key of a ConfigMap or Secret (data is base64 in a Secret, stringData plain), or undefined. */
export function keyValue(object, key) {
  if (object?.kind === "Secret") {
    if (object.stringData && Object.hasOwn(object.stringData, key)) return String(object.stringData[key]);
    if (object.data && Object.hasOwn(object.data, key)) return Buffer.from(String(object.data[key]), "base64").toString("utf8");
    return undefined;
  }
  if (object?.data && Object.hasOwn(object.data, key)) return String(object.data[key]);
  if (object?.binaryData && Object.hasOwn(object.binaryData, key)) return "";
  return undefined;
}

/**
 * The environment of a container as Kubernetes builds it: envFrom first (later sources win), then env (later entries
 * win). Each variable maps to { value } (a literal or a ConfigMap/Secret value found in the rendering), { fieldPath }
 * (downward API), { secret: {name, key} } and/or { configMap: {name, key} } where it comes from, or { unresolved }.
 */
export function environmentOf(container, all) {
  const env = new Map();
  for (const source of container.envFrom ?? []) {
    const ref = source.configMapRef ?? source.secretRef;
    const kind = source.configMapRef ? "ConfigMap" : "Secret";
    const object = named(all, kind, ref?.name);
    const entries = object ? { ...(object.data ?? {}), ...(object.stringData ?? {}) } : {};
    for (const key of Object.keys(entries)) {
      const from = { name: ref.name, key };
      env.set(`${source.prefix ?? ""}${key}`, { value: keyValue(object, key), ...(kind === "Secret" ? { secret: from } : { configMap: from }) });
    }
  }
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    if (!from) {
      env.set(variable.name, { value: variable.value ?? "" });
    } else if (from.fieldRef) {
      env.set(variable.name, { fieldPath: from.fieldRef.fieldPath });
    } else if (from.configMapKeyRef) {
      const ref = from.configMapKeyRef;
      env.set(variable.name, { value: keyValue(named(all, "ConfigMap", ref.name), ref.key), configMap: { name: ref.name, key: ref.key } });
    } else if (from.secretKeyRef) {
      const ref = from.secretKeyRef;
      env.set(variable.name, { value: keyValue(named(all, "Secret", ref.name), ref.key), secret: { name: ref.name, key: ref.key } });
    } else {
      env.set(variable.name, { unresolved: true });
    }
  }
  return env;
}

/** A .NET TimeSpan in configuration syntax ("[d.]hh:mm:ss[.fff]") in seconds, or NaN. */
export function timeSpanSeconds(text) {
  const m = /^(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2}(?:\.\d+)?)$/.exec(String(text ?? "").trim());
  if (!m) return NaN;
  return Number(m[1] ?? 0) * 86400 + Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
}

/** "host:port" → { host, port }, or undefined. */
export function hostPort(text) {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(String(text ?? "").trim());
  return m ? { host: m[1], port: Number(m[2]) } : undefined;
}
