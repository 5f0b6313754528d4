// References between rendered Kubernetes objects that the schemas cannot see and that would break a deployment: the
// API server accepts every one of these mistakes and the failure shows only later (a Service without endpoints, a pod
// stuck in CreateContainerConfigError, an autoscaler that never scales, a policy that isolates nothing).
import {
  containerPort, containersOf, environmentOf, keyValue, matches, named, nameOf, podLabelsOf, podSpecOf, podTemplates,
  selects,
} from "./objects.mjs";

/** The errors of one object against the whole rendering. */
export function referenceErrors(object, all) {
  const errors = [];
  if (podSpecOf(object)) errors.push(...workloadErrors(object, all));
  if (object.kind === "Service") errors.push(...serviceErrors(object, all));
  if (object.kind === "HorizontalPodAutoscaler") errors.push(...autoscalerErrors(object, all));
  if (object.kind === "PodDisruptionBudget") errors.push(...budgetErrors(object, all));
  if (object.kind === "NetworkPolicy") errors.push(...networkPolicyErrors(object, all));
  if (object.kind === "RoleBinding") errors.push(...roleBindingErrors(object, all));
  return errors;
}

function workloadErrors(object, all) {
  const errors = [];
  const spec = podSpecOf(object);
  const labels = podLabelsOf(object);
  if (object.kind !== "Pod" && object.kind !== "Job" && !matches(object.spec?.selector?.matchLabels, labels)) {
    errors.push("spec.selector.matchLabels does not match the pod template's labels");
  }
  if (object.kind === "StatefulSet") {
    const service = named(all, "Service", object.spec?.serviceName);
    if (!service) errors.push(`serviceName '${object.spec?.serviceName}' is not a rendered Service`);
    else if (service.spec?.clusterIP !== "None") errors.push(`serviceName '${service.metadata.name}' is not headless (clusterIP: None)`);
  }
  const account = spec.serviceAccountName;
  if (account && account !== "default" && !named(all, "ServiceAccount", account)) {
    errors.push(`serviceAccountName '${account}' is not a rendered ServiceAccount`);
  }
  const volumes = new Set([
    ...(spec.volumes ?? []).map((v) => v.name),
    ...(object.spec?.volumeClaimTemplates ?? []).map((c) => c.metadata?.name),
  ]);
  for (const volume of spec.volumes ?? []) {
    if (volume.configMap) errors.push(...sourceErrors(all, "ConfigMap", volume.configMap.name, volume.configMap.optional, `volume ${volume.name}`));
    if (volume.secret) errors.push(...sourceErrors(all, "Secret", volume.secret.secretName, volume.secret.optional, `volume ${volume.name}`));
  }
  for (const container of containersOf(spec)) {
    const where = `container ${container.name}`;
    const declared = (port) => (container.ports ?? []).some((p) => p.containerPort === port || (typeof port === "string" && p.name === port));
    for (const mount of container.volumeMounts ?? []) {
      if (!volumes.has(mount.name)) errors.push(`${where}: volumeMount '${mount.name}' names no volume or claim template`);
    }
    for (const probeName of ["startupProbe", "readinessProbe", "livenessProbe"]) {
      const probe = container[probeName];
      const port = probe?.grpc?.port ?? probe?.httpGet?.port ?? probe?.tcpSocket?.port;
      if (probe && port !== undefined && !declared(port)) errors.push(`${where}: ${probeName} port ${port} is not a declared container port`);
    }
    for (const source of container.envFrom ?? []) {
      if (source.configMapRef) errors.push(...sourceErrors(all, "ConfigMap", source.configMapRef.name, source.configMapRef.optional, `${where}: envFrom`));
      if (source.secretRef) errors.push(...sourceErrors(all, "Secret", source.secretRef.name, source.secretRef.optional, `${where}: envFrom`));
    }
    for (const variable of container.env ?? []) {
      const ref = variable.valueFrom?.configMapKeyRef ?? variable.valueFrom?.secretKeyRef;
      if (!ref) continue;
      const kind = variable.valueFrom.configMapKeyRef ? "ConfigMap" : "Secret";
      const found = sourceErrors(all, kind, ref.name, ref.optional, `${where}: env ${variable.name}`);
      errors.push(...found);
      if (found.length === 0 && !ref.optional && named(all, kind, ref.name) && keyValue(named(all, kind, ref.name), ref.key) === undefined) {
        errors.push(`${where}: env ${variable.name}: ${kind} '${ref.name}' has no key '${ref.key}' (and the reference is not optional)`);
      }
    }
    errors.push(...expansionErrors(container, all).map((e) => `${where}: ${e}`));
  }
  return errors;
}

// A ConfigMap or Secret a pod needs must be rendered, unless the reference is declared optional.
function sourceErrors(all, kind, name, optional, where) {
  return optional || named(all, kind, name) ? [] : [`${where}: ${kind} '${name}' is not rendered (and the reference is not optional)`];
}

// $(VAR) in env values, command and args expands only variables defined before it (envFrom, then earlier env
// entries); anything else stays as literal text, silently. $$( escapes.
function expansionErrors(container, all) {
  const errors = [];
  const defined = new Set([...environmentOf({ envFrom: container.envFrom }, all).keys()]);
  const references = (text) => [...String(text).matchAll(/(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g)].map((m) => m[1]);
  for (const variable of container.env ?? []) {
    for (const name of references(variable.value ?? "")) {
      if (!defined.has(name)) errors.push(`env ${variable.name}: $(${name}) is not defined before it`);
    }
    defined.add(variable.name);
  }
  for (const text of [...(container.command ?? []), ...(container.args ?? [])]) {
    for (const name of references(text)) {
      if (!defined.has(name)) errors.push(`command/args: $(${name}) is not a defined environment variable`);
    }
  }
  return errors;
}

function serviceErrors(object, all) {
  const errors = [];
  if (object.spec?.type === "ExternalName") return errors;
  const targets = podTemplates(all).filter((o) => matches(object.spec?.selector, podLabelsOf(o)));
  if (targets.length === 0) errors.push("spec.selector matches no rendered pod template");
  for (const port of object.spec?.ports ?? []) {
    const target = port.targetPort ?? port.port;
    const found = targets.some((t) => containerPort(podSpecOf(t), target));
    if (targets.length > 0 && !found) errors.push(`port ${port.name ?? port.port}: targetPort ${target} is not a port of the selected pods`);
  }
  return errors;
}

/** The workload an autoscaler scales, or undefined. */
export function scaleTarget(hpa, all) {
  const ref = hpa.spec?.scaleTargetRef ?? {};
  const group = (apiVersion) => (String(apiVersion ?? "").includes("/") ? String(apiVersion).split("/")[0] : "");
  return all.find((o) => o.kind === ref.kind && o.metadata?.name === ref.name && group(o.apiVersion) === group(ref.apiVersion));
}

function autoscalerErrors(object, all) {
  const errors = [];
  const ref = object.spec?.scaleTargetRef ?? {};
  const target = scaleTarget(object, all);
  if (!target) return [`scaleTargetRef ${ref.apiVersion} ${ref.kind}/${ref.name} is not rendered`];
  if (target.spec?.replicas !== undefined) {
    errors.push(`${nameOf(target)} sets spec.replicas: each apply resets the count the autoscaler chose (leave it out)`);
  }
  if ((object.spec?.minReplicas ?? 1) > object.spec?.maxReplicas) errors.push("minReplicas is above maxReplicas");
  // A Utilization target is a percentage of the containers' requests: without a request the autoscaler has nothing
  // to divide by and never scales.
  for (const metric of object.spec?.metrics ?? []) {
    const resource = metric.resource ?? metric.containerResource;
    if (resource?.target?.type !== "Utilization") continue;
    for (const container of podSpecOf(target)?.containers ?? []) {
      if (metric.containerResource && container.name !== metric.containerResource.container) continue;
      if (container.resources?.requests?.[resource.name] === undefined) {
        errors.push(`${resource.name} utilization target, but container ${container.name} of ${nameOf(target)} requests no ${resource.name}`);
      }
    }
  }
  return errors;
}

/** The replica count a workload runs at: its own, or its autoscaler's minimum. */
export function replicasOf(workload, all) {
  if (workload.spec?.replicas !== undefined) return workload.spec.replicas;
  const hpa = all.find((o) => o.kind === "HorizontalPodAutoscaler" && scaleTarget(o, all) === workload);
  return hpa ? hpa.spec?.minReplicas ?? 1 : 1;
}

function budgetErrors(object, all) {
  const selector = object.spec?.selector;
  const covered = podTemplates(all).filter((o) => selects(selector, podLabelsOf(o)));
  if (covered.length === 0) return ["spec.selector matches no rendered pod template"];
  const errors = [];
  // The eviction API refuses to evict a pod that more than one budget covers.
  for (const other of all.filter((o) => o.kind === "PodDisruptionBudget" && o !== object)) {
    const both = covered.filter((w) => selects(other.spec?.selector, podLabelsOf(w)));
    if (both.length > 0) errors.push(`${both.map(nameOf).join(", ")} also covered by ${nameOf(other)} (evictions then fail)`);
  }
  // A budget that allows no disruption blocks every node drain forever.
  const replicas = covered.reduce((sum, w) => sum + replicasOf(w, all), 0);
  const { minAvailable, maxUnavailable } = object.spec ?? {};
  // The disruption controller rounds percentages up, for both fields.
  const pods = (value) => (typeof value === "string" && value.endsWith("%") ? Math.ceil((replicas * Number(value.slice(0, -1))) / 100) : Number(value));
  if (maxUnavailable !== undefined && pods(maxUnavailable) < 1) {
    errors.push(`maxUnavailable ${maxUnavailable} of ${replicas} pods allows no eviction (node drains would block)`);
  }
  if (minAvailable !== undefined && pods(minAvailable) >= replicas) {
    errors.push(`minAvailable ${minAvailable} of ${replicas} pods allows no eviction (node drains would block)`);
  }
  return errors;
}

function networkPolicyErrors(object, all) {
  const errors = [];
  const pods = podTemplates(all);
  const selected = pods.filter((o) => selects(object.spec?.podSelector, podLabelsOf(o), { emptyMatchesAll: true }));
  if (selected.length === 0) errors.push("spec.podSelector matches no rendered pod template");
  for (const [direction, peersKey] of [["ingress", "from"], ["egress", "to"]]) {
    for (const [index, rule] of (object.spec?.[direction] ?? []).entries()) {
      for (const peer of rule[peersKey] ?? []) {
        // A pod selector in this namespace that selects nothing admits nobody: a typo that silently cuts traffic.
        if (peer.podSelector && !peer.namespaceSelector && !pods.some((o) => selects(peer.podSelector, podLabelsOf(o), { emptyMatchesAll: true }))) {
          errors.push(`${direction}[${index}].${peersKey}: podSelector ${JSON.stringify(peer.podSelector)} matches no rendered pod template`);
        }
      }
      // Ingress ports are the selected pods' own ports: a name they do not declare matches nothing.
      if (direction === "ingress") {
        for (const port of rule.ports ?? []) {
          if (port.port !== undefined && selected.length > 0 && !selected.some((o) => containerPort(podSpecOf(o), port.port))) {
            errors.push(`ingress[${index}]: port ${port.port} is not a container port of the selected pods`);
          }
        }
      }
    }
  }
  return errors;
}

function roleBindingErrors(object, all) {
  const errors = [];
  const ref = object.roleRef ?? {};
  if (ref.kind === "Role" && !named(all, "Role", ref.name)) errors.push(`roleRef Role '${ref.name}' is not rendered`);
  for (const subject of object.subjects ?? []) {
    if (subject.kind !== "ServiceAccount") continue;
    const account = named(all, "ServiceAccount", subject.name);
    if (!account) {
      errors.push(`subject ServiceAccount '${subject.name}' is not rendered`);
    } else if ((subject.namespace ?? object.metadata?.namespace) !== account.metadata?.namespace) {
      errors.push(`subject ServiceAccount '${subject.name}' is in namespace '${subject.namespace}', the account in '${account.metadata?.namespace}'`);
    }
  }
  return errors;
}
