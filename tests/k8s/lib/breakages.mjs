// The self-test: each entry changes a copy of one rendering. A breakage must be refused — with `expect` given, by an
// error containing it (so the intended check fired, not an incidental one); without, by any error of the changed
// object. A variant whose `expect` is `accepted` is a legitimate change (an optional reference, the external database) that must
// pass cleanly.
//   [rendering, description, [kind, name?], change(target, objects), expect?]

const base = "k8s/base";
const cluster = "k8s/overlays/cluster";

const app = (o) => o.spec.template.spec.containers[0];
const env = (o, name) => app(o).env.find((e) => e.name === name);
const remove = (objects, o) => objects.splice(objects.indexOf(o), 1);

/** The `expect` of a variant that must pass. */
export const accepted = Symbol("accepted");

export const breakages = [
  // k8s/base: schemas and the generic references.
  [base, "Service port as a string", ["Service"], (o) => { o.spec.ports[0].port = String(o.spec.ports[0].port); }],
  [base, "StatefulSet replicas as a string", ["StatefulSet"], (o) => { o.spec.replicas = "1"; }],
  [base, "gRPC probe port as a name", ["StatefulSet"], (o) => { app(o).readinessProbe.grpc.port = "grpc"; }],
  [base, "unknown Service type", ["Service"], (o) => { o.spec.type = "Internal"; }],
  [base, "selector not matching the pod labels", ["StatefulSet"], (o) => { o.spec.selector.matchLabels = { app: "other" }; }],
  [base, "volumeMount of an undeclared volume", ["StatefulSet"], (o) => { app(o).volumeMounts.push({ name: "cache", mountPath: "/cache" }); }],
  [base, "Service targeting an undeclared port", ["Service"], (o) => { o.spec.ports[0].targetPort = "http"; }],
  [base, "probe on an undeclared port", ["StatefulSet"], (o) => { app(o).livenessProbe.grpc.port = 5001; }],

  // k8s/overlays/cluster: schemas of the new kinds.
  [cluster, "HPA maxReplicas as a string", ["HorizontalPodAutoscaler", "segmentation-gateway"], (o) => { o.spec.maxReplicas = "10"; }],
  [cluster, "NetworkPolicy rule without its list", ["NetworkPolicy", "segmentation-silo"], (o) => { o.spec.ingress = o.spec.ingress[0]; }],
  [cluster, "RoleBinding without a roleRef", ["RoleBinding", "segmentation-silo"], (o) => { delete o.roleRef; }],
  [cluster, "container resources as a list", ["Deployment", "segmentation-inference"], (o) => { app(o).resources.limits = [{ "nvidia.com/gpu": 1 }]; }],

  // k8s/overlays/cluster: workloads, Services, autoscaling, budgets.
  [cluster, "Deployment selector not matching its pod labels", ["Deployment", "segmentation-gateway"],
    (o) => { o.spec.selector.matchLabels["app.kubernetes.io/component"] = "gateways"; }, "does not match the pod template's labels"],
  [cluster, "public Service targeting an undeclared port", ["Service", "segmentation"],
    (o) => { o.spec.ports[0].targetPort = "http"; }, "targetPort http is not a port of the selected pods"],
  [cluster, "HPA scaling a Deployment that is not rendered", ["HorizontalPodAutoscaler", "segmentation-gateway"],
    (o) => { o.spec.scaleTargetRef.name = "segmentation-gateways"; }, "scaleTargetRef apps/v1 Deployment/segmentation-gateways is not rendered"],
  [cluster, "HPA on CPU utilization of pods that request no CPU", ["Deployment", "segmentation-gateway"],
    (o) => { delete app(o).resources.requests.cpu; }, "requests no cpu"],
  [cluster, "HPA-managed Deployment setting replicas", ["Deployment", "segmentation-gateway"],
    (o) => { o.spec.replicas = 2; }, "each apply resets the count"],
  [cluster, "PDB selecting no pods", ["PodDisruptionBudget", "segmentation-silo"],
    (o) => { o.spec.selector.matchLabels["app.kubernetes.io/component"] = "silos"; }, "spec.selector matches no rendered pod template"],
  [cluster, "PDB that allows no eviction", ["PodDisruptionBudget", "segmentation-silo"],
    (o) => { delete o.spec.maxUnavailable; o.spec.minAvailable = 3; }, "allows no eviction"],
  [cluster, "two PDBs covering the same pods", ["PodDisruptionBudget", "segmentation-inference"],
    (o) => { o.spec.selector = { matchLabels: { "orleans/serviceId": "segmentation" } }; }, "also covered by"],

  // NetworkPolicies: what they select, and who may reach whom.
  [cluster, "NetworkPolicy selecting no pods", ["NetworkPolicy", "segmentation-silo"],
    (o) => { o.spec.podSelector.matchLabels["orleans/serviceId"] = "segmentaton"; }, "spec.podSelector matches no rendered pod template"],
  [cluster, "NetworkPolicy peer selecting no pods", ["NetworkPolicy", "segmentation-silo"],
    (o) => { o.spec.ingress[0].from[0].podSelector.matchLabels["orleans/serviceId"] = "segmentaton"; }, "matches no rendered pod template"],
  [cluster, "NetworkPolicy on a port name the pods lack", ["NetworkPolicy", "segmentation-postgres"],
    (o) => { o.spec.ingress[0].ports[0].port = "postgresql"; }, "port postgresql is not a container port"],
  [cluster, "PostgreSQL closed to the gateways (their membership)", ["NetworkPolicy", "segmentation-postgres"],
    (o) => { o.spec.ingress[0].from[0].podSelector = { matchExpressions: [
      { key: "orleans/serviceId", operator: "In", values: ["segmentation"] },
      { key: "app.kubernetes.io/component", operator: "NotIn", values: ["gateway"] }] }; },
    "port 5432 (postgres) does not admit Deployment/segmentation-gateway, which needs it"],
  [cluster, "PostgreSQL without a NetworkPolicy", ["NetworkPolicy", "segmentation-postgres"],
    (o, objects) => { remove(objects, o); }, "admits traffic from outside the namespace: only the cluster's processes (silos, gateways) may reach PostgreSQL"],
  [cluster, "PostgreSQL closed to the inference silos", ["NetworkPolicy", "segmentation-postgres"],
    (o) => { o.spec.ingress[0].from[0].podSelector.matchLabels = { "app.kubernetes.io/component": "silo" }; },
    "does not admit Deployment/segmentation-inference, which needs it"],
  [cluster, "silo port open to any source", ["NetworkPolicy", "segmentation-silo"],
    (o) => { delete o.spec.ingress[0].from; }, "admits traffic from outside the namespace: only the cluster's processes (silos, gateways) may reach a silo's ports"],
  [cluster, "silos' silo port closed to the gateways", ["NetworkPolicy", "segmentation-silo"],
    (o) => { o.spec.ingress[0].from = ["silo", "inference"].map((c) => ({ podSelector: { matchLabels: { "app.kubernetes.io/component": c } } })); },
    "port 11111 (silo) does not admit Deployment/segmentation-gateway, which needs it"],
  [cluster, "gateways' silo port closed to the silos", ["NetworkPolicy", "segmentation-silo"],
    (o) => { o.spec.podSelector = { matchExpressions: [
      { key: "orleans/serviceId", operator: "In", values: ["segmentation"] },
      { key: "app.kubernetes.io/component", operator: "NotIn", values: ["gateway"] }] }; },
    "Deployment/segmentation-gateway: port 11111 (silo) does not admit Deployment/segmentation-silo, which needs it"],
  [cluster, "silos' gRPC port opened to another namespace", ["NetworkPolicy", "segmentation-silo"],
    (o) => { o.spec.ingress.push({ from: [{ namespaceSelector: {} }], ports: [{ port: "grpc", protocol: "TCP" }] }); },
    "port 5000 (grpc) admits traffic from outside the namespace"],
  [cluster, "silo port open to a namespace selector", ["NetworkPolicy", "segmentation-silo"],
    (o) => { o.spec.ingress[0].from.push({ namespaceSelector: {} }); }, "admits traffic from outside the namespace"],
  [cluster, "gateways' gRPC port closed to clients", ["NetworkPolicy", "segmentation-gateway"],
    (o) => { o.spec.ingress[0].from = [{ podSelector: { matchLabels: { "orleans/serviceId": "segmentation" } } }]; }, "is closed to clients"],

  // RBAC for Orleans' Kubernetes hosting.
  [cluster, "Role without watch on pods", ["Role", "segmentation-silo"],
    (o) => { o.rules[0].verbs = ["get", "list", "patch"]; }, "is not granted pods watch"],
  [cluster, "RoleBinding to a Role that is not rendered", ["RoleBinding", "segmentation-silo"],
    (o) => { o.roleRef.name = "segmentation-silos"; }, "roleRef Role 'segmentation-silos' is not rendered"],
  [cluster, "RoleBinding subject in another namespace", ["RoleBinding", "segmentation-silo"],
    (o) => { o.subjects[0].namespace = "default"; }, "is in namespace 'default'"],
  [cluster, "pod using a ServiceAccount that is not rendered", ["Deployment", "segmentation-inference"],
    (o) => { o.spec.template.spec.serviceAccountName = "segmentation-inference"; }, "serviceAccountName 'segmentation-inference' is not a rendered ServiceAccount"],
  [cluster, "silo without its service account token", ["Deployment", "segmentation-silo"],
    (o) => { o.spec.template.spec.automountServiceAccountToken = false; }, "token is not mounted"],
  [cluster, "gateway without its service account token (it is a silo too)", ["ServiceAccount", "segmentation-gateway"],
    (o) => { o.automountServiceAccountToken = false; }, "ServiceAccount 'segmentation-gateway' token is not mounted"],
  [cluster, "gateways' account not bound to the Role", ["RoleBinding", "segmentation-silo"],
    (o) => { o.subjects = o.subjects.filter((s) => s.name !== "segmentation-gateway"); },
    "ServiceAccount 'segmentation-gateway' is not granted pods get/watch/list/patch"],

  // ConfigMap and Secret references.
  [cluster, "secretKeyRef of a Secret that is not rendered", ["Deployment", "segmentation-silo"],
    (o) => { env(o, "ConnectionStrings__Segmentation").valueFrom.secretKeyRef.name = "postgres"; }, "Secret 'postgres' is not rendered"],
  [cluster, "secretKeyRef of a key the Secret lacks", ["Secret", "segmentation-postgres"],
    (o) => { delete o.stringData.password; }, "has no key 'password'"],
  [cluster, "configMapKeyRef of a key the ConfigMap lacks", ["Deployment", "segmentation-inference"],
    (o) => { env(o, "ORLEANS_SERVICE_ID").valueFrom.configMapKeyRef.key = "ServiceId"; }, "has no key 'ServiceId'"],
  [cluster, "envFrom of a ConfigMap that is not rendered", ["Deployment", "segmentation-gateway"],
    (o) => { app(o).envFrom.push({ configMapRef: { name: "segmentation-extra" } }); }, "ConfigMap 'segmentation-extra' is not rendered"],
  [cluster, "an optional envFrom ConfigMap that is not rendered", ["Deployment", "segmentation-gateway"],
    (o) => { app(o).envFrom.push({ configMapRef: { name: "segmentation-extra", optional: true } }); }, accepted],
  [cluster, "$(VAR) before the variable is defined", ["Deployment", "segmentation-silo"],
    (o) => { const vars = app(o).env; vars.unshift(vars.splice(vars.findIndex((e) => e.name === "OTEL_RESOURCE_ATTRIBUTES"), 1)[0]); },
    "$(POD_NAME) is not defined before it"],

  // The service's settings per role.
  [cluster, "unknown role", ["Deployment", "segmentation-silo"],
    (o) => { env(o, "Segmentation__Roles").value = "silo,worker"; }, "names 'worker'"],
  [cluster, "grace period shorter than the silo's shutdown", ["Deployment", "segmentation-silo"],
    (o) => { o.spec.template.spec.terminationGracePeriodSeconds = 60; }, "is not longer than Segmentation__ShutdownTimeout"],
  [cluster, "grain deactivation longer than the grace period", ["ConfigMap", "segmentation-silo"],
    (o) => { o.data.Segmentation__Silo__DeactivationTimeout = "00:03:00"; }, "is not longer than Segmentation__Silo__DeactivationTimeout"],
  [cluster, "gateway without a shutdown timeout", ["Deployment", "segmentation-gateway"],
    (o) => { app(o).env = app(o).env.filter((e) => e.name !== "Segmentation__ShutdownTimeout"); }, "Segmentation__ShutdownTimeout is not set"],
  [cluster, "silo storage not on PostgreSQL", ["ConfigMap", "segmentation-silo"],
    (o) => { o.data.Segmentation__Storage__Provider = "sqlite"; }, "Segmentation__Storage__Provider is 'sqlite'"],
  [cluster, "POD_IP from the wrong field", ["Deployment", "segmentation-silo"],
    (o) => { env(o, "POD_IP").valueFrom.fieldRef.fieldPath = "status.hostIP"; }, "POD_IP is not the downward API's status.podIP"],
  [cluster, "orleans/clusterId label disagreeing with the cluster id", ["Deployment", "segmentation-inference"],
    (o) => { o.spec.template.metadata.labels["orleans/clusterId"] = "segmentation-blue"; }, "pod label orleans/clusterId 'segmentation-blue'"],
  [cluster, "silo port not declared", ["Deployment", "segmentation-silo"],
    (o) => { env(o, "Segmentation__Silo__SiloPort").value = "11112"; }, "Segmentation__Silo__SiloPort 11112 is not a declared container port"],
  [cluster, "dashboard on a port a Service exposes", ["Deployment", "segmentation-gateway"], (o, objects) => {
    app(o).env.push({ name: "Segmentation__AdminListen", value: "0.0.0.0:8080" });
    app(o).ports.push({ name: "admin", containerPort: 8080, protocol: "TCP" });
    objects.find((x) => x.kind === "Service" && x.metadata.name === "segmentation").spec.ports.push({ name: "admin", port: 8080, targetPort: "admin" });
  }, "is exposed by Service/segmentation"],
  [cluster, "probe off the gRPC listen port", ["Deployment", "segmentation-gateway"],
    (o) => { env(o, "Segmentation__Listen").value = "0.0.0.0:5001"; app(o).ports.push({ name: "grpc2", containerPort: 5001 }); },
    "readinessProbe is not a gRPC probe on the Segmentation__Listen port 5001"],
  [cluster, "no OTLP endpoint", ["ConfigMap", "segmentation-cluster"],
    (o) => { delete o.data.OTEL_EXPORTER_OTLP_ENDPOINT; }, "OTEL_EXPORTER_OTLP_ENDPOINT is not set"],
  // Gateways are silos that host no user grains: membership in PostgreSQL, the store, a silo port, Kubernetes hosting.
  [cluster, "gateway without the database connection string", ["Deployment", "segmentation-gateway"],
    (o) => { app(o).env = app(o).env.filter((e) => e.name !== "ConnectionStrings__Segmentation"); },
    "ConnectionStrings__Segmentation does not come from a Secret"],
  [cluster, "gateway on development membership", ["Deployment", "segmentation-gateway"],
    (o) => { app(o).env.push({ name: "Segmentation__Cluster__Membership", value: "development" }); },
    "Segmentation__Cluster__Membership is 'development', not 'postgres'"],
  [cluster, "gateway without a silo port", ["Deployment", "segmentation-gateway"],
    (o) => { app(o).env = app(o).env.filter((e) => e.name !== "Segmentation__Silo__SiloPort"); },
    "Segmentation__Silo__SiloPort '' is not a port number"],
  [cluster, "gateway advertising no pod IP", ["Deployment", "segmentation-gateway"],
    (o) => { app(o).env = app(o).env.filter((e) => e.name !== "Segmentation__Cluster__AdvertisedAddress"); },
    "Segmentation__Cluster__AdvertisedAddress is not the downward API's status.podIP"],
  [cluster, "gateway pods without the orleans/serviceId label", ["Deployment", "segmentation-gateway"],
    (o) => { delete o.spec.template.metadata.labels["orleans/serviceId"]; }, "pod label orleans/serviceId '' is not"],
  [cluster, "gateway without ORLEANS_CLUSTER_ID", ["Deployment", "segmentation-gateway"],
    (o) => { app(o).env = app(o).env.filter((e) => e.name !== "ORLEANS_CLUSTER_ID"); }, "ORLEANS_CLUSTER_ID '' is not"],
  [cluster, "gateway still an Orleans client of silos' gateways", ["Deployment", "segmentation-gateway"],
    (o) => { app(o).env.push({ name: "Segmentation__Cluster__Gateways", value: "segmentation-silo:30000" }); },
    "Segmentation__Cluster__Gateways is set"],
  [cluster, "silo opening an Orleans gateway port", ["Deployment", "segmentation-silo"],
    (o) => { app(o).env.push({ name: "Segmentation__Silo__GatewayPort", value: "30000" }); }, "Segmentation__Silo__GatewayPort is 30000"],
  [cluster, "gateway data folder on the read-only root filesystem", ["Deployment", "segmentation-gateway"],
    (o) => { env(o, "Segmentation__DataDirectory").value = "/app/data"; }, "is on the read-only root filesystem"],
  [cluster, "connection string naming a Service that is not rendered", ["Secret", "segmentation-postgres"],
    (o) => { o.stringData["connection-string"] = o.stringData["connection-string"].replace("Host=segmentation-postgres", "Host=postgres"); },
    "Host 'postgres' is not a rendered Service"],
  [cluster, "inference without a GPU", ["Deployment", "segmentation-inference"],
    (o) => { delete app(o).resources.limits["nvidia.com/gpu"]; delete app(o).resources.requests["nvidia.com/gpu"]; }, "requests no nvidia.com/gpu"],
  [cluster, "inference not tolerating the GPU taint", ["Deployment", "segmentation-inference"],
    (o) => { o.spec.template.spec.tolerations = []; }, "no toleration for the nvidia.com/gpu taint"],
  [cluster, "inference not on GPU nodes", ["Deployment", "segmentation-inference"],
    (o) => { delete o.spec.template.spec.nodeSelector; }, "no nodeSelector or node affinity"],
  [cluster, "inference on the CPU", ["Deployment", "segmentation-inference"],
    (o) => { env(o, "Segmentation__Embeddings__Inference__Device").value = "cpu"; }, "Segmentation__Embeddings__Inference__Device is not 'cuda'"],

  // The documented external-database variant: no in-cluster PostgreSQL, a connection string to a host elsewhere.
  [cluster, "external database instead of the PostgreSQL StatefulSet", ["Secret", "segmentation-postgres"], (o, objects) => {
    for (const object of objects.filter((x) => x.metadata?.labels?.["app.kubernetes.io/component"] === "postgres" && x.kind !== "Secret")) {
      remove(objects, object);
    }
    o.stringData = { "connection-string": "Host=db.example.com;Database=segmentation;Username=segmentation;Password=x;SSL Mode=Require" };
  }, accepted],
];
