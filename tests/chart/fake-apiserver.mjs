// A stand-in Kubernetes API server for the chart's `lookup` calls (no real
// API server can run here). It answers discovery for the kinds the chart
// renders and GETs of the objects it is given; everything else is 404.
// It runs in a worker thread, so that it keeps answering while the main
// thread waits in spawnSync for helm.
//
//   const api = await startFakeApi({ objects: [namespace, node, ...] });
//   helm template ... --dry-run=server  (KUBECONFIG=api.kubeconfig)
//   api.requests()  -> ["GET /api/v1/nodes", ...]; await api.close();
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import http from "node:http";

// group/version -> resources served (name, kind, namespaced).
const RESOURCES = {
  "v1": [["namespaces", "Namespace", false], ["nodes", "Node", false], ["configmaps", "ConfigMap", true],
    ["secrets", "Secret", true], ["serviceaccounts", "ServiceAccount", true], ["pods", "Pod", true]],
  "networking.k8s.io/v1": [["networkpolicies", "NetworkPolicy", true]],
  "rbac.authorization.k8s.io/v1": [["rolebindings", "RoleBinding", true]],
  "agents.x-k8s.io/v1beta1": [["sandboxes", "Sandbox", true]],
  "extensions.agents.x-k8s.io/v1beta1": [["sandboxtemplates", "SandboxTemplate", true],
    ["sandboxwarmpools", "SandboxWarmPool", true], ["sandboxclaims", "SandboxClaim", true]],
};

function serve({ objects }) {
  const requests = [];
  const byPath = new Map();
  const lists = new Map();
  for (const o of objects) {
    const gv = o.apiVersion;
    const [plural, , namespaced] = RESOURCES[gv].find((r) => r[1] === o.kind);
    const base = gv === "v1" ? "/api/v1" : `/apis/${gv}`;
    const coll = namespaced ? `${base}/namespaces/${o.metadata.namespace}/${plural}` : `${base}/${plural}`;
    byPath.set(`${coll}/${o.metadata.name}`, o);
    if (!lists.has(coll)) lists.set(coll, { kind: `${o.kind}List`, apiVersion: gv, metadata: {}, items: [] });
    lists.get(coll).items.push(o);
  }
  const groups = Object.keys(RESOURCES).filter((gv) => gv.includes("/")).map((gv) => {
    const [name, version] = gv.split("/");
    return { name, versions: [{ groupVersion: gv, version }], preferredVersion: { groupVersion: gv, version } };
  });
  const resourceList = (gv) => ({ kind: "APIResourceList", groupVersion: gv,
    resources: RESOURCES[gv].map(([name, kind, namespaced]) => ({ name, singularName: kind.toLowerCase(), namespaced, kind, verbs: ["get", "list"] })) });
  const srv = http.createServer((req, res) => {
    const u = new URL(req.url, "http://x");
    requests.push(`${req.method} ${u.pathname}`);
    parentPort.postMessage({ requests });
    res.setHeader("content-type", "application/json");
    const p = u.pathname;
    const send = (o) => res.end(JSON.stringify(o));
    if (p === "/version") return send({ major: "1", minor: "35", gitVersion: "v1.35.0", platform: "linux/amd64" });
    if (p === "/api") return send({ kind: "APIVersions", versions: ["v1"] });
    if (p === "/apis") return send({ kind: "APIGroupList", apiVersion: "v1", groups });
    if (p === "/api/v1") return send(resourceList("v1"));
    const gvm = p.match(/^\/apis\/([^/]+\/[^/]+)$/);
    if (gvm && RESOURCES[gvm[1]]) return send(resourceList(gvm[1]));
    if (byPath.has(p)) return send(byPath.get(p));
    if (lists.has(p)) return send(lists.get(p));
    if (/\/(nodes|namespaces|configmaps|secrets)$/.test(p)) return send({ kind: "List", apiVersion: "v1", metadata: {}, items: [] });
    res.statusCode = 404;
    send({ kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404 });
  });
  srv.listen(0, "127.0.0.1", () => parentPort.postMessage({ port: srv.address().port }));
}

if (!isMainThread && workerData?.fakeApi) serve(workerData);

export function startFakeApi({ objects = [] } = {}) {
  const worker = new Worker(new URL(import.meta.url), { workerData: { fakeApi: true, objects } });
  let seen = [];
  worker.on("message", (m) => { if (m.requests) seen = m.requests; });
  return new Promise((resolve, reject) => {
    worker.once("error", reject);
    worker.on("message", (m) => {
      if (m.port === undefined) return;
      const dir = mkdtempSync(path.join(tmpdir(), "fake-api-"));
      const kubeconfig = path.join(dir, "kubeconfig");
      writeFileSync(kubeconfig, JSON.stringify({ apiVersion: "v1", kind: "Config",
        clusters: [{ name: "fake", cluster: { server: `http://127.0.0.1:${m.port}` } }],
        users: [{ name: "fake", user: { token: "fake" } }],
        contexts: [{ name: "fake", context: { cluster: "fake", user: "fake" } }], "current-context": "fake" }));
      resolve({
        kubeconfig,
        // Messages arrive while the main thread is free again: read after helm returned.
        requests: () => new Promise((r) => setImmediate(() => r(seen))),
        close: async () => { await worker.terminate(); rmSync(dir, { recursive: true, force: true }); },
      });
    });
  });
}
