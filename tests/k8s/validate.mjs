// Validates Kubernetes objects as `kubectl kustomize` renders them (multi-document YAML), offline:
//  1. each object against the Kubernetes JSON schema of its apiVersion/kind (npm package kubernetes-models);
//  2. the references between objects that the schemas cannot see and that would break the deployment
//     (lib/references.mjs: selectors, Service and probe ports, volumes, ConfigMap/Secret references, $(VAR)
//     expansion, ServiceAccounts and RoleBindings, autoscaler targets, disruption budgets, NetworkPolicy selectors);
//  3. the service's own contract with its cluster manifests (lib/segmentation.mjs: settings per role, Orleans'
//     Kubernetes hosting, shutdown timing against the grace period, GPUs, who may reach whom).
// Usage: node validate.mjs [--self-test] [label=file.yaml ...] (no files: one rendering on stdin).
// Prints "ok <label> <Kind>/<name>" or "FAILED <label> <Kind>/<name>: <errors>" per object and
// "k8s: N passed, M failed" last; exits 1 on any failure. `--self-test` also changes copies of the renderings in known
// ways (lib/breakages.mjs) and checks that each broken copy is refused and each legitimate variant accepted.
import { readFile } from "node:fs/promises";
import { parseAllDocuments } from "yaml";
import { accepted, breakages } from "./lib/breakages.mjs";
import { nameOf } from "./lib/objects.mjs";
import { referenceErrors } from "./lib/references.mjs";
import { segmentationErrors } from "./lib/segmentation.mjs";

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

/**
 * One result per object: its schema errors, or (when it has none) its reference and contract errors. The references
 * are resolved among the objects that meet their schema only, so that a malformed object is reported once, as itself.
 */
async function check(objects) {
  const schema = new Map();
  for (const object of objects) schema.set(object, await schemaErrors(object));
  const valid = objects.filter((o) => schema.get(o).length === 0);
  return objects.map((object) => {
    const errors = schema.get(object);
    if (errors.length === 0) {
      try {
        errors.push(...referenceErrors(object, valid), ...segmentationErrors(object, valid));
      } catch (error) {
        errors.push(`the reference checks failed: ${error.stack}`);
      }
    }
    return { name: nameOf(object), errors };
  });
}

async function selfTest(renderings) {
  const results = [];
  for (const [label, description, [kind, name], change, expect] of breakages) {
    const title = `${label} self-test: ${description} ${expect === accepted ? "accepted" : "refused"}`;
    const objects = renderings.get(label);
    if (!objects) {
      results.push({ name: title, errors: [`${label} was not rendered`] });
      continue;
    }
    const copy = structuredClone(objects);
    const target = copy.find((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));
    let outcome;
    try {
      if (!target) throw new Error(`no ${kind}${name ? `/${name}` : ""} in the rendering`);
      change(target, copy);
      outcome = await check(copy);
    } catch (error) {
      results.push({ name: title, errors: [`could not apply: ${error.message}`] });
      continue;
    }
    const all = outcome.flatMap((r) => r.errors.map((e) => `${r.name}: ${e}`));
    const got = all.length > 0 ? ` (got: ${all.join("; ")})` : "";
    let errors;
    if (expect === accepted) errors = all.length === 0 ? [] : [`the legitimate variant was refused${got}`];
    else if (expect !== undefined) errors = all.some((e) => e.includes(expect)) ? [] : [`no error contains "${expect}"${got}`];
    else errors = outcome.find((r) => r.name === nameOf(target))?.errors.length > 0 ? [] : ["the broken object was accepted"];
    results.push({ name: title, errors });
  }
  return results;
}

async function readStdin() {
  let text = "";
  process.stdin.setEncoding("utf8");
  for await (const chunk of process.stdin) text += chunk;
  return text;
}

const inputs = process.argv.slice(2).filter((a) => a.includes("="));
const sources = inputs.length > 0
  ? await Promise.all(inputs.map(async (a) => [a.slice(0, a.indexOf("=")), await readFile(a.slice(a.indexOf("=") + 1), "utf8")]))
  : [["k8s/base", await readStdin()]];

const results = [];
const renderings = new Map();
for (const [label, text] of sources) {
  const objects = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) results.push({ name: `${label} YAML`, errors: document.errors.map((e) => e.message) });
    else if (document.contents !== null) objects.push(document.toJSON());
  }
  if (objects.length === 0) results.push({ name: `${label} input`, errors: ["no objects rendered"] });
  renderings.set(label, objects);
  results.push(...(await check(objects)).map((r) => ({ ...r, name: `${label} ${r.name}` })));
}
if (process.argv.includes("--self-test")) results.push(...(await selfTest(renderings)));

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
