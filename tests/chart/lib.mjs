// Shared pieces of the chart tests: running helm and kubectl, parsing
// renders, and validating objects against the real schemas.
import { spawnSync } from "node:child_process";
import { readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import Ajv from "ajv";
import addFormats from "ajv-formats";

export const here = path.dirname(fileURLToPath(import.meta.url));
// tests/chart/ in the source tree; no git needed (a source tarball runs it too).
export const root = path.resolve(here, "..", "..");
export const chartDir = path.join(root, "helm");
export const tools = process.env.OPENSHELL_TOOLS_DIR || path.join(root, ".tools", "kubectl-v35");
export const HELM = path.join(tools, "helm", "helm");
export const KUBECTL = path.join(tools, "kubectl", "kubectl");

// The agent-sandbox CRDs (release v0.5.6, Apache-2.0) are vendored as test
// data under tests/chart/crds/: the suite needs nothing beside the checkout.
export const CRD_DIR = path.join(here, "crds", "agent-sandbox");

export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20, ...opts });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export const LINT_VALUES = path.join(chartDir, "ci", "lint-values.yaml");
const TEST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOpenShellChartTestKeyOnlyNotARealKey0000 gateway@test";

// Every served agent-sandbox API, as a discovery endpoint would list it.
export const ALL_APIS = ["v1beta1", "v1alpha1"].flatMap((v) => [
  `agents.x-k8s.io/${v}`, `agents.x-k8s.io/${v}/Sandbox`,
  `extensions.agents.x-k8s.io/${v}`, `extensions.agents.x-k8s.io/${v}/SandboxTemplate`,
  `extensions.agents.x-k8s.io/${v}/SandboxClaim`, `extensions.agents.x-k8s.io/${v}/SandboxWarmPool`,
]);

// helm template with a gateway key and the agent-sandbox API served, unless
// told otherwise. Returns { code, stdout, stderr, objects }.
export function helmTemplate({ kube = "1.35", set = [], setString = [], setJson = [], apis = ALL_APIS, key = true, release = "t", namespace = "openshell", extra = [] } = {}) {
  const args = ["template", release, chartDir, "--kube-version", kube, "--namespace", namespace];
  for (const a of apis) args.push("--api-versions", a);
  if (key) args.push("--set", `gateway.authorizedKeys=${TEST_KEY}`);
  for (const s of set) args.push("--set", s);
  for (const s of setString) args.push("--set-string", s);
  for (const s of setJson) args.push("--set-json", s);
  args.push(...extra);
  const r = run(HELM, args);
  r.objects = r.code === 0 ? parseDocs(r.stdout) : [];
  return r;
}

export function parseDocs(text) {
  const out = [];
  for (const d of parseAllDocuments(text)) {
    if (d.errors.length) throw new Error(`YAML error in render: ${d.errors[0].message}`);
    const o = d.toJS();
    if (o) out.push(o);
  }
  return out;
}

export const one = (objs, kind) => {
  const found = objs.filter((o) => o.kind === kind);
  if (found.length !== 1) throw new Error(`expected exactly one ${kind}, rendered ${found.length}`);
  return found[0];
};
export const none = (objs, kind) => objs.filter((o) => o.kind === kind).length === 0;

// ---------------------------------------------------------------- schemas --

// The API server prunes (or, with strict field validation, rejects) fields a
// structural schema does not declare. JSON Schema accepts them silently, so
// every object schema that lists its properties is closed here: a misspelt
// or misplaced field in a render fails instead of vanishing in the cluster.
function closeSchema(s) {
  if (Array.isArray(s)) { s.forEach(closeSchema); return s; }
  if (!s || typeof s !== "object") return s;
  for (const v of Object.values(s)) closeSchema(v);
  if (s.properties && s.additionalProperties === undefined && !s["x-kubernetes-preserve-unknown-fields"]) {
    s.additionalProperties = false;
  }
  return s;
}

function newAjv() {
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: true });
  addFormats(ajv);
  const int = (bits) => ({ type: "number", validate: (n) => Number.isInteger(n) && Math.abs(n) < 2 ** (bits - 1) });
  ajv.addFormat("int32", int(32));
  ajv.addFormat("int64", int(64));
  ajv.addFormat("double", { type: "number", validate: () => true });
  ajv.addFormat("float", { type: "number", validate: () => true });
  ajv.addFormat("quantity", /^[+-]?[0-9.]+([eE][+-]?[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$/);
  return ajv;
}

// CRD validators: "group/version/Kind" -> validate function, from the
// served versions' openAPIV3Schema of the vendored CRDs.
export function loadCrdValidators() {
  const dir = CRD_DIR;
  const ajv = newAjv();
  const validators = new Map();
  const raw = new Map();
  for (const f of ["agents.x-k8s.io_sandboxes.yaml", "extensions.agents.x-k8s.io_sandboxtemplates.yaml",
                   "extensions.agents.x-k8s.io_sandboxclaims.yaml", "extensions.agents.x-k8s.io_sandboxwarmpools.yaml"]) {
    const crd = parseYaml(readFileSync(path.join(dir, f), "utf8"));
    for (const v of crd.spec.versions) {
      if (!v.served) continue;
      const key = `${crd.spec.group}/${v.name}/${crd.spec.names.kind}`;
      const schema = closeSchema(structuredClone(v.schema.openAPIV3Schema));
      raw.set(key, v.schema.openAPIV3Schema);
      validators.set(key, ajv.compile(schema));
    }
  }
  return { validators, raw };
}

// Core kinds: the compiled Kubernetes OpenAPI validators of kubernetes-models.
const CORE = {
  "v1/ConfigMap": "IoK8sApiCoreV1ConfigMap",
  "v1/Secret": "IoK8sApiCoreV1Secret",
  "v1/ServiceAccount": "IoK8sApiCoreV1ServiceAccount",
  "v1/Pod": "IoK8sApiCoreV1Pod",
  "rbac.authorization.k8s.io/v1/RoleBinding": "IoK8sApiRbacV1RoleBinding",
  "networking.k8s.io/v1/NetworkPolicy": "IoK8sApiNetworkingV1NetworkPolicy",
  "PodTemplateSpec": "IoK8sApiCoreV1PodTemplateSpec",
  "PersistentVolumeClaim": "IoK8sApiCoreV1PersistentVolumeClaim",
};
export async function loadCoreValidators() {
  const out = new Map();
  for (const [k, mod] of Object.entries(CORE)) {
    const m = await import(`kubernetes-models/_schemas/${mod}`);
    out.set(k, m.validate);
  }
  const meta = await import("@kubernetes-models/apimachinery/_schemas/IoK8sApimachineryPkgApisMetaV1ObjectMeta");
  out.set("ObjectMeta", meta.validate);
  return out;
}

const fmt = (errors) => (errors || []).slice(0, 5).map((e) => {
  const extra = e.params?.additionalProperty ? ` '${e.params.additionalProperty}'` : e.params?.missingProperty ? ` '${e.params.missingProperty}'` : e.params?.allowedValues ? ` ${JSON.stringify(e.params.allowedValues)}` : "";
  const why = e.message || `${e.keyword} ${JSON.stringify(e.params)}`;
  return `${e.instancePath || "/"} ${why}${extra}`;
}).join("; ");

// Kubernetes names: DNS-1123 subdomain / label rules the API server applies.
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function checkMeta(o, problems) {
  const m = o.metadata || {};
  if (!m.name) problems.push("metadata.name missing");
  else if (m.name.length > 253 || !DNS_SUBDOMAIN.test(m.name)) problems.push(`metadata.name '${m.name}' is not a DNS-1123 subdomain`);
  if (m.namespace !== undefined && !DNS_LABEL.test(m.namespace)) problems.push(`metadata.namespace '${m.namespace}' is not a DNS label`);
  for (const [k, v] of Object.entries(m.labels || {})) {
    if (typeof v !== "string" || v.length > 63 || !LABEL_VALUE.test(v)) problems.push(`label ${k}=${v} is not a valid label value`);
  }
}

// Validates one rendered object; returns a list of problems (empty: valid).
export function validateObject(o, { crd, core }) {
  const problems = [];
  if (!o || typeof o !== "object" || !o.apiVersion || !o.kind) return ["object without apiVersion/kind"];
  checkMeta(o, problems);
  const gvk = `${o.apiVersion}/${o.kind}`;
  if (crd.validators.has(gvk)) {
    const v = crd.validators.get(gvk);
    if (!v(o)) problems.push(`${gvk} CRD schema: ${fmt(v.errors)}`);
    const meta = core.get("ObjectMeta");
    if (!meta(o.metadata)) problems.push(`metadata: ${fmt(meta.errors)}`);
    const pt = o.spec?.podTemplate;
    if (pt) {
      const p = core.get("PodTemplateSpec");
      if (!p(pt)) problems.push(`spec.podTemplate (core PodTemplateSpec): ${fmt(p.errors)}`);
      problems.push(...podChecks(pt.spec || {}).map((x) => `spec.podTemplate: ${x}`));
    }
    for (const [i, c] of (o.spec?.volumeClaimTemplates || []).entries()) {
      const p = core.get("PersistentVolumeClaim");
      if (!p({ apiVersion: "v1", kind: "PersistentVolumeClaim", ...c })) problems.push(`spec.volumeClaimTemplates[${i}] (core PersistentVolumeClaim): ${fmt(p.errors)}`);
    }
  } else if (core.has(gvk)) {
    const v = core.get(gvk);
    if (!v(o)) problems.push(`${gvk} schema: ${fmt(v.errors)}`);
    if (o.kind === "Pod") problems.push(...podChecks(o.spec || {}));
    // The core OpenAPI schema leaves objects open; NetworkPolicy rules are
    // also checked against the closed copy embedded in the SandboxTemplate CRD.
    if (o.kind === "NetworkPolicy") {
      const rule = crd.raw.get("extensions.agents.x-k8s.io/v1beta1/SandboxTemplate").properties.spec.properties.networkPolicy.properties.ingress;
      const ajv = newAjv();
      const vr = ajv.compile(closeSchema(structuredClone(rule)));
      if (!vr(o.spec?.ingress || [])) problems.push(`NetworkPolicy spec.ingress: ${fmt(vr.errors)}`);
      const erule = crd.raw.get("extensions.agents.x-k8s.io/v1beta1/SandboxTemplate").properties.spec.properties.networkPolicy.properties.egress;
      const ve = ajv.compile(closeSchema(structuredClone(erule)));
      if (!ve(o.spec?.egress || [])) problems.push(`NetworkPolicy spec.egress: ${fmt(ve.errors)}`);
      const known = new Set(["podSelector", "policyTypes", "ingress", "egress"]);
      for (const k of Object.keys(o.spec || {})) if (!known.has(k)) problems.push(`NetworkPolicy spec: unknown field '${k}'`);
    }
  } else {
    problems.push(`no schema known for ${gvk}: the chart renders a kind the tests cannot check`);
  }
  return problems;
}

// What the API server's pod validation adds to the schema: unique names,
// volume mounts naming declared volumes (or claim templates), ports.
function podChecks(spec) {
  const p = [];
  const containers = [...(spec.initContainers || []), ...(spec.containers || [])];
  const names = containers.map((c) => c.name);
  if (new Set(names).size !== names.length) p.push(`duplicate container names ${names}`);
  for (const n of names) if (!DNS_LABEL.test(n)) p.push(`container name '${n}' is not a DNS label`);
  const vols = (spec.volumes || []).map((v) => v.name);
  if (new Set(vols).size !== vols.length) p.push(`duplicate volume names ${vols}`);
  for (const v of spec.volumes || []) {
    const sources = Object.keys(v).filter((k) => k !== "name");
    if (sources.length !== 1) p.push(`volume ${v.name} must have exactly one source, has ${sources}`);
  }
  return p;
}

export function mountsResolve(pt, claimTemplates) {
  const vols = new Set([...(pt.spec.volumes || []).map((v) => v.name), ...(claimTemplates || []).map((c) => c.metadata.name)]);
  const bad = [];
  for (const c of [...(pt.spec.initContainers || []), ...(pt.spec.containers || [])]) {
    for (const m of c.volumeMounts || []) if (!vols.has(m.name)) bad.push(`${c.name}: mount ${m.mountPath} names unknown volume ${m.name}`);
    const paths = (c.volumeMounts || []).map((m) => m.mountPath);
    if (new Set(paths).size !== paths.length) bad.push(`${c.name}: duplicate mount paths`);
  }
  return bad;
}

// Kubernetes label selector semantics (matchLabels and matchExpressions).
export function selectorMatches(sel, labels) {
  if (!sel) return false;
  for (const [k, v] of Object.entries(sel.matchLabels || {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions || []) {
    const has = Object.hasOwn(labels, e.key);
    switch (e.operator) {
      case "In": if (!has || !e.values.includes(labels[e.key])) return false; break;
      case "NotIn": if (has && e.values.includes(labels[e.key])) return false; break;
      case "Exists": if (!has) return false; break;
      case "DoesNotExist": if (has) return false; break;
      default: return false;
    }
  }
  return true;
}
