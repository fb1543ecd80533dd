// Chart and sideload tests. Run through tests/chart/run.sh (which installs
// helm, kubectl and the npm packages first). Prints TAP: one line per test,
// the plan, and a last comment "# N passed, N failed, N skipped"; exits 1
// when any test failed.
import assert from "node:assert/strict";
import path from "node:path";
import { readFileSync, writeFileSync, mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { parse as parseYaml } from "yaml";
import {
  HELM, KUBECTL, root, chartDir, LINT_VALUES, ALL_APIS, run, helmTemplate, parseDocs, one, none,
  loadCrdValidators, loadCoreValidators, validateObject, mountsResolve, selectorMatches,
} from "./lib.mjs";
import { startFakeApi } from "./fake-apiserver.mjs";

const tests = [];
const test = (name, fn) => tests.push({ name, fn });
class Skip { constructor(why) { this.why = why; } }
const skip = (why) => { throw new Skip(why); };
const only = process.argv[2] ? new RegExp(process.argv[2]) : null;

const crd = loadCrdValidators();
const core = await loadCoreValidators();
const schemas = { crd, core };

const BIN = "/opt/openshell/bin";
const SUPERVISOR = `${BIN}/openshell-supervisor`;

function ok(r) {
  assert.equal(r.code, 0, `helm template failed:\n${r.stderr}`);
  return r.objects;
}
function validateAll(objs) {
  const problems = objs.flatMap((o) => validateObject(o, schemas).map((p) => `${o.kind}/${o.metadata?.name}: ${p}`));
  assert.deepEqual(problems, [], `rendered objects rejected by the schemas:\n  ${problems.join("\n  ")}`);
}
const template = (objs) => one(objs, "SandboxTemplate");
const podSpec = (objs) => template(objs).spec.podTemplate.spec;
const agent = (objs) => {
  const c = podSpec(objs).containers.filter((x) => x.name === "agent");
  assert.equal(c.length, 1, "one agent container");
  return c[0];
};
const env = (c) => Object.fromEntries((c.env || []).map((e) => [e.name, e.value ?? e.valueFrom]));
const mount = (c, p) => (c.volumeMounts || []).find((m) => m.mountPath === p);
const volume = (spec, name) => (spec.volumes || []).find((v) => v.name === name);
const ingressPolicy = (objs) => {
  const found = objs.filter((o) => o.kind === "NetworkPolicy" && o.spec.policyTypes.includes("Ingress"));
  assert.equal(found.length, 1, "one ingress NetworkPolicy");
  return found[0];
};
const egressPolicy = (objs) => {
  const found = objs.filter((o) => o.kind === "NetworkPolicy" && o.spec.policyTypes.includes("Egress"));
  assert.equal(found.length, 1, "one egress NetworkPolicy");
  return found[0];
};
const chartVersion = () => parseYaml(readFileSync(path.join(chartDir, "Chart.yaml"), "utf8")).appVersion;

function expectFailure(r, re, what) {
  assert.notEqual(r.code, 0, `${what}: helm accepted it`);
  assert.match(r.stderr, re, `${what}: helm failed without the expected message:\n${r.stderr}`);
}

// Asserts the whole delivery wiring of one method on a rendered pod.
function assertDelivery(objs, method) {
  const spec = podSpec(objs);
  const a = agent(objs);
  assert.deepEqual(a.command, [SUPERVISOR], "agent command is the delivered supervisor");
  const m = mount(a, BIN);
  assert.ok(m, `agent container mounts ${BIN}`);
  assert.equal(m.readOnly, true, `${BIN} is read-only in the agent container`);
  const v = volume(spec, m.name);
  assert.ok(v, `volume ${m.name} exists`);
  assert.equal(template(objs).metadata.annotations["openshell.io/supervisor-delivery"], method);
  if (method === "image-volume") {
    assert.ok(v.image && v.image.reference, `an image volume, got ${JSON.stringify(v)}`);
    assert.match(v.image.reference, /openshell-supervisor/);
    assert.ok(!(spec.initContainers || []).some((c) => /openshell-supervisor/.test(c.image)), "no supervisor init container with image-volume delivery");
  } else {
    assert.ok(v.emptyDir, `an emptyDir volume, got ${JSON.stringify(v)}`);
    const inits = (spec.initContainers || []).filter((c) => c.name === "install-supervisor");
    assert.equal(inits.length, 1, "one install-supervisor init container");
    const ic = inits[0];
    assert.match(ic.image, /openshell-supervisor/);
    assert.equal(ic.command, undefined, "init container keeps the image's entrypoint (no shell in the image)");
    assert.deepEqual(ic.args, ["copy-self", SUPERVISOR], "init container runs copy-self into the shared volume");
    const im = (ic.volumeMounts || []).find((x) => x.name === m.name);
    assert.ok(im && im.mountPath === BIN && !im.readOnly, "init container writes the same volume at the same path");
  }
}

// ------------------------------------------------------------------ lint --
for (const kube of ["1.32", "1.35"]) {
  test(`helm lint --strict (Kubernetes ${kube})`, () => {
    const r = run(HELM, ["lint", chartDir, "--strict", "--kube-version", kube, "-f", LINT_VALUES]);
    assert.equal(r.code, 0, `helm lint failed:\n${r.stdout}${r.stderr}`);
  });
}

// ------------------------------------------- delivery by Kubernetes version --
const AUTO = { "1.32": "init-container", "1.34": "init-container", "1.35": "image-volume", "1.36": "image-volume" };
for (const [kube, method] of Object.entries(AUTO)) {
  for (const apiVersion of ["v1beta1", "v1alpha1"]) {
    test(`Kubernetes ${kube}, ${apiVersion}: automatic delivery is ${method}, every object valid`, () => {
      const objs = ok(helmTemplate({ kube, set: [`sandbox.apiVersion=${apiVersion}`] }));
      assert.equal(template(objs).apiVersion, `extensions.agents.x-k8s.io/${apiVersion}`);
      assertDelivery(objs, method);
      validateAll(objs);
      const kinds = objs.map((o) => o.kind).sort();
      assert.deepEqual(kinds, ["ConfigMap", "NetworkPolicy", "NetworkPolicy", "Pod", "SandboxTemplate", "SandboxWarmPool", "Secret", "ServiceAccount"]);
    });
  }
}

test("explicit sideloadMethod wins over the version: image-volume on 1.34, init-container on 1.36", () => {
  const a = ok(helmTemplate({ kube: "1.34", set: ["supervisor.sideloadMethod=image-volume"] }));
  assertDelivery(a, "image-volume");
  validateAll(a);
  const b = ok(helmTemplate({ kube: "1.36", set: ["supervisor.sideloadMethod=init-container"] }));
  assertDelivery(b, "init-container");
  validateAll(b);
});

test("image-volume refused on a cluster without image volumes (1.30)", () => {
  expectFailure(helmTemplate({ kube: "1.30", set: ["supervisor.sideloadMethod=image-volume"] }),
    /image-volume needs Kubernetes >= 1\.31/, "image-volume on 1.30");
});

test("supervisor image: tag defaults to appVersion, digest pins, pullPolicy reaches both delivery forms", () => {
  const chart = parseYaml(readFileSync(path.join(chartDir, "Chart.yaml"), "utf8"));
  const a = ok(helmTemplate({ kube: "1.32", set: ["supervisor.image.repository=reg.example/os/sup", "supervisor.image.pullPolicy=Always"] }));
  const inst = podSpec(a).initContainers.find((c) => c.name === "install-supervisor");
  assert.equal(inst.image, `reg.example/os/sup:${chart.appVersion}`);
  assert.equal(inst.imagePullPolicy, "Always");
  const digest = "sha256:" + "ab".repeat(32);
  const b = ok(helmTemplate({ kube: "1.36", set: ["supervisor.image.repository=reg.example/os/sup", `supervisor.image.digest=${digest}`, "supervisor.image.pullPolicy=Never"] }));
  const v = volume(podSpec(b), mount(agent(b), BIN).name);
  assert.equal(v.image.reference, `reg.example/os/sup@${digest}`);
  assert.equal(v.image.pullPolicy, "Never");
});

// ------------------------------------------------------ agent container --
test("agent container: security context of DESIGN §6, restartPolicy Never, SSH port", () => {
  const objs = ok(helmTemplate({}));
  const spec = podSpec(objs);
  const a = agent(objs);
  assert.equal(spec.restartPolicy, "Never");
  const sc = a.securityContext;
  assert.equal(sc.runAsUser, 0);
  // The measured minimum (tests/containers runs with exactly this list).
  assert.deepEqual([...sc.capabilities.add].sort(), ["NET_ADMIN", "NET_BIND_SERVICE", "SETGID", "SETPCAP", "SETUID", "SYS_ADMIN", "SYS_PTRACE"]);
  assert.deepEqual(sc.capabilities.drop, ["ALL"], "the runtime's default capabilities are dropped");
  assert.equal(sc.readOnlyRootFilesystem, true);
  assert.equal(sc.allowPrivilegeEscalation, undefined, "the API server refuses allowPrivilegeEscalation=false with SYS_ADMIN");
  assert.equal(sc.seccompProfile.type, "Unconfined");
  assert.equal(sc.appArmorProfile.type, "Unconfined");
  assert.equal(sc.privileged, undefined, "not privileged: only the named capabilities");
  assert.equal(spec.hostUsers, undefined, "host users unless enabled");
  assert.deepEqual(a.ports, [{ name: "ssh", containerPort: 2222, protocol: "TCP" }]);
  assert.deepEqual(a.startupProbe.tcpSocket, { port: "ssh" }, "startup probe on the SSH port");
  assert.deepEqual(a.readinessProbe.tcpSocket, { port: "ssh" }, "readiness probe on the SSH port");
  assert.ok(a.startupProbe.periodSeconds * a.startupProbe.failureThreshold >= 60, "a minute for the sandbox to come up");
  assert.equal(a.image, "ghcr.io/nvidia/openshell-community/sandboxes/base:latest");
  assert.ok(spec.terminationGracePeriodSeconds >= Number(env(a).OPENSHELL_SHUTDOWN_GRACE_SECS) + 5, "supervisor grace at least 5 s below the pod's");
  assert.ok(a.resources.requests.cpu && a.resources.requests.memory && a.resources.limits.memory, `requests and a memory limit by default: ${JSON.stringify(a.resources)}`);
});

test("environment contract of DESIGN §4", () => {
  const objs = ok(helmTemplate({ set: ["sandbox.mainProcess.command={claude,--yes}", "sandbox.mainProcess.tty=true", "sandbox.uid=1000", "sandbox.gid=1001", "supervisor.logLevel=info"], setString: ["sandbox.userEnvironment.EDITOR=vi"] }));
  const e = env(agent(objs));
  assert.equal(e.OPENSHELL_POLICY_FILE, "/etc/openshell/policy/policy.yaml");
  assert.equal(e.OPENSHELL_SSH_LISTEN, "[::]:2222", "dual-stack listener (IPv6-only clusters)");
  assert.equal(e.OPENSHELL_SSH_AUTHORIZED_KEYS_FILE, "/etc/openshell/ssh/authorized_keys");
  assert.equal(e.OPENSHELL_WORKDIR, "/sandbox");
  assert.equal(e.OPENSHELL_SHUTDOWN_GRACE_SECS, "10");
  assert.equal(e.OPENSHELL_LOG_LEVEL, "info");
  assert.deepEqual(JSON.parse(e.OPENSHELL_MAIN_PROCESS_SPEC), { version: 1, command: ["claude", "--yes"], tty: true });
  assert.equal(e.OPENSHELL_SANDBOX_UID, "1000");
  assert.equal(e.OPENSHELL_SANDBOX_GID, "1001");
  assert.deepEqual(JSON.parse(e.OPENSHELL_USER_ENVIRONMENT), { EDITOR: "vi" });
  assert.deepEqual(e.OPENSHELL_SANDBOX, { fieldRef: { fieldPath: "metadata.name" } });
  assert.deepEqual(e.OPENSHELL_SANDBOX_ID, { fieldRef: { fieldPath: "metadata.uid" } });
  validateAll(objs);
  const d = env(agent(ok(helmTemplate({}))));
  for (const k of ["OPENSHELL_MAIN_PROCESS_SPEC", "OPENSHELL_USER_ENVIRONMENT"]) {
    assert.equal(d[k], undefined, `${k} unset by default (the supervisor's default applies)`);
  }
  assert.equal(d.OPENSHELL_SANDBOX_UID, "1000", "OpenShell's sandbox uid by default");
  assert.equal(d.OPENSHELL_SANDBOX_GID, "1000", "OpenShell's sandbox gid by default");
});

test("policy ConfigMap mounted as a directory (no subPath: updates reach running pods) with the values' document", () => {
  const objs = ok(helmTemplate({ setJson: ['policy.document={"version":1,"landlock":{"compatibility":"hard_requirement"}}'] }));
  const cm = one(objs, "ConfigMap");
  const doc = parseYaml(cm.data["policy.yaml"]);
  assert.equal(doc.version, 1);
  assert.equal(doc.landlock.compatibility, "hard_requirement");
  const m = mount(agent(objs), "/etc/openshell/policy");
  assert.ok(m && m.readOnly && m.subPath === undefined, `policy mount: ${JSON.stringify(m)}`);
  assert.equal(path.join(m.mountPath, "policy.yaml"), env(agent(objs)).OPENSHELL_POLICY_FILE);
  const v = volume(podSpec(objs), m.name);
  assert.equal(v.configMap.name, cm.metadata.name);
  assert.ok(v.configMap.items.some((i) => i.key === "policy.yaml" && i.path === "policy.yaml"));
  const ext = ok(helmTemplate({ set: ["policy.existingConfigMap=site-policy"] }));
  assert.ok(none(ext, "ConfigMap"), "no ConfigMap rendered for an existing one");
  assert.equal(volume(podSpec(ext), m.name).configMap.name, "site-policy");
});

test("gateway keys Secret mounted as /etc/openshell/ssh/authorized_keys", () => {
  const objs = ok(helmTemplate({}));
  const s = one(objs, "Secret");
  assert.match(s.stringData.authorized_keys, /^ssh-ed25519 AAAA\S+ gateway@test\n?$/);
  const m = mount(agent(objs), "/etc/openshell/ssh");
  assert.ok(m && m.readOnly, "keys directory mounted read-only");
  const v = volume(podSpec(objs), m.name);
  assert.equal(v.secret.secretName, s.metadata.name);
  assert.deepEqual(v.secret.items, [{ key: "authorized_keys", path: "authorized_keys" }]);
  assert.equal(path.join(m.mountPath, v.secret.items[0].path), env(agent(objs)).OPENSHELL_SSH_AUTHORIZED_KEYS_FILE);
  const ext = ok(helmTemplate({ key: false, set: ["gateway.existingSecret=gw-keys"] }));
  assert.ok(none(ext, "Secret"));
  assert.equal(volume(podSpec(ext), m.name).secret.secretName, "gw-keys");
});

test("SSH off: no keys needed, no port, no NetworkPolicy, listener off", () => {
  const objs = ok(helmTemplate({ key: false, set: ["sandbox.sshListen=off"] }));
  assert.equal(env(agent(objs)).OPENSHELL_SSH_LISTEN, "off");
  assert.equal(agent(objs).ports, undefined);
  assert.ok(none(objs, "Secret"));
  assert.deepEqual(objs.filter((o) => o.kind === "NetworkPolicy").map((o) => o.spec.policyTypes), [["Egress"]], "only the egress policy");
  assert.equal(agent(objs).startupProbe, undefined, "no SSH probe without SSH");
  validateAll(objs);
});

test("workspace: a 2Gi claim template mounted at /sandbox; size and class from values", () => {
  const objs = ok(helmTemplate({}));
  const t = template(objs);
  assert.equal(t.spec.volumeClaimTemplates.length, 1);
  const c = t.spec.volumeClaimTemplates[0];
  assert.equal(c.spec.resources.requests.storage, "2Gi");
  const m = mount(agent(objs), "/sandbox");
  assert.ok(m, "agent mounts /sandbox");
  assert.equal(m.name, c.metadata.name, "the /sandbox mount names the claim template");
  assert.deepEqual(mountsResolve(t.spec.podTemplate, t.spec.volumeClaimTemplates), []);
  const big = ok(helmTemplate({ set: ["server.workspaceDefaultStorageSize=20Gi", "server.workspaceStorageClassName=fast"] }));
  const bc = template(big).spec.volumeClaimTemplates[0];
  assert.equal(bc.spec.resources.requests.storage, "20Gi");
  assert.equal(bc.spec.storageClassName, "fast");
  validateAll(big);
});

test("every volume mount names a volume, in both delivery forms", () => {
  for (const kube of ["1.32", "1.36"]) {
    const t = template(ok(helmTemplate({ kube, set: ["sandbox.sshHostKeySecret=host-key"] })));
    assert.deepEqual(mountsResolve(t.spec.podTemplate, t.spec.volumeClaimTemplates), []);
  }
});

test("enableUserNamespaces: hostUsers false with the same capabilities; refused before 1.33", () => {
  const objs = ok(helmTemplate({ kube: "1.34", set: ["server.enableUserNamespaces=true"] }));
  assert.equal(podSpec(objs).hostUsers, false);
  assert.deepEqual([...agent(objs).securityContext.capabilities.add].sort(), ["NET_ADMIN", "NET_BIND_SERVICE", "SETGID", "SETPCAP", "SETUID", "SYS_ADMIN", "SYS_PTRACE"]);
  validateAll(objs);
  expectFailure(helmTemplate({ kube: "1.32", set: ["server.enableUserNamespaces=true"] }), /enableUserNamespaces needs Kubernetes >= 1\.33/, "user namespaces on 1.32");
});

test("GPU count becomes the nvidia.com/gpu limit, merged with other resources", () => {
  const objs = ok(helmTemplate({ set: ["sandbox.gpuCount=2", "sandbox.resources.limits.memory=8Gi", "sandbox.resources.requests.cpu=1"] }));
  const r = agent(objs).resources;
  assert.equal(r.limits["nvidia.com/gpu"], 2);
  assert.equal(r.limits.memory, "8Gi");
  assert.equal(r.requests.cpu, 1);
  validateAll(objs);
});

test("sandbox image, pull policy and pull secrets", () => {
  const objs = ok(helmTemplate({ set: ["server.sandboxImage=reg.example/agents/claude:1.2", "server.sandboxImagePullPolicy=Always", "server.sandboxImagePullSecrets={regcred,other}"] }));
  assert.equal(agent(objs).image, "reg.example/agents/claude:1.2");
  assert.equal(agent(objs).imagePullPolicy, "Always");
  assert.deepEqual(podSpec(objs).imagePullSecrets, [{ name: "regcred" }, { name: "other" }]);
  assert.equal(agent(ok(helmTemplate({}))).imagePullPolicy, undefined, "empty pull policy left to Kubernetes");
  validateAll(objs);
});

test("sandboxNamespace places every namespaced object there", () => {
  const objs = ok(helmTemplate({ namespace: "openshell", set: ["server.sandboxNamespace=agents"] }));
  for (const o of objs) assert.equal(o.metadata.namespace, "agents", `${o.kind} namespace`);
  const def = ok(helmTemplate({ namespace: "openshell" }));
  for (const o of def) assert.equal(o.metadata.namespace, "openshell", `${o.kind} defaults to the release namespace`);
});

test("sandbox service account: created without token automount, annotations, or an existing one", () => {
  const objs = ok(helmTemplate({ set: ["sandboxServiceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::1:role/x"] }));
  const sa = one(objs, "ServiceAccount");
  assert.equal(sa.automountServiceAccountToken, false);
  assert.equal(sa.metadata.annotations["eks.amazonaws.com/role-arn"], "arn:aws:iam::1:role/x");
  assert.equal(podSpec(objs).serviceAccountName, sa.metadata.name);
  assert.equal(podSpec(objs).automountServiceAccountToken, false);
  const ext = ok(helmTemplate({ set: ["sandboxServiceAccount.create=false", "sandboxServiceAccount.name=agents-sa"] }));
  assert.ok(none(ext, "ServiceAccount"));
  assert.equal(podSpec(ext).serviceAccountName, "agents-sa");
  assert.equal(podSpec(ext).automountServiceAccountToken, false);
});

// --------------------------------------------------------- NetworkPolicy --
test("NetworkPolicy selects the pod template's own labels and admits only TCP 2222 from the gateway", () => {
  const objs = ok(helmTemplate({ set: ["gateway.namespace=gw", "gateway.podSelector.app=openshell-gateway", "sandbox.sshPort=2222", "sandbox.podLabels.team=ml"] }));
  const np = ingressPolicy(objs);
  const labels = template(objs).spec.podTemplate.metadata.labels;
  assert.ok(selectorMatches(np.spec.podSelector, labels), `podSelector ${JSON.stringify(np.spec.podSelector)} does not match pod labels ${JSON.stringify(labels)}`);
  assert.ok(Object.keys(np.spec.podSelector.matchLabels || {}).length > 0, "an empty podSelector would select every pod of the namespace");
  assert.deepEqual(np.spec.policyTypes, ["Ingress"]);
  assert.equal(np.spec.ingress.length, 1, "a single ingress rule");
  const rule = np.spec.ingress[0];
  assert.deepEqual(rule.ports, [{ protocol: "TCP", port: 2222 }]);
  assert.equal(rule.from.length, 1, "one peer: the gateway pods");
  assert.deepEqual(rule.from[0].namespaceSelector, { matchLabels: { "kubernetes.io/metadata.name": "gw" } });
  assert.equal(rule.from[0].podSelector.matchLabels.app, "openshell-gateway");
  // The gateway selector never matches a sandbox pod, whatever the gateway labels.
  assert.ok(!selectorMatches(rule.from[0].podSelector, labels), "the sandbox pods match the gateway selector");
  assert.equal(np.metadata.namespace, template(objs).metadata.namespace);
  // Other pods of the namespace (the gateway itself, say) are not selected.
  assert.ok(!selectorMatches(np.spec.podSelector, { "app.kubernetes.io/name": "openshell" }));
  validateAll(objs);
});

test("NetworkPolicy: the gateway selector never matches the sandbox pods, even with nameOverride=openshell", () => {
  // Default gateway selector app.kubernetes.io/name=openshell: with
  // nameOverride=openshell every sandbox pod carries that label too.
  const objs = ok(helmTemplate({ set: ["nameOverride=openshell"] }));
  const labels = template(objs).spec.podTemplate.metadata.labels;
  assert.equal(labels["app.kubernetes.io/name"], "openshell");
  const peer = ingressPolicy(objs).spec.ingress[0].from[0].podSelector;
  assert.ok(!selectorMatches(peer, labels), `sandbox pods count as the gateway: ${JSON.stringify(peer)}`);
  assert.ok(selectorMatches(peer, { "app.kubernetes.io/name": "openshell" }), "the gateway itself still matches");
  validateAll(objs);
});

test("NetworkPolicy follows the SSH port and can be disabled", () => {
  const objs = ok(helmTemplate({ set: ["sandbox.sshPort=2022"] }));
  assert.deepEqual(ingressPolicy(objs).spec.ingress[0].ports, [{ protocol: "TCP", port: 2022 }]);
  assert.equal(env(agent(objs)).OPENSHELL_SSH_LISTEN, "[::]:2022");
  assert.equal(agent(objs).ports[0].containerPort, 2022);
  assert.ok(none(ok(helmTemplate({ set: ["networkPolicy.enabled=false"] })), "NetworkPolicy"));
});

// --------------------------------------------------------------- preflight --
test("preflight fails the install when the agent-sandbox API is not served", () => {
  expectFailure(helmTemplate({ apis: [] }), /preflight: this cluster does not serve extensions\.agents\.x-k8s\.io\/v1beta1\/SandboxTemplate/, "no agent-sandbox API");
  expectFailure(helmTemplate({ apis: ALL_APIS.filter((a) => !a.includes("v1beta1")) }), /does not serve .*v1beta1/, "only v1alpha1 served");
  expectFailure(helmTemplate({ apis: ALL_APIS.filter((a) => !a.startsWith("agents.x-k8s.io")) }), /does not serve agents\.x-k8s\.io\/v1beta1\/Sandbox/, "core agent-sandbox API missing");
  ok(helmTemplate({ apis: ALL_APIS.filter((a) => !a.includes("v1beta1")), set: ["sandbox.apiVersion=v1alpha1"] }));
  ok(helmTemplate({ apis: [], set: ["preflight.enabled=false"] }));
  // Discovery lists "group/version" too; that alone must satisfy the check.
  ok(helmTemplate({ apis: ["extensions.agents.x-k8s.io/v1beta1", "agents.x-k8s.io/v1beta1"] }));
});

// -------------------------------------------------------------- bad values --
const BAD = [
  [{ set: ["supervisor.sideloadMethod=scp"] }, /sideloadMethod.*value must be one of '', 'image-volume', 'init-container'/],
  [{ set: ["sandbox.apiVersion=v1"] }, /sandbox\/apiVersion.*value must be one of 'v1beta1', 'v1alpha1'/],
  [{ set: ["server.workspaceDefaultStorageSize=lots"] }, /workspaceDefaultStorageSize.*does not match pattern/],
  [{ set: ["server.sandboxImagePullPolicy=Sometimes"] }, /sandboxImagePullPolicy.*value must be one of/],
  [{ set: ["server.enableUserNamespaces=maybe"] }, /enableUserNamespaces.*want boolean/],
  [{ set: ["sandbox.gpuCount=-1"] }, /gpuCount.*minimum/],
  [{ set: ["sandbox.uid=0", "sandbox.gid=0"] }, /sandbox\/uid.*minimum/],
  [{ set: ["sandbox.uid=1000", "sandbox.gid=null"] }, /sandbox\.uid and sandbox\.gid go together/],
  [{ setString: ["sandbox.userEnvironment.OPENSHELL_SSH_LISTEN=x"] }, /invalid propertyName 'OPENSHELL_SSH_LISTEN'/],
  [{ set: ["sandbox.workdir=relative/dir"] }, /workdir.*does not match pattern/],
  [{ set: ["sandbox.shutdownGraceSeconds=30", "sandbox.terminationGracePeriodSeconds=34"] }, /terminationGracePeriodSeconds \(34\) must be at least sandbox\.shutdownGraceSeconds \(30\) \+ 5/],
  [{ set: ["sandbox.resources.limits.memory=lots"] }, /resources\/limits\/memory/],
  [{ setJson: ['sandbox.resources={"limit":{"memory":"1Gi"}}'] }, /additional properties 'limit' not allowed/],
  [{ setJson: ['sandbox.tolerations=[{"key":"gpu","operator":"Maybe"}]'] }, /tolerations\/0\/operator/],
  [{ setJson: ['sandbox.tolerations=[{"kye":"gpu"}]'] }, /additional properties 'kye' not allowed/],
  [{ setJson: ['sandbox.affinity={"nodeAfinity":{}}'] }, /additional properties 'nodeAfinity' not allowed/],
  [{ set: ["sandboxServiceAccount.name=Sandbox_SA"] }, /sandboxServiceAccount\/name.*does not match pattern/],
  [{ key: false, set: ["gateway.existingSecret=Gateway Keys"] }, /existingSecret.*does not match pattern/],
  [{ set: ["policy.existingConfigMap=-policy"] }, /existingConfigMap.*does not match pattern/],
  [{ set: ["sandbox.runtimeClassName=gVisor"] }, /runtimeClassName.*does not match pattern/],
  [{ set: ["warmPool.updateStrategy=Rolling"] }, /updateStrategy.*value must be one of/],
  [{ setJson: ['sandbox.securityContext.seccompProfile={"type":"Localhost"}'] }, /seccompProfile/],
  [{ set: ["networkPolicy.egress.exceptCIDRs={metadata}"] }, /exceptCIDRs\/0.*does not match pattern/],
  [{ set: ['gateway.authorizedKeys=command="a b ssh-ed25519 AAAA'] }, /authorizedKeys.*does not match pattern/],
  [{ set: ["sandboxServiceAccount.naem=x"] }, /additional properties 'naem' not allowed/],
  [{ set: ["networkPolicy.enabled=yes"] }, /networkPolicy\/enabled.*want boolean/],
  [{ set: ["gateway.podSelector=null"] }, /gateway\.podSelector must name at least one label/],
  [{ set: ["sandbox.podLabels.app\\.kubernetes\\.io/instance=x"] }, /sandbox\.podLabels must not set app\.kubernetes\.io\/instance/],
  [{ key: false }, /gateway\.authorizedKeys \(or gateway\.existingSecret\) is required/],
  [{ set: ["gateway.authorizedKeys=not a key"] }, /authorizedKeys.*does not match pattern/],
  [{ set: ["gateway.existingSecret=gw"] }, /only one of gateway\.authorizedKeys and gateway\.existingSecret/],
  [{ setJson: ['policy.document={"version":2}'] }, /policy\/document\/version/],
  [{ set: ["sandboxTemplate.networkPolicyManagement=Sometimes"] }, /networkPolicyManagement.*value must be one of/],
];
for (const [opts, re] of BAD) {
  const label = JSON.stringify([...(opts.set || []), ...(opts.setString || []), ...(opts.setJson || []), ...(opts.key === false ? ["no gateway key"] : [])]);
  test(`bad values rejected with their message: ${label}`, () => expectFailure(helmTemplate(opts), re, label));
}

// -------------------------------------------- least privilege, ownership --
test("security context values: seccomp and AppArmor profiles, read-only root, from values", () => {
  const objs = ok(helmTemplate({ setJson: ['sandbox.securityContext={"seccompProfile":{"type":"Localhost","localhostProfile":"openshell.json"},"appArmorProfile":{"type":"RuntimeDefault"},"readOnlyRootFilesystem":false}'] }));
  const sc = agent(objs).securityContext;
  assert.deepEqual(sc.seccompProfile, { type: "Localhost", localhostProfile: "openshell.json" });
  assert.deepEqual(sc.appArmorProfile, { type: "RuntimeDefault" });
  assert.equal(sc.readOnlyRootFilesystem, false);
  validateAll(objs);
});

test("workspace ownership: fsGroup is the sandbox gid with OnRootMismatch; off for OpenShift's SCC", () => {
  const objs = ok(helmTemplate({ set: ["sandbox.uid=1500", "sandbox.gid=1600"] }));
  assert.deepEqual(podSpec(objs).securityContext, { fsGroup: 1600, fsGroupChangePolicy: "OnRootMismatch" });
  assert.equal(env(agent(objs)).OPENSHELL_SANDBOX_GID, "1600", "the sandbox processes' primary group is the fsGroup");
  assert.equal(podSpec(ok(helmTemplate({}))).securityContext.fsGroup, 1000, "OpenShell's sandbox gid by default");
  assert.equal(podSpec(ok(helmTemplate({ set: ["sandbox.workspaceOwnership=false"] }))).securityContext, undefined);
  validateAll(objs);
});

test("seed init container: the sandbox image copies its workdir into the claim, as the sandbox user, once", () => {
  const objs = ok(helmTemplate({ kube: "1.32" }));
  const spec = podSpec(objs);
  const seed = spec.initContainers.find((c) => c.name === "seed-workspace");
  assert.ok(seed, "seed-workspace init container");
  assert.equal(seed.image, agent(objs).image, "the sandbox image: its own /sandbox is the source");
  assert.equal(seed.securityContext.runAsUser, 1000);
  assert.equal(seed.securityContext.runAsGroup, 1000);
  assert.deepEqual(seed.securityContext.capabilities.drop, ["ALL"]);
  assert.equal(seed.securityContext.allowPrivilegeEscalation, false);
  const m = seed.volumeMounts.find((x) => x.name === "workspace");
  assert.ok(m && m.mountPath !== "/sandbox", "the claim is mounted beside the image's /sandbox");
  assert.equal(seed.command[0], "sh");
  assert.match(seed.command[2], /\.openshell-seeded/, "a marker: seeded once");
  assert.deepEqual(mountsResolve(template(objs).spec.podTemplate, template(objs).spec.volumeClaimTemplates), []);
  validateAll(objs);
  const off = podSpec(ok(helmTemplate({ set: ["sandbox.seedWorkspace=false"] })));
  assert.ok(!(off.initContainers || []).some((c) => c.name === "seed-workspace"));
});

// ---------------------------------------------------------- egress policy --
test("egress NetworkPolicy: DNS to the cluster DNS, TCP anywhere but cloud metadata; on by default", () => {
  const objs = ok(helmTemplate({}));
  const np = egressPolicy(objs);
  assert.ok(selectorMatches(np.spec.podSelector, template(objs).spec.podTemplate.metadata.labels), "selects the sandbox pods");
  assert.deepEqual(np.spec.policyTypes, ["Egress"]);
  const [dns, tcp] = np.spec.egress;
  assert.deepEqual(dns.to, [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }]);
  assert.deepEqual(dns.ports, [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }]);
  assert.deepEqual(tcp.ports, [{ protocol: "TCP" }], "TCP on every port");
  assert.deepEqual(tcp.to[0].ipBlock, { cidr: "0.0.0.0/0", except: ["169.254.169.254/32"] });
  assert.equal(tcp.to[1].ipBlock.cidr, "::/0");
  assert.equal(np.spec.egress.length, 2, "nothing else: no UDP beyond DNS");
  validateAll(objs);
  const off = ok(helmTemplate({ set: ["networkPolicy.egress.enabled=false"] }));
  assert.ok(!off.some((o) => o.kind === "NetworkPolicy" && o.spec.policyTypes.includes("Egress")));
});

test("the values' claude_code network_policies example passes the supervisor's validate-policy", () => {
  const bin = process.env.OPENSHELL_SUPERVISOR_BINARY || path.join(root, "build", "supervisor", "openshell-supervisor");
  assert.ok(existsSync(bin), `no supervisor binary at ${bin} (build it first)`);
  const text = readFileSync(path.join(chartDir, "values.yaml"), "utf8");
  const lines = text.split("\n");
  const start = lines.findIndex((l) => /^\s*# network_policies:/.test(l));
  assert.ok(start > 0, "values.yaml shows a network_policies example");
  const block = [];
  for (let i = start; i < lines.length && /^\s*#\s{1,}/.test(lines[i]); i++) block.push(lines[i].replace(/^(\s*)# /, "$1"));
  const example = parseYaml(block.join("\n"));
  const rule = example.network_policies.claude_code;
  assert.deepEqual(rule.endpoints, [{ host: "api.anthropic.com", port: 443 }]);
  assert.ok(rule.binaries.some((b) => /claude$/.test(b.path)) && rule.binaries.some((b) => /node$/.test(b.path)));
  const doc = { ...parseYaml(one(ok(helmTemplate({})), "ConfigMap").data["policy.yaml"]), ...example };
  const dir = mkdtempSync(path.join(tmpdir(), "policy-"));
  try {
    writeFileSync(path.join(dir, "p.yaml"), JSON.stringify(doc));
    const r = run(bin, ["validate-policy", path.join(dir, "p.yaml")]);
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

// ------------------------------------------------------ stale warm pools --
test("checksums of policy and keys on the pod template change with them; warm pool updateStrategy", () => {
  const ann = (o) => template(o).spec.podTemplate.metadata.annotations;
  const base = ann(ok(helmTemplate({})));
  assert.match(base["checksum/policy"], /^[0-9a-f]{64}$/);
  assert.match(base["checksum/gateway-keys"], /^[0-9a-f]{64}$/);
  const pol = ann(ok(helmTemplate({ setJson: ['policy.document={"version":1,"landlock":{"compatibility":"hard_requirement"}}'] })));
  assert.notEqual(pol["checksum/policy"], base["checksum/policy"], "a new policy changes the pod template");
  assert.equal(pol["checksum/gateway-keys"], base["checksum/gateway-keys"]);
  const keys = ann(ok(helmTemplate({ key: false, set: ["gateway.authorizedKeys=ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIRotatedKeyRotatedKeyRotatedKey00000000 gw2"] })));
  assert.notEqual(keys["checksum/gateway-keys"], base["checksum/gateway-keys"], "new keys change the pod template");
  const img = ann(ok(helmTemplate({ set: ["supervisor.image.tag=0.2.0"] })));
  assert.notEqual(img["openshell.io/supervisor-image"], base["openshell.io/supervisor-image"], "a new supervisor image changes the pod template");
  const objs = ok(helmTemplate({}));
  assert.deepEqual(one(objs, "SandboxWarmPool").spec.updateStrategy, { type: "Recreate" });
  assert.deepEqual(one(ok(helmTemplate({ set: ["warmPool.updateStrategy=OnReplenish"] })), "SandboxWarmPool").spec.updateStrategy, { type: "OnReplenish" });
  validateAll(objs);
});

// ---------------------------------------------------------------- helm test --
test("helm test pod: the sandbox's image, delivery, security context and policy, running check", () => {
  for (const kube of ["1.32", "1.36"]) {
    const objs = ok(helmTemplate({ kube }));
    const pod = one(objs, "Pod");
    assert.equal(pod.metadata.annotations["helm.sh/hook"], "test");
    const c = pod.spec.containers[0];
    const a = agent(objs);
    assert.deepEqual(c.command, a.command);
    assert.deepEqual(c.args, ["check"]);
    assert.equal(c.image, a.image);
    assert.deepEqual(c.securityContext, a.securityContext);
    assert.equal(env(c).OPENSHELL_POLICY_FILE, env(a).OPENSHELL_POLICY_FILE);
    assert.equal(env(c).OPENSHELL_SSH_LISTEN, "off");
    assert.deepEqual(pod.spec.volumes.find((v) => v.name === "openshell-policy"), volume(podSpec(objs), "openshell-policy"));
    assert.deepEqual(volume(pod.spec, "openshell-supervisor"), volume(podSpec(objs), "openshell-supervisor"));
    assert.equal(pod.spec.restartPolicy, "Never");
    assert.deepEqual(mountsResolve(pod, []), []);
    validateAll([pod]);
  }
});

// ----------------------------------------------------------- OpenShift --
test("OpenShift: openshift.scc binds the ServiceAccount (default openshell-sandbox) to the privileged SCC", () => {
  assert.equal(one(ok(helmTemplate({})), "ServiceAccount").metadata.name, "openshell-sandbox");
  assert.ok(none(ok(helmTemplate({})), "RoleBinding"));
  const objs = ok(helmTemplate({ set: ["openshift.scc=true"] }));
  const rb = one(objs, "RoleBinding");
  assert.deepEqual(rb.roleRef, { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:openshift:scc:privileged" });
  assert.deepEqual(rb.subjects, [{ kind: "ServiceAccount", name: "openshell-sandbox", namespace: "openshell" }]);
  assert.equal(podSpec(objs).serviceAccountName, "openshell-sandbox");
  validateAll(objs);
});

test("authorized_keys lines with quoted options pass the schema", () => {
  const k = 'from="10.0.0.0/8,fd00::/8",command="echo a b" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOpenShellChartTestKeyOnlyNotARealKey0000 gw@x';
  const objs = ok(helmTemplate({ key: false, setJson: [`gateway.authorizedKeys=${JSON.stringify(k + "\n# comment\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOpenShellChartTestKeyOnlyNotARealKey0001\n")}`] }));
  assert.match(one(objs, "Secret").stringData.authorized_keys, /command="echo a b"/);
});

// ----------------------------------------- lookups against a (fake) cluster --
const NODE = (name, kubelet, runtime) => ({ apiVersion: "v1", kind: "Node", metadata: { name }, status: { nodeInfo: { kubeletVersion: kubelet, containerRuntimeVersion: runtime } } });
const NS = (name, enforce) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name, labels: enforce ? { "pod-security.kubernetes.io/enforce": enforce } : {} } });
async function againstCluster(objects, args = []) {
  const api = await startFakeApi({ objects });
  try {
    const r = run(HELM, ["template", "t", chartDir, "-n", "openshell", "-f", LINT_VALUES, "--set", "preflight.enabled=true",
      "--dry-run=server", "--disable-openapi-validation", ...args], { env: { ...process.env, KUBECONFIG: api.kubeconfig } });
    r.requests = await api.requests();
    r.objects = r.code === 0 ? parseDocs(r.stdout) : [];
    return r;
  } finally { await api.close(); }
}

test("preflight (lookup): a namespace enforcing baseline or restricted fails with the fix; privileged passes", async () => {
  for (const level of ["baseline", "restricted"]) {
    const r = await againstCluster([NS("openshell", level)]);
    assert.ok(r.requests.includes("GET /api/v1/namespaces/openshell"), "the namespace was looked up");
    expectFailure(r, new RegExp(`namespace openshell enforces the "${level}" Pod Security level.*kubectl label namespace openshell pod-security\\.kubernetes\\.io/enforce=privileged`), level);
  }
  for (const ns of [NS("openshell", "privileged"), NS("openshell", "")]) {
    const r = await againstCluster([ns]);
    assert.equal(r.code, 0, r.stderr);
  }
  const off = await againstCluster([NS("openshell", "restricted")], ["--set", "preflight.enabled=false"]);
  assert.equal(off.code, 0, off.stderr);
});

test("delivery (lookup of Nodes): image-volume only when every kubelet >= 1.35 and runtime supports it", async () => {
  const cases = [
    [[NODE("a", "v1.35.1", "containerd://2.1.3"), NODE("b", "v1.36.0", "cri-o://1.31.2")], "image-volume", /all 2 nodes/],
    [[NODE("a", "v1.35.1", "containerd://2.1.3"), NODE("old", "v1.33.4", "containerd://2.1.3")], "init-container", /1 of 2 nodes.*old \(kubelet v1\.33\.4/],
    [[NODE("a", "v1.35.1", "containerd://2.0.5")], "init-container", /a \(kubelet v1\.35\.1, containerd:\/\/2\.0\.5\)/],
    [[NODE("a", "v1.35.0-eks-1", "cri-o://1.30.9")], "init-container", /cri-o:\/\/1\.30\.9/],
    [[NODE("a", "v1.35.0", "docker://27.1.0")], "init-container", /docker/],
  ];
  for (const [nodes, method, why] of cases) {
    const r = await againstCluster(nodes);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.requests.includes("GET /api/v1/nodes"), "the nodes were looked up");
    assertDelivery(r.objects, method);
    assert.match(template(r.objects).metadata.annotations["openshell.io/supervisor-delivery-reason"] || "", why, `${method}: reason`);
  }
  // The explicit value wins even against the nodes.
  const r = await againstCluster([NODE("old", "v1.33.4", "containerd://1.7.0")], ["--set", "supervisor.sideloadMethod=image-volume"]);
  assertDelivery(r.objects, "image-volume");
});

test("delivery without a cluster (helm template) keeps the version rule and NOTES says why", () => {
  const t34 = template(ok(helmTemplate({ kube: "1.34" })));
  assert.match(t34.metadata.annotations["openshell.io/supervisor-delivery-reason"], /^Kubernetes v1\.34(\.0)? < 1\.35$/);
  const t35 = template(ok(helmTemplate({ kube: "1.35" })));
  assert.match(t35.metadata.annotations["openshell.io/supervisor-delivery-reason"], /nodes could not be read/);
  const r = run(HELM, ["install", "t", chartDir, "--dry-run=client", "--namespace", "openshell", "-f", LINT_VALUES]);
  assert.equal(r.code, 0, r.stderr);
  const notes = r.stdout.slice(r.stdout.indexOf("NOTES:"));
  assert.match(notes, /Supervisor delivery: image-volume \(image [^)]*\),\nbecause Kubernetes v1\.\d+\.\d+ >= 1\.35 \(the nodes could not be read/);
  assert.match(notes, /Pod Security: sandbox pods need the "privileged" level/);
});

// ------------------------------------- the validators reject real mistakes --
test("schema validation is real: a render with an unknown container field is rejected", () => {
  const objs = ok(helmTemplate({ setJson: ['sandbox.extraEnv=[{"name":"X","vaule":"typo"}]'] }));
  const problems = validateObject(template(objs), schemas);
  assert.ok(problems.some((p) => /additional properties.*'vaule'|must NOT have additional properties 'vaule'/.test(p)), `a misspelt env field passed: ${problems}`);
});

test("schema validation is real: wrong types and missing required fields in the pod template are rejected", () => {
  const t = structuredClone(template(ok(helmTemplate({}))));
  t.spec.podTemplate.spec.containers[0].securityContext.capabilities.add = "SYS_ADMIN";
  delete t.spec.podTemplate.spec.containers[0].name;
  const problems = validateObject(t, schemas);
  assert.ok(problems.some((p) => /capabilities\/add must be array/.test(p)), `string capabilities passed: ${problems}`);
  assert.ok(problems.some((p) => /required property 'name'/.test(p)), `nameless container passed: ${problems}`);
  const np = structuredClone(ingressPolicy(ok(helmTemplate({}))));
  np.spec.ingress[0].ports[0].port = { number: 2222 };
  np.spec.ingress[0].form = np.spec.ingress[0].from;
  const np2 = validateObject(np, schemas);
  assert.ok(np2.some((p) => /port/.test(p)) && np2.some((p) => /'form'/.test(p)), `broken NetworkPolicy passed: ${np2}`);
  const sa = { ...one(ok(helmTemplate({})), "ServiceAccount"), automountServiceAccountToken: "false" };
  assert.ok(validateObject(sa, schemas).some((p) => /boolean/.test(p)), "string automount passed");
});

test("v1beta1 SandboxTemplate fields unknown to v1alpha1 are caught per served version", () => {
  const t = structuredClone(template(ok(helmTemplate({ set: ["sandbox.apiVersion=v1alpha1"] }))));
  t.spec.volumeClaimTemplatesPolicy = "Allowed"; // only in v1beta1
  assert.ok(validateObject(t, schemas).some((p) => /volumeClaimTemplatesPolicy/.test(p)), "v1beta1-only field accepted by v1alpha1");
  t.apiVersion = "extensions.agents.x-k8s.io/v1beta1";
  assert.deepEqual(validateObject(t, schemas), []);
});

// ------------------------------------------------------------------ NOTES --
for (const apiVersion of ["v1beta1", "v1alpha1"]) {
  test(`NOTES (${apiVersion}): the SandboxClaim it shows is valid and names what the chart created`, () => {
    const r = run(HELM, ["install", "t", chartDir, "--dry-run=client", "--namespace", "openshell",
      "-f", LINT_VALUES, "--set", `sandbox.apiVersion=${apiVersion}`]);
    assert.equal(r.code, 0, r.stderr);
    const notes = r.stdout.slice(r.stdout.indexOf("NOTES:"));
    const m = notes.match(/<<'YAML'\n([\s\S]*?)\n\s*YAML\n/);
    assert.ok(m, `NOTES has no SandboxClaim manifest:\n${notes}`);
    const claim = parseYaml(m[1].replace(/^ {2}/gm, ""));
    claim.metadata.namespace = "openshell";
    assert.deepEqual(validateObject(claim, schemas), []);
    const objs = parseDocs(r.stdout.slice(0, r.stdout.indexOf("NOTES:")).replace(/^[\s\S]*?MANIFEST:\n/, ""));
    if (apiVersion === "v1beta1") assert.equal(claim.spec.warmPoolRef.name, one(objs, "SandboxWarmPool").metadata.name);
    else assert.equal(claim.spec.sandboxTemplateRef.name, template(objs).metadata.name);
    assert.equal(one(objs, "SandboxWarmPool").spec.sandboxTemplateRef.name, template(objs).metadata.name);
    assert.match(notes, /ssh -i gateway_key -p 2222/);
  });
}

// The supervisor's own loader judges the policy the chart ships, once the
// binary has one (validate-policy). Binary: OPENSHELL_SUPERVISOR_BINARY or
// build/supervisor/openshell-supervisor.
test("the chart's default policy passes the supervisor's validate-policy", () => {
  const bin = process.env.OPENSHELL_SUPERVISOR_BINARY || path.join(root, "build", "supervisor", "openshell-supervisor");
  if (!existsSync(bin)) return skip(`no supervisor binary at ${bin}`);
  const help = run(bin, ["--help"]);
  if (!`${help.stdout}${help.stderr}`.includes("validate-policy")) return skip("this supervisor build has no validate-policy");
  const dir = mkdtempSync(path.join(tmpdir(), "policy-"));
  try {
    for (const [label, opts] of [["default", {}], ["hard Landlock", { setJson: ['policy.document={"version":1,"landlock":{"compatibility":"hard_requirement"}}'] }]]) {
      const cm = one(ok(helmTemplate(opts)), "ConfigMap");
      const f = path.join(dir, "policy.yaml");
      writeFileSync(f, cm.data["policy.yaml"]);
      const r = run(bin, ["validate-policy", f]);
      assert.equal(r.code, 0, `${label} policy rejected by the supervisor:\n${r.stdout}${r.stderr}`);
    }
    writeFileSync(path.join(dir, "bad.yaml"), "version: 1\nfilesystem_policy:\n  read_write: [relative]\n");
    assert.notEqual(run(bin, ["validate-policy", path.join(dir, "bad.yaml")]).code, 0, "validate-policy accepted a relative path: the check above proves nothing");
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

// --------------------------------------------------------------- sideload --
const SIDELOAD = path.join(root, "sideload");
function kustomize(dir) {
  const r = run(KUBECTL, ["kustomize", dir]);
  assert.equal(r.code, 0, `kubectl kustomize ${path.relative(root, dir)} failed:\n${r.stderr}`);
  return parseDocs(r.stdout);
}
function podSpecOf(o) {
  if (o.kind === "Pod") return o.spec;
  if (o.kind === "SandboxTemplate" || o.kind === "Sandbox") return o.spec.podTemplate.spec;
  if (o.spec?.template?.spec) return o.spec.template.spec;
  throw new Error(`no pod spec in ${o.kind}`);
}
function assertSideloaded(o, method) {
  const spec = podSpecOf(o);
  const target = spec.containers.find((c) => c.command?.[0] === SUPERVISOR);
  assert.ok(target, `${o.kind}/${o.metadata.name}: no container runs ${SUPERVISOR}`);
  const m = mount(target, BIN);
  assert.ok(m && m.readOnly, `${o.kind}/${o.metadata.name}: ${BIN} not mounted read-only`);
  const v = volume(spec, m.name);
  if (method === "image-volume") {
    assert.ok(v?.image?.reference, `${o.kind}: image volume expected, got ${JSON.stringify(v)}`);
    assert.ok(!(spec.initContainers || []).some((c) => c.args?.[0] === "copy-self"));
  } else {
    assert.ok(v?.emptyDir, `${o.kind}: emptyDir expected, got ${JSON.stringify(v)}`);
    const ic = (spec.initContainers || []).find((c) => (c.volumeMounts || []).some((x) => x.name === m.name));
    assert.ok(ic, `${o.kind}: no init container fills ${m.name}`);
    assert.deepEqual(ic.args, ["copy-self", SUPERVISOR]);
  }
  assert.equal(target.securityContext?.seccompProfile?.type, "Unconfined");
  // The same measured list as the chart's agent container.
  const chartCaps = agent(ok(helmTemplate({}))).securityContext.capabilities;
  assert.deepEqual(target.securityContext.capabilities, chartCaps, `${o.kind}: capabilities differ from the chart's`);
  // Runs as it is: either SSH is off, or the gateway keys are mounted from a Secret.
  const sshOff = (target.env || []).some((e) => e.name === "OPENSHELL_SSH_LISTEN" && e.value === "off");
  const keys = (target.volumeMounts || []).find((x) => x.mountPath === "/etc/openshell/ssh");
  assert.ok(sshOff || (keys && volume(spec, keys.name)?.secret?.items?.some((i) => i.path === "authorized_keys")),
    `${o.kind}/${o.metadata.name}: SSH on without gateway keys: the supervisor would refuse to start`);
  return target;
}
for (const method of ["image-volume", "init-container"]) {
  test(`sideload example (${method}): kubectl kustomize renders a Pod and a SandboxTemplate with the supervisor delivered`, () => {
    const objs = kustomize(path.join(SIDELOAD, "examples", method));
    const pod = one(objs, "Pod");
    const st = one(objs, "SandboxTemplate");
    assert.deepEqual(objs.map((o) => o.kind).sort(), ["Deployment", "Job", "Pod", "SandboxTemplate"]);
    for (const o of objs) {
      const c = assertSideloaded(o, method);
      assert.deepEqual(c.args?.slice(0, 2), ["run", "--"], `${o.kind}: the original command becomes the main process after --`);
      assert.ok(c.args.length > 2, `${o.kind}: the original command is kept`);
    }
    const problems = [st, pod].flatMap((o) => validateObject(o, schemas));
    assert.deepEqual(problems, []);
    const p = core.get("PodTemplateSpec");
    for (const o of objs.filter((x) => x.spec.template)) {
      assert.ok(p(o.spec.template), `${o.kind} pod template rejected: ${JSON.stringify(p.errors?.slice(0, 3))}`);
    }
    // The patches add to an existing securityContext: the Deployment's own field stays.
    assert.equal(one(objs, "Deployment").spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem, true);
  });
}

test("sideload: the images transformer rewrites the supervisor image in both forms; unlabelled workloads are untouched", () => {
  const iv = kustomize(path.join(SIDELOAD, "examples", "image-volume"));
  for (const o of iv) {
    const spec = podSpecOf(o);
    assert.equal(volume(spec, "openshell-supervisor").image.reference, `registry.example.com/openshell/openshell-supervisor:${chartVersion()}`, `${o.kind}: image volume reference`);
  }
  const ic = kustomize(path.join(SIDELOAD, "examples", "init-container"));
  for (const o of ic) {
    assert.equal(podSpecOf(o).initContainers[0].image, `registry.example.com/openshell/openshell-supervisor:${chartVersion()}`, `${o.kind}: init container image`);
  }
  const dir = mkdtempSync(path.join(tmpdir(), "sideload-"));
  try {
    const pod = parseYaml(readFileSync(path.join(SIDELOAD, "examples", "base", "pod.yaml"), "utf8"));
    delete pod.metadata.labels;
    writeFileSync(path.join(dir, "pod.yaml"), JSON.stringify(pod));
    writeFileSync(path.join(dir, "kustomization.yaml"), `resources: [pod.yaml]\ncomponents: [${path.relative(dir, path.join(SIDELOAD, "components", "image-volume"))}]\n`);
    const out = one(kustomize(dir), "Pod");
    assert.deepEqual(out.spec, pod.spec, "a Pod without the label was changed");
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test("sideload: both components, or one applied twice, is an error (not run -- run --, not duplicate volumes)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "sideload-"));
  try {
    const rel = (p) => path.relative(dir, p);
    const comps = (list) => list.map((c) => rel(path.join(SIDELOAD, "components", c))).join(", ");
    writeFileSync(path.join(dir, "kustomization.yaml"), `resources: [${rel(path.join(SIDELOAD, "examples", "base"))}]\ncomponents: [${comps(["init-container", "image-volume"])}]\n`);
    let r = run(KUBECTL, ["kustomize", dir]);
    assert.notEqual(r.code, 0, "both components accepted");
    assert.match(r.stderr, /containers\/0\/command/);
    writeFileSync(path.join(dir, "kustomization.yaml"), `resources: [${rel(path.join(SIDELOAD, "examples", "image-volume"))}]\ncomponents: [${comps(["image-volume"])}]\n`);
    r = run(KUBECTL, ["kustomize", dir]);
    assert.notEqual(r.code, 0, "the same component applied twice was accepted");
    assert.match(r.stderr, /containers\/0\/command/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test("sideload: the components' patches are what sideload/generate.py writes (one template for every target shape)", () => {
  const r = run("python3", [path.join(SIDELOAD, "generate.py"), "--check"]);
  assert.equal(r.code, 0, r.stderr);
});

test("one version source: VERSION feeds meson, the chart, the sideload tags and the image", () => {
  const v = readFileSync(path.join(root, "VERSION"), "utf8").trim();
  assert.match(v, /^\d+\.\d+\.\d+/);
  assert.match(readFileSync(path.join(root, "meson.build"), "utf8"), /version: files\('VERSION'\)/);
  const chart = parseYaml(readFileSync(path.join(chartDir, "Chart.yaml"), "utf8"));
  assert.equal(chart.version, v);
  assert.equal(chart.appVersion, v);
  for (const m of ["image-volume", "init-container"]) {
    const k = parseYaml(readFileSync(path.join(SIDELOAD, "examples", m, "kustomization.yaml"), "utf8"));
    assert.equal(k.images[0].newTag, v, `examples/${m} newTag`);
  }
  assert.match(readFileSync(path.join(root, "image", "build.sh"), "utf8"), /VERSION/);
});

test("sideload: a target without the lists the patch appends to fails loudly, not silently", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "sideload-"));
  try {
    const pod = parseYaml(readFileSync(path.join(SIDELOAD, "examples", "base", "pod.yaml"), "utf8"));
    delete pod.spec.volumes;
    writeFileSync(path.join(dir, "pod.yaml"), JSON.stringify(pod));
    writeFileSync(path.join(dir, "kustomization.yaml"), `resources: [pod.yaml]\ncomponents: [${path.relative(dir, path.join(SIDELOAD, "components", "init-container"))}]\n`);
    const r = run(KUBECTL, ["kustomize", dir]);
    assert.notEqual(r.code, 0, "kustomize accepted a Pod without spec.volumes");
    assert.match(r.stderr, /volumes/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

// ------------------------------------------------------------------ runner --
// TAP on stdout (meson's protocol: 'tap'), so meson counts each check and
// each skip. Under OPENSHELL_TESTS_MUST_WORK=1 a skip is a failure: every
// check here guards what the cluster enforces, none may go quietly missing.
const mustWork = process.env.OPENSHELL_TESTS_MUST_WORK === "1";
const tapName = (name) => name.replace(/#/g, "no.");
const diag = (text) => String(text).split("\n").map((l) => `# ${l}`).join("\n");
let passed = 0, failed = 0, skipped = 0, n = 0;
for (const t of tests) {
  if (only && !only.test(t.name)) continue;
  n++;
  try {
    await t.fn();
    passed++;
    console.log(`ok ${n} - ${tapName(t.name)}`);
  } catch (e) {
    if (e instanceof Skip && !mustWork) {
      skipped++;
      console.log(`ok ${n} - ${tapName(t.name)} # SKIP ${e.why}`);
      continue;
    }
    failed++;
    const why = e instanceof Skip ? `would skip (${e.why}) but OPENSHELL_TESTS_MUST_WORK=1` : (e.message || e);
    console.log(`not ok ${n} - ${tapName(t.name)}\n${diag(why)}`);
  }
}
console.log(`1..${n}`);
console.log(`# ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed ? 1 : 0);
