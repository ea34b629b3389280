// Offline schema validation of rendered manifests (deploy/README.md "Checks"): every document
// of every file given is checked against the Kubernetes and Gateway API schemas
// (kubernetes-models, @kubernetes-models/gateway-api), and objects of Warren's own CRDs against
// the openAPIV3Schema of the CRDs found among the inputs. A kind without a schema is an error:
// nothing passes unchecked.
//   node deploy/checks/validate.mjs FILE...     exit 0: all valid; 1: errors listed
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import Ajv from "ajv";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: validate.mjs FILE...");
  process.exit(2);
}

const docs = [];
for (const file of files) {
  for (const d of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (d.errors.length) {
      console.error(`${file}: YAML: ${d.errors[0].message}`);
      process.exit(1);
    }
    const obj = d.toJS();
    if (obj) docs.push({ file, obj });
  }
}

// Our CRDs: group/version/kind -> a compiled validator of the whole object.
const ajv = new Ajv({ allErrors: true, strict: false });
const crds = new Map();
for (const { obj } of docs) {
  if (obj.kind !== "CustomResourceDefinition") continue;
  for (const v of obj.spec.versions) {
    const schema = structuredClone(v.schema.openAPIV3Schema);
    stripKubernetesExtensions(schema);
    crds.set(`${obj.spec.group}/${v.name}/${obj.spec.names.kind}`, ajv.compile(schema));
  }
}

function stripKubernetesExtensions(s) {
  if (!s || typeof s !== "object") return;
  for (const k of Object.keys(s)) {
    if (k.startsWith("x-kubernetes-")) delete s[k];
    else stripKubernetesExtensions(s[k]);
  }
}

async function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const candidates = group.startsWith("gateway.networking")
    ? [`@kubernetes-models/gateway-api/${group}/${version}`]
    : [`kubernetes-models/${group ? group + "/" : ""}${version}`];
  for (const path of candidates) {
    try {
      const mod = await import(path);
      if (mod[kind]) return mod[kind];
    } catch {
      // not a known group/version
    }
  }
  return null;
}

let errors = 0;
let checked = 0;
for (const { file, obj } of docs) {
  const name = `${file}: ${obj.kind} ${obj.metadata?.namespace ? obj.metadata.namespace + "/" : ""}${obj.metadata?.name}`;
  if (!obj.apiVersion || !obj.kind) {
    console.error(`${name}: no apiVersion/kind`);
    errors++;
    continue;
  }
  const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : ["", obj.apiVersion];
  const crd = crds.get(`${group}/${version}/${obj.kind}`);
  if (crd) {
    if (!crd(obj)) {
      for (const e of crd.errors) console.error(`${name}: ${e.instancePath || "/"} ${e.message}`);
      errors++;
    }
    checked++;
    continue;
  }
  const Model = await modelFor(obj.apiVersion, obj.kind);
  if (!Model) {
    console.error(`${name}: no schema for ${obj.apiVersion} ${obj.kind}`);
    errors++;
    continue;
  }
  try {
    new Model(obj).validate();
    checked++;
  } catch (e) {
    const details = (e.errors ?? []).map((x) => `${x.instancePath || "/"} ${x.message}`).join("; ");
    console.error(`${name}: ${details || e.message}`);
    errors++;
  }
}
console.log(`validate: ${checked} objects valid, ${errors} invalid (${files.length} files)`);
process.exit(errors ? 1 : 0);
