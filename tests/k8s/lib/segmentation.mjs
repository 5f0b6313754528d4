// The service's contract with its cluster manifests (k8s/README.md, "overlays/cluster"): the settings each role needs,
// the Orleans Kubernetes hosting prerequisites, shutdown timing, GPU scheduling, and who may reach whom.
// Pods whose containers set no Segmentation__Roles (the embedded base) are not cluster roles and only meet the
// generic checks.
import {
  containerPort, environmentOf, hostPort, named, nameOf, podLabelsOf, podSpecOf, podTemplates, selects, timeSpanSeconds,
  matches,
} from "./objects.mjs";

const knownRoles = new Set(["gateway", "silo", "inference"]);
const loopbackHosts = new Set(["127.0.0.1", "localhost", "[::1]"]);
// What Orleans' Kubernetes hosting does with pods: reads and watches the silos' pods, patches its own.
const kubernetesHostingVerbs = ["get", "watch", "list", "patch"];
// SiloOptions.DeactivationTimeout when the setting is absent.
const defaultDeactivationSeconds = 60;

/** The app container of a pod template and its resolved environment, or undefined when it is no cluster role. */
export function appOf(object, all) {
  for (const container of podSpecOf(object)?.containers ?? []) {
    const env = environmentOf(container, all);
    if (env.has("Segmentation__Roles")) {
      const roles = new Set(String(env.get("Segmentation__Roles").value ?? "").split(",").map((r) => r.trim()).filter(Boolean));
      return { container, env, roles };
    }
  }
  return undefined;
}

/** "gateway", "silo" (silos and inference silos), "postgres", or undefined for anything else. */
export function tierOf(object, all) {
  const app = appOf(object, all);
  if (app) return app.roles.has("silo") ? "silo" : app.roles.has("gateway") ? "gateway" : undefined;
  const postgres = (podSpecOf(object)?.containers ?? []).some((c) => /^([^/]+\/)*postgres(:|@|$)/.test(String(c.image ?? "")));
  return postgres ? "postgres" : undefined;
}

// A TimeSpan setting in seconds; NaN (and an error) when it does not parse.
function timeSpan(name, text, errors) {
  const seconds = timeSpanSeconds(text);
  if (text && Number.isNaN(seconds)) errors.push(`${name} '${text}' is not a TimeSpan (hh:mm:ss)`);
  return seconds;
}

export function segmentationErrors(object, all) {
  if (!podSpecOf(object)) return [];
  const tier = tierOf(object, all);
  const errors = [];
  const app = appOf(object, all);
  if (app) errors.push(...settingErrors(object, app, all));
  if (tier) errors.push(...reachabilityErrors(object, tier, all));
  return errors;
}

function settingErrors(object, { container, env, roles }, all) {
  const errors = [];
  const spec = podSpecOf(object);
  const value = (name) => env.get(name)?.value;
  const need = (name) => {
    const v = value(name);
    if (v === undefined || v === "") errors.push(`${name} is not set (or resolves to nothing)`);
    return v;
  };
  for (const role of roles) {
    if (!knownRoles.has(role)) errors.push(`Segmentation__Roles names '${role}'; the roles are gateway, silo and inference`);
  }
  if (roles.size === 0) errors.push("Segmentation__Roles is empty");
  if (roles.has("inference") && !roles.has("silo")) errors.push("Segmentation__Roles: inference runs in a silo ('silo,inference')");

  // The gRPC listener: a declared port, and the probes' target.
  const listen = hostPort(need("Segmentation__Listen"));
  if (value("Segmentation__Listen") && !listen) {
    errors.push(`Segmentation__Listen '${value("Segmentation__Listen")}' is not host:port`);
  }
  if (listen && !(container.ports ?? []).some((p) => p.containerPort === listen.port)) {
    errors.push(`Segmentation__Listen port ${listen.port} is not a declared container port`);
  }
  for (const probe of ["readinessProbe", "livenessProbe"]) {
    if (listen && container[probe]?.grpc?.port !== listen.port) {
      errors.push(`${probe} is not a gRPC probe on the Segmentation__Listen port ${listen.port}`);
    }
  }

  // The dashboard has no authentication: loopback (port-forward) only, or at least on no port a Service exposes.
  const admin = hostPort(value("Segmentation__AdminListen"));
  if (admin && !loopbackHosts.has(admin.host)) {
    for (const service of all.filter((o) => o.kind === "Service" && matches(o.spec?.selector, podLabelsOf(object)))) {
      for (const port of service.spec?.ports ?? []) {
        if (containerPort(spec, port.targetPort ?? port.port)?.containerPort === admin.port) {
          errors.push(`Segmentation__AdminListen port ${admin.port} is exposed by ${nameOf(service)} (the dashboard has no authentication)`);
        }
      }
    }
  }

  const clusterId = need("Segmentation__Cluster__ClusterId");
  const serviceId = need("Segmentation__Cluster__ServiceId");
  for (const other of podTemplates(all).filter((o) => o !== object)) {
    const theirs = appOf(other, all)?.env;
    if (!theirs) continue;
    for (const [name, mine] of [["Segmentation__Cluster__ClusterId", clusterId], ["Segmentation__Cluster__ServiceId", serviceId]]) {
      if (mine !== undefined && theirs.get(name)?.value !== undefined && theirs.get(name).value !== mine) {
        errors.push(`${name} '${mine}' differs from ${nameOf(other)}'s '${theirs.get(name).value}' (one cluster)`);
      }
    }
  }

  need("OTEL_SERVICE_NAME");
  const endpoint = need("OTEL_EXPORTER_OTLP_ENDPOINT");
  if (endpoint && !/^https?:\/\/[^/\s]+/.test(endpoint)) errors.push(`OTEL_EXPORTER_OTLP_ENDPOINT '${endpoint}' is not an http(s) URL`);

  // Graceful termination: Kubernetes kills the process after the grace period, whatever the host is still doing.
  const grace = spec.terminationGracePeriodSeconds ?? 30;
  const shutdown = timeSpan("Segmentation__ShutdownTimeout", need("Segmentation__ShutdownTimeout"), errors);
  if (shutdown >= grace) errors.push(`terminationGracePeriodSeconds ${grace} is not longer than Segmentation__ShutdownTimeout (${shutdown} s)`);

  // Every role is an Orleans silo (a gateway hosts no user grains, but joins the membership all the same).
  errors.push(...memberErrors(object, container, env, { clusterId, serviceId }, all));
  if (roles.has("silo")) errors.push(...grainHandOffErrors(env, grace));
  if (roles.has("inference")) errors.push(...inferenceErrors(object, container, env));
  return errors;
}

// What every process of the cluster needs as an Orleans silo: membership and storage in PostgreSQL (the host checks
// its store at start), the connection string from the Secret, the advertised pod IP and a declared silo port, Orleans'
// Kubernetes hosting (its variables, labels and API access), and no Orleans client settings: nothing is a client.
function memberErrors(object, container, env, { clusterId, serviceId }, all) {
  const errors = [];
  const spec = podSpecOf(object);
  const labels = podLabelsOf(object);
  const value = (name) => env.get(name)?.value;
  for (const [name, expected] of [["Segmentation__Cluster__Membership", "postgres"], ["Segmentation__Storage__Provider", "postgres"]]) {
    if (value(name) !== expected) errors.push(`${name} is '${value(name) ?? ""}', not '${expected}'`);
  }
  const connection = env.get("ConnectionStrings__Segmentation");
  if (!connection?.secret) errors.push("ConnectionStrings__Segmentation does not come from a Secret");
  else if (connection.value) errors.push(...connectionStringErrors(connection.value, all));

  // Orleans' Kubernetes hosting: the downward API, and the cluster identity three ways that must agree.
  const downward = [
    ["POD_NAME", "metadata.name"], ["POD_NAMESPACE", "metadata.namespace"], ["POD_IP", "status.podIP"],
    ["Segmentation__Cluster__AdvertisedAddress", "status.podIP"],
  ];
  for (const [variable, fieldPath] of downward) {
    if (env.get(variable)?.fieldPath !== fieldPath) errors.push(`${variable} is not the downward API's ${fieldPath}`);
  }
  const identity = [
    ["ORLEANS_CLUSTER_ID", "orleans/clusterId", clusterId, "Segmentation__Cluster__ClusterId"],
    ["ORLEANS_SERVICE_ID", "orleans/serviceId", serviceId, "Segmentation__Cluster__ServiceId"],
  ];
  for (const [variable, label, id, setting] of identity) {
    if (value(variable) !== id) errors.push(`${variable} '${value(variable) ?? ""}' is not ${setting} '${id}'`);
    if (labels[label] !== id) errors.push(`pod label ${label} '${labels[label] ?? ""}' is not ${setting} '${id}'`);
  }
  const siloPort = Number(value("Segmentation__Silo__SiloPort"));
  if (!Number.isInteger(siloPort) || siloPort <= 0) {
    errors.push(`Segmentation__Silo__SiloPort '${value("Segmentation__Silo__SiloPort") ?? ""}' is not a port number`);
  } else if (containerPort(spec, siloPort) === undefined) {
    errors.push(`Segmentation__Silo__SiloPort ${siloPort} is not a declared container port`);
  }
  // Orleans client settings: no process is a client any more, so a gateway port would only be one more open port.
  const gatewayPort = value("Segmentation__Silo__GatewayPort");
  if (gatewayPort !== undefined && gatewayPort !== "" && Number(gatewayPort) !== 0) {
    errors.push(`Segmentation__Silo__GatewayPort is ${gatewayPort}: no Orleans client uses it (gateways are silos); leave it unset`);
  }
  if (env.has("Segmentation__Cluster__Gateways")) {
    errors.push("Segmentation__Cluster__Gateways is set: it is for Orleans clients, and gateways are silos that find the cluster in the membership table");
  }

  errors.push(...dataDirectoryErrors(spec, container, value("Segmentation__DataDirectory")));
  errors.push(...kubernetesHostingAccessErrors(object, all));
  return errors;
}

// Grains hand off at shutdown: each deactivation (a snapshot write) must fit in the grace period.
function grainHandOffErrors(env, grace) {
  const errors = [];
  const name = "Segmentation__Silo__DeactivationTimeout";
  const text = env.get(name)?.value;
  const deactivation = text === undefined ? defaultDeactivationSeconds : timeSpan(name, text, errors);
  if (deactivation >= grace) errors.push(`terminationGracePeriodSeconds ${grace} is not longer than ${name} (${deactivation} s)`);
  return errors;
}

// The host creates its data folder at start, whatever the storage: on a read-only root filesystem it must be (inside)
// a mounted volume.
function dataDirectoryErrors(spec, container, directory) {
  if (!directory) return ["Segmentation__DataDirectory is not set (the default ./data is relative to the image's working directory)"];
  if (!directory.startsWith("/")) return [`Segmentation__DataDirectory '${directory}' is not an absolute path`];
  const readOnly = container.securityContext?.readOnlyRootFilesystem === true;
  const mounted = (container.volumeMounts ?? []).some((m) => !m.readOnly
    && (directory === m.mountPath || directory.startsWith(`${m.mountPath.replace(/\/$/, "")}/`)));
  return readOnly && !mounted
    ? [`Segmentation__DataDirectory '${directory}' is on the read-only root filesystem (mount a volume there)`]
    : [];
}

// The pod's service account must be bound to a Role that lets Orleans' Kubernetes hosting read, watch and patch pods,
// with its token mounted.
function kubernetesHostingAccessErrors(object, all) {
  const spec = podSpecOf(object);
  const accountName = spec.serviceAccountName ?? "default";
  const account = named(all, "ServiceAccount", accountName);
  const errors = [];
  if ((spec.automountServiceAccountToken ?? account?.automountServiceAccountToken) === false) {
    errors.push(`ServiceAccount '${accountName}' token is not mounted (Kubernetes hosting calls the API)`);
  }
  const granted = new Set();
  for (const binding of all.filter((o) => o.kind === "RoleBinding")) {
    if (!(binding.subjects ?? []).some((s) => s.kind === "ServiceAccount" && s.name === accountName)) continue;
    const role = binding.roleRef?.kind === "Role" ? named(all, "Role", binding.roleRef.name) : undefined;
    for (const rule of role?.rules ?? []) {
      if ((rule.apiGroups ?? []).includes("") && (rule.resources ?? []).some((r) => r === "pods" || r === "*")) {
        for (const verb of rule.verbs ?? []) granted.add(verb);
      }
    }
  }
  const missing = kubernetesHostingVerbs.filter((v) => !granted.has(v) && !granted.has("*"));
  if (missing.length > 0) {
    errors.push(`ServiceAccount '${accountName}' is not granted pods ${missing.join("/")} by a rendered Role `
      + `(Orleans' Kubernetes hosting needs ${kubernetesHostingVerbs.join("/")})`);
  }
  return errors;
}

// A connection string naming a Service of this rendering (a bare name) must name one that serves its port.
function connectionStringErrors(text, all) {
  const pairs = new Map(text.split(";").map((p) => p.split("=")).filter((p) => p.length >= 2)
    .map(([key, ...value]) => [key.trim().toLowerCase(), value.join("=").trim()]));
  const host = pairs.get("host") ?? pairs.get("server");
  if (!host) return ["ConnectionStrings__Segmentation names no Host"];
  if (host.includes(".") || host.includes(",")) return [];
  const service = named(all, "Service", host);
  const port = Number(pairs.get("port") ?? 5432);
  if (!service) {
    return [`ConnectionStrings__Segmentation Host '${host}' is not a rendered Service (an external database needs its full name)`];
  }
  if (!(service.spec?.ports ?? []).some((p) => p.port === port)) {
    return [`ConnectionStrings__Segmentation port ${port} is not a port of ${nameOf(service)}`];
  }
  return [];
}

function inferenceErrors(object, container, env) {
  const errors = [];
  const spec = podSpecOf(object);
  const device = "Segmentation__Embeddings__Inference__Device";
  if (env.get(device)?.value !== "cuda") errors.push(`${device} is not 'cuda'`);
  // Extended resources are scheduled by their limit (a request must equal it).
  const gpus = Number(container.resources?.limits?.["nvidia.com/gpu"] ?? 0);
  if (!(gpus >= 1)) errors.push(`container ${container.name} requests no nvidia.com/gpu (resources.limits)`);
  if (Object.keys(spec.nodeSelector ?? {}).length === 0 && !spec.affinity?.nodeAffinity) {
    errors.push("no nodeSelector or node affinity for GPU nodes");
  }
  const tolerated = (spec.tolerations ?? []).some((t) => t.key === "nvidia.com/gpu" || (t.operator === "Exists" && t.key === undefined));
  if (!tolerated) errors.push("no toleration for the nvidia.com/gpu taint of GPU nodes");
  return errors;
}

// NetworkPolicy semantics, ingress only: a pod no policy selects admits everything; otherwise a connection is admitted
// when some rule of some selecting policy admits its source and port. `source` is a pod template or OUTSIDE (anything
// this rendering does not run: other namespaces, the internet).
export const OUTSIDE = Symbol("outside");

export function admits(destination, port, source, all) {
  const labels = podLabelsOf(destination);
  const policies = all.filter((o) => o.kind === "NetworkPolicy"
    && (o.spec?.policyTypes ?? ["Ingress"]).includes("Ingress")
    && selects(o.spec?.podSelector, labels, { emptyMatchesAll: true }));
  if (policies.length === 0) return true;
  return policies.some((policy) => (policy.spec?.ingress ?? []).some((rule) => {
    const fromOk = (rule.from ?? []).length === 0 || rule.from.some((peer) => {
      // A namespace selector or an address block lets in what lives outside this rendering (and may include it).
      if (peer.ipBlock || peer.namespaceSelector) return true;
      return source !== OUTSIDE && selects(peer.podSelector, podLabelsOf(source), { emptyMatchesAll: true });
    });
    const portOk = (rule.ports ?? []).length === 0 || rule.ports.some((p) => {
      if ((p.protocol ?? "TCP") !== (port.protocol ?? "TCP")) return false;
      if (p.port === undefined) return true;
      if (typeof p.port === "string") return p.port === port.name;
      return p.endPort === undefined ? p.port === port.containerPort : port.containerPort >= p.port && port.containerPort <= p.endPort;
    });
    return fromOk && portOk;
  }));
}

// Who may reach whom (issue 12): only the cluster's processes (silos, inference silos, gateways: every one an Orleans
// silo) and PostgreSQL's own pods reach PostgreSQL, and every process needs to (membership); only the cluster's
// processes reach its silos' ports, and each needs every other's silo port (Orleans silos talk both ways); the
// gateways' gRPC port is open to the outside. Reported on the destination.
function reachabilityErrors(object, tier, all) {
  const errors = [];
  const tiers = new Map(podTemplates(all).map((o) => [o, tierOf(o, all)]));
  const app = appOf(object, all);
  const siloPort = Number(app?.env.get("Segmentation__Silo__SiloPort")?.value);
  const listenPort = hostPort(app?.env.get("Segmentation__Listen")?.value)?.port;
  const members = new Set(["silo", "gateway"]);
  for (const port of (podSpecOf(object).containers ?? []).flatMap((c) => c.ports ?? [])) {
    const what = `port ${port.containerPort}${port.name ? ` (${port.name})` : ""}`;
    if (tier === "gateway" && port.containerPort === listenPort) {
      if (!admits(object, port, OUTSIDE, all)) errors.push(`${what} is closed to clients outside the namespace (the gateways are the front door)`);
      continue;
    }
    const allowed = tier === "postgres" ? new Set([...members, "postgres"]) : members;
    const rule = tier === "postgres"
      ? "only the cluster's processes (silos, gateways) may reach PostgreSQL"
      : "only the cluster's processes (silos, gateways) may reach a silo's ports";
    if (admits(object, port, OUTSIDE, all)) errors.push(`${what} admits traffic from outside the namespace: ${rule}`);
    for (const [source, sourceTier] of tiers) {
      const admitted = admits(object, port, source, all);
      if (admitted && !allowed.has(sourceTier)) errors.push(`${what} admits ${nameOf(source)}: ${rule}`);
      const required = members.has(sourceTier) && (tier === "postgres" || port.containerPort === siloPort);
      if (required && !admitted) errors.push(`${what} does not admit ${nameOf(source)}, which needs it`);
    }
  }
  return errors;
}
