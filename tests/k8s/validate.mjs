// Validates Kubernetes objects (a multi-document YAML on stdin, as `kubectl kustomize` renders it), offline:
//  1. each object against the Kubernetes JSON schema of its apiVersion/kind (npm package kubernetes-models);
//  2. the references between objects that the schema cannot see and that would break the deployment: a workload's
//     selector must match its pod labels, a StatefulSet's serviceName must name a rendered headless Service, a Service
//     must select some pods and target a port they declare, probes must target a declared port, volume mounts must
//     name a volume or claim template, envFrom must name a rendered ConfigMap.
// Prints "ok <Kind>/<name>" or "FAILED <Kind>/<name>: <errors>" per object and "k8s: N passed, M failed" last; exits 1
// on any failure. `--self-test` also breaks copies of the rendered objects in known ways (a string where an integer
// port belongs, a selector that matches nothing, ...) and checks that every broken copy is refused.
import { parseAllDocuments } from "yaml";

const modules = new Map();

async function schemaErrors(object) {
  if (typeof object?.apiVersion !== "string" || typeof object?.kind !== "string") {
    return ["apiVersion and kind are required strings"];
  }
  const [group, version] = object.apiVersion.includes("/") ? object.apiVersion.split("/") : [null, object.apiVersion];
  const path = group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`;
  if (!modules.has(path)) {
    modules.set(path, await import(path).catch(() => null));
  }
  const Model = modules.get(path)?.[object.kind];
  if (typeof Model !== "function") {
    return [`no schema for ${object.apiVersion} ${object.kind}`];
  }
  try {
    new Model(object).validate();
    return [];
  } catch (error) {
    return [error.message];
  }
}

const workloadKinds = new Set(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"]);

function podSpecOf(object) {
  return workloadKinds.has(object.kind) ? object.spec?.template?.spec : object.kind === "Pod" ? object.spec : undefined;
}

function podLabelsOf(object) {
  return (workloadKinds.has(object.kind) ? object.spec?.template?.metadata?.labels : object.metadata?.labels) ?? {};
}

function matches(selector, labels) {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([key, value]) => labels[key] === value);
}

function referenceErrors(object, all) {
  const errors = [];
  const named = (kind, name) => all.find((o) => o.kind === kind && o.metadata?.name === name);
  const spec = podSpecOf(object);
  if (spec) {
    const labels = podLabelsOf(object);
    if (object.kind !== "Pod" && object.kind !== "Job" && !matches(object.spec?.selector?.matchLabels, labels)) {
      errors.push("spec.selector.matchLabels does not match the pod template's labels");
    }
    if (object.kind === "StatefulSet") {
      const service = named("Service", object.spec?.serviceName);
      if (!service) errors.push(`serviceName '${object.spec?.serviceName}' is not a rendered Service`);
      else if (service.spec?.clusterIP !== "None") errors.push(`serviceName '${service.metadata.name}' is not headless (clusterIP: None)`);
    }
    const volumes = new Set([
      ...(spec.volumes ?? []).map((v) => v.name),
      ...(object.spec?.volumeClaimTemplates ?? []).map((c) => c.metadata?.name),
    ]);
    for (const container of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
      const ports = container.ports ?? [];
      const declared = (port) => ports.some((p) => p.containerPort === port || (typeof port === "string" && p.name === port));
      for (const mount of container.volumeMounts ?? []) {
        if (!volumes.has(mount.name)) errors.push(`container ${container.name}: volumeMount '${mount.name}' names no volume or claim template`);
      }
      for (const probeName of ["startupProbe", "readinessProbe", "livenessProbe"]) {
        const probe = container[probeName];
        const port = probe?.grpc?.port ?? probe?.httpGet?.port ?? probe?.tcpSocket?.port;
        if (probe && port !== undefined && !declared(port)) errors.push(`container ${container.name}: ${probeName} port ${port} is not a declared container port`);
      }
      for (const source of container.envFrom ?? []) {
        const ref = source.configMapRef;
        if (ref && !ref.optional && !named("ConfigMap", ref.name)) errors.push(`container ${container.name}: envFrom ConfigMap '${ref.name}' is not rendered`);
      }
    }
  }
  if (object.kind === "Service" && object.spec?.type !== "ExternalName") {
    const targets = all.filter((o) => podSpecOf(o) && matches(object.spec?.selector, podLabelsOf(o)));
    if (targets.length === 0) errors.push("spec.selector matches no rendered pod template");
    for (const port of object.spec?.ports ?? []) {
      const target = port.targetPort ?? port.port;
      const found = targets.some((t) =>
        podSpecOf(t).containers?.some((c) => (c.ports ?? []).some((p) => (typeof target === "string" ? p.name === target : p.containerPort === target))));
      if (targets.length > 0 && !found) errors.push(`port ${port.name ?? port.port}: targetPort ${target} is not a port of the selected pods`);
    }
  }
  return errors;
}

async function check(objects) {
  const results = [];
  for (const object of objects) {
    const errors = await schemaErrors(object);
    if (errors.length === 0) errors.push(...referenceErrors(object, objects));
    results.push({ name: `${object?.kind}/${object?.metadata?.name}`, errors });
  }
  return results;
}

// Each breaks one copy of the rendered objects; the validator must refuse the broken object.
const breakages = [
  ["Service port as a string", "Service", (o) => { o.spec.ports[0].port = String(o.spec.ports[0].port); }],
  ["StatefulSet replicas as a string", "StatefulSet", (o) => { o.spec.replicas = "1"; }],
  ["gRPC probe port as a name", "StatefulSet", (o) => { o.spec.template.spec.containers[0].readinessProbe.grpc.port = "grpc"; }],
  ["unknown Service type", "Service", (o) => { o.spec.type = "Internal"; }],
  ["selector not matching the pod labels", "StatefulSet", (o) => { o.spec.selector.matchLabels = { app: "other" }; }],
  ["volumeMount of an undeclared volume", "StatefulSet", (o) => { o.spec.template.spec.containers[0].volumeMounts.push({ name: "cache", mountPath: "/cache" }); }],
  ["Service targeting an undeclared port", "Service", (o) => { o.spec.ports[0].targetPort = "http"; }],
  ["probe on an undeclared port", "StatefulSet", (o) => { o.spec.template.spec.containers[0].livenessProbe.grpc.port = 5001; }],
];

async function selfTest(objects) {
  const results = [];
  for (const [description, kind, breakIt] of breakages) {
    const copy = structuredClone(objects);
    const target = copy.find((o) => o.kind === kind);
    let refused = false;
    try {
      breakIt(target);
      const broken = (await check(copy)).find((r) => r.name === `${target.kind}/${target.metadata.name}`);
      refused = broken.errors.length > 0;
    } catch (error) {
      results.push({ name: `self-test: ${description}`, errors: [`could not apply: ${error.message}`] });
      continue;
    }
    results.push({ name: `self-test: ${description} refused`, errors: refused ? [] : ["the broken object was accepted"] });
  }
  return results;
}

const input = await new Promise((resolve, reject) => {
  let text = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
  process.stdin.on("error", reject);
});

const results = [];
const documents = parseAllDocuments(input);
const objects = [];
for (const document of documents) {
  if (document.errors.length > 0) results.push({ name: "YAML", errors: document.errors.map((e) => e.message) });
  else if (document.contents !== null) objects.push(document.toJSON());
}
if (objects.length === 0) results.push({ name: "input", errors: ["no objects rendered"] });
results.push(...(await check(objects)));
if (process.argv.includes("--self-test")) results.push(...(await selfTest(objects)));

let passed = 0;
let failed = 0;
for (const { name, errors } of results) {
  if (errors.length === 0) {
    console.log(`ok ${name}`);
    passed++;
  } else {
    console.log(`FAILED ${name}: ${errors.join("; ")}`);
    failed++;
  }
}
console.log(`k8s: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
