// Prints, as shell assignments, what the containers suite takes from the
// chart's own render (so that it runs the supervisor exactly as a pod would):
//   CHART_CAPS        the agent container's capabilities.add, comma separated
//   CHART_CAPS_DROP   its capabilities.drop
//   CHART_RO_ROOT     readOnlyRootFilesystem (true/false)
//   CHART_UID, CHART_GID, CHART_FSGROUP, CHART_FSGROUP_POLICY
//   CHART_LISTEN      OPENSHELL_SSH_LISTEN
//   CHART_SEED_SCRIPT the seed init container's script; CHART_SEED_MOUNT its claim mount
// Usage: node chart_facts.mjs HELM   (run from tests/containers)
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "chart", "package.json"));
const { parseAllDocuments } = require("yaml");
const helm = process.argv[2];
const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOpenShellChartTestKeyOnlyNotARealKey0000 gw";
const r = spawnSync(helm, ["template", "t", path.join(here, "..", "..", "helm"), "--kube-version", "1.35",
  "--set", "preflight.enabled=false", "--set", `gateway.authorizedKeys=${key}`], { encoding: "utf8" });
if (r.status !== 0) { console.error(r.stderr); process.exit(1); }
const t = parseAllDocuments(r.stdout).map((d) => d.toJS()).find((o) => o?.kind === "SandboxTemplate");
const spec = t.spec.podTemplate.spec;
const agent = spec.containers.find((c) => c.name === "agent");
const seed = (spec.initContainers || []).find((c) => c.name === "seed-workspace");
const env = Object.fromEntries(agent.env.map((e) => [e.name, e.value]));
const q = (v) => `'${String(v).replace(/'/g, `'\\''`)}'`;
const out = {
  CHART_CAPS: agent.securityContext.capabilities.add.join(","),
  CHART_CAPS_DROP: agent.securityContext.capabilities.drop.join(","),
  CHART_RO_ROOT: agent.securityContext.readOnlyRootFilesystem,
  CHART_UID: env.OPENSHELL_SANDBOX_UID, CHART_GID: env.OPENSHELL_SANDBOX_GID,
  CHART_FSGROUP: spec.securityContext?.fsGroup ?? "", CHART_FSGROUP_POLICY: spec.securityContext?.fsGroupChangePolicy ?? "",
  CHART_LISTEN: env.OPENSHELL_SSH_LISTEN,
  CHART_SEED_SCRIPT: seed ? seed.command[2] : "", CHART_SEED_MOUNT: seed ? seed.volumeMounts[0].mountPath : "",
  CHART_SEED_SOURCE: seed ? seed.env.find((e) => e.name === "SOURCE").value : "",
};
for (const [k, v] of Object.entries(out)) console.log(`${k}=${q(v)}`);
