// Validates Kubernetes objects (a multi-document YAML on stdin) against the Kubernetes JSON schemas of the npm
// package kubernetes-models, offline. Prints "ok <Kind>/<name>" or the error per object, and
// "k8s: N passed, M failed" last. `--self-test` also checks that a deliberately broken object is refused.
import { parseAllDocuments } from "yaml";

async function validate(object) {
  const [group, version] = object.apiVersion.includes("/") ? object.apiVersion.split("/") : [null, object.apiVersion];
  const module = await import(group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`);
  const Model = module[object.kind];
  if (!Model) throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
  new Model(object).validate();
}

const input = await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
});

let passed = 0;
let failed = 0;
const objects = parseAllDocuments(input).map((d) => d.toJSON()).filter(Boolean);
if (objects.length === 0) {
  console.log("no objects rendered");
  failed++;
}
for (const object of objects) {
  const name = `${object.kind}/${object.metadata?.name}`;
  try {
    await validate(object);
    console.log(`ok ${name}`);
    passed++;
  } catch (error) {
    console.log(`FAILED ${name}: ${error.message}`);
    failed++;
  }
}

if (process.argv.includes("--self-test")) {
  // The validator must be able to fail: a Service whose port is a string, and a probe with a bad port.
  const broken = [
    { apiVersion: "v1", kind: "Service", metadata: { name: "broken" }, spec: { ports: [{ port: "five thousand" }] } },
    { apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "broken" }, spec: { serviceName: "x", selector: {}, template: { spec: { containers: [{ name: "c", readinessProbe: { grpc: { port: "grpc" } } }] } } } },
  ];
  for (const object of broken) {
    try {
      await validate(object);
      console.log(`FAILED self-test: broken ${object.kind} was accepted`);
      failed++;
    } catch {
      console.log(`ok self-test: broken ${object.kind} refused`);
      passed++;
    }
  }
}

console.log(`k8s: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
