{{/*
The sandbox pod, shared by the SandboxTemplate and the `helm test` pod.
Called with (dict "ctx" $ "args" (list "run")).
*/}}

{{/*
Capabilities of the agent container, measured (tests/containers runs the
supervisor with --cap-drop=all plus exactly this list):
  SYS_ADMIN  clone() of the mount, PID, IPC and UTS namespaces, mounts;
  SETUID     writing the sandbox's uid_map;
  SETGID     setgroups() and the gid_map;
  NET_ADMIN  bringing up loopback in the sandbox's own network namespace
             (network mode proxy, the default, or none);
  SYS_PTRACE with its own network namespace, `run` opens the sandbox init's
             /proc/PID/ns/net, and that process is not dumpable: without it
             `run` exits 4 with "open /proc/N/ns/net: Permission denied"
             (`check` does not need it). Passing that descriptor from the
             sandbox init instead would make it unnecessary;
  NET_BIND_SERVICE  the egress proxy's DNS server binds 127.0.0.1:53 in the
             sandbox's network namespace (network mode proxy).
  SETPCAP    the supervisor drops its own bounding set once the sandbox
             and its listeners are up (PR_CAPBSET_DROP; exit 6 without it). Everything else the runtime grants by default is dropped.
*/}}
{{- define "openshell.capabilities" -}}
{{- toJson (list "SYS_ADMIN" "SETUID" "SETGID" "NET_ADMIN" "SYS_PTRACE" "NET_BIND_SERVICE" "SETPCAP") }}
{{- end }}

{{- define "openshell.podSpec" -}}
{{- $ := .ctx }}
{{- $method := include "openshell.sideloadMethod" $ }}
{{- $s := $.Values.sandbox }}
{{- $binDir := "/opt/openshell/bin" }}
{{- $ssh := include "openshell.sshEnabled" $ }}
{{- $resources := deepCopy (default (dict) $s.resources) }}
{{- if gt (int $s.gpuCount) 0 }}
{{- $limits := deepCopy (default (dict) (get $resources "limits")) }}
{{- $_ := set $limits "nvidia.com/gpu" (int $s.gpuCount) }}
{{- $_ := set $resources "limits" $limits }}
{{- end }}
{{- $seed := and $s.seedWorkspace (not .test) }}
# The supervisor is PID 1 and the agent's exit ends the sandbox.
restartPolicy: Never
serviceAccountName: {{ include "openshell.serviceAccountName" $ }}
automountServiceAccountToken: false
enableServiceLinks: false
terminationGracePeriodSeconds: {{ $s.terminationGracePeriodSeconds }}
{{- if $.Values.server.enableUserNamespaces }}
hostUsers: false
{{- end }}
{{- if and $s.workspaceOwnership (not (kindIs "invalid" $s.gid)) }}
# The workspace claim is usually root-owned 0755: the kubelet gives it to the
# sandbox gid (the sandbox processes' primary group), once.
securityContext:
  fsGroup: {{ $s.gid | int64 }}
  fsGroupChangePolicy: OnRootMismatch
{{- end }}
{{- with $.Values.server.sandboxImagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- with $s.runtimeClassName }}
runtimeClassName: {{ . }}
{{- end }}
{{- with $s.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $s.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $s.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $s.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if or (eq $method "init-container") $seed }}
initContainers:
  {{- if eq $method "init-container" }}
  # The supervisor image has no shell: the binary copies itself.
  - name: install-supervisor
    image: {{ include "openshell.supervisorImage" $ }}
    imagePullPolicy: {{ $.Values.supervisor.image.pullPolicy }}
    args: ["copy-self", "{{ $binDir }}/openshell-supervisor"]
    securityContext:
      runAsNonRoot: true
      runAsUser: 65532
      runAsGroup: 65532
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities:
        drop: ["ALL"]
      seccompProfile:
        type: RuntimeDefault
    {{- with $.Values.supervisor.initContainerResources }}
    resources:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    volumeMounts:
      - name: openshell-supervisor
        mountPath: {{ $binDir }}
  {{- end }}
  {{- if $seed }}
  # The claim hides the image's {{ $s.workdir }} (the sandbox user's home:
  # .bashrc, .profile, skills): copy it into an empty claim once.
  - name: seed-workspace
    image: {{ $.Values.server.sandboxImage }}
    {{- with $.Values.server.sandboxImagePullPolicy }}
    imagePullPolicy: {{ . }}
    {{- end }}
    command: ["sh", "-c", {{ include "openshell.seedScript" $ | quote }}]
    env:
      - name: SOURCE
        value: {{ $s.workdir | quote }}
    securityContext:
      {{- if not (kindIs "invalid" $s.uid) }}
      runAsUser: {{ $s.uid | int64 }}
      runAsGroup: {{ $s.gid | int64 }}
      runAsNonRoot: true
      {{- end }}
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities:
        drop: ["ALL"]
      seccompProfile:
        type: RuntimeDefault
    {{- with $.Values.supervisor.initContainerResources }}
    resources:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    volumeMounts:
      - name: workspace
        mountPath: /openshell-seed
  {{- end }}
{{- end }}
containers:
  - name: agent
    image: {{ $.Values.server.sandboxImage }}
    {{- with $.Values.server.sandboxImagePullPolicy }}
    imagePullPolicy: {{ . }}
    {{- end }}
    command: ["{{ $binDir }}/openshell-supervisor"]
    args: {{ toJson .args }}
    # DESIGN §6: the supervisor builds namespaces, Landlock and its own
    # seccomp filter. Every default capability is dropped; what is added
    # is the measured minimum (openshell.capabilities).
    securityContext:
      runAsUser: 0
      runAsGroup: 0
      runAsNonRoot: false
      readOnlyRootFilesystem: {{ $s.securityContext.readOnlyRootFilesystem }}
      capabilities:
        drop: ["ALL"]
        add: {{ include "openshell.capabilities" $ }}
      seccompProfile:
        {{- toYaml $s.securityContext.seccompProfile | nindent 8 }}
      appArmorProfile:
        {{- toYaml $s.securityContext.appArmorProfile | nindent 8 }}
    {{- if and $ssh (not .test) }}
    ports:
      - name: ssh
        containerPort: {{ $s.sshPort }}
        protocol: TCP
    # Ready once the SSH bridge accepts connections: the sandbox is built
    # and the gateway can reach it.
    startupProbe:
      tcpSocket:
        port: ssh
      periodSeconds: 2
      failureThreshold: 60
    readinessProbe:
      tcpSocket:
        port: ssh
      periodSeconds: 10
    {{- end }}
    env:
      - name: OPENSHELL_SANDBOX
        valueFrom:
          fieldRef:
            fieldPath: metadata.name
      - name: OPENSHELL_SANDBOX_ID
        valueFrom:
          fieldRef:
            fieldPath: metadata.uid
      - name: OPENSHELL_POLICY_FILE
        value: /etc/openshell/policy/policy.yaml
      - name: OPENSHELL_WORKDIR
        value: {{ $s.workdir | quote }}
      - name: OPENSHELL_SSH_LISTEN
        value: {{ ternary (printf "[::]:%d" (int $s.sshPort)) "off" (and (eq $ssh "true") (not .test)) | quote }}
      {{- if and $ssh (not .test) }}
      - name: OPENSHELL_SSH_AUTHORIZED_KEYS_FILE
        value: /etc/openshell/ssh/authorized_keys
      {{- end }}
      {{- if and $s.sshHostKeySecret (not .test) }}
      - name: OPENSHELL_SSH_HOST_KEY_FILE
        value: /etc/openshell/ssh-host/ssh_host_ed25519_key
      {{- end }}
      - name: OPENSHELL_SHUTDOWN_GRACE_SECS
        value: {{ $s.shutdownGraceSeconds | quote }}
      - name: OPENSHELL_LOG_LEVEL
        value: {{ $.Values.supervisor.logLevel | quote }}
      {{- if $s.mainProcess.command }}
      - name: OPENSHELL_MAIN_PROCESS_SPEC
        value: {{ dict "version" 1 "command" $s.mainProcess.command "tty" $s.mainProcess.tty | toJson | quote }}
      {{- end }}
      {{- if not (kindIs "invalid" $s.uid) }}
      - name: OPENSHELL_SANDBOX_UID
        value: {{ $s.uid | int64 | quote }}
      - name: OPENSHELL_SANDBOX_GID
        value: {{ $s.gid | int64 | quote }}
      {{- end }}
      {{- with $s.userEnvironment }}
      - name: OPENSHELL_USER_ENVIRONMENT
        value: {{ toJson . | quote }}
      {{- end }}
      {{- with $s.extraEnv }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
    {{- with $resources }}
    resources:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    terminationMessagePolicy: FallbackToLogsOnError
    volumeMounts:
      - name: openshell-supervisor
        mountPath: {{ $binDir }}
        readOnly: true
      # A directory, not a subPath: ConfigMap updates reach running pods.
      - name: openshell-policy
        mountPath: /etc/openshell/policy
        readOnly: true
      {{- if and $ssh (not .test) }}
      - name: openshell-gateway-keys
        mountPath: /etc/openshell/ssh
        readOnly: true
      {{- end }}
      {{- if and $s.sshHostKeySecret (not .test) }}
      - name: openshell-ssh-host-key
        mountPath: /etc/openshell/ssh-host
        readOnly: true
      {{- end }}
      - name: workspace
        mountPath: {{ $s.workdir }}
volumes:
  {{- if eq $method "image-volume" }}
  - name: openshell-supervisor
    image:
      reference: {{ include "openshell.supervisorImage" $ }}
      pullPolicy: {{ $.Values.supervisor.image.pullPolicy }}
  {{- else }}
  - name: openshell-supervisor
    emptyDir:
      sizeLimit: 64Mi
  {{- end }}
  - name: openshell-policy
    configMap:
      name: {{ include "openshell.policyConfigMap" $ }}
      items:
        - key: policy.yaml
          path: policy.yaml
  {{- if and $ssh (not .test) }}
  - name: openshell-gateway-keys
    secret:
      secretName: {{ include "openshell.authorizedKeysSecret" $ }}
      defaultMode: 0400
      items:
        - key: authorized_keys
          path: authorized_keys
  {{- end }}
  {{- if and $s.sshHostKeySecret (not .test) }}
  - name: openshell-ssh-host-key
    secret:
      secretName: {{ $s.sshHostKeySecret }}
      defaultMode: 0400
      items:
        - key: ssh_host_ed25519_key
          path: ssh_host_ed25519_key
  {{- end }}
  {{- if .test }}
  - name: workspace
    emptyDir: {}
  {{- end }}
{{- end }}

{{/*
The seed init container's script: copies $SOURCE (the image's workdir) into
the claim mounted at /openshell-seed when the claim is empty, then leaves a
marker so that it never runs again (a workspace the agent emptied stays empty).
*/}}
{{- define "openshell.seedScript" -}}
set -eu
dest=/openshell-seed
if [ -e "$dest/.openshell-seeded" ]; then echo "workspace already seeded"; exit 0; fi
if [ -n "$(ls -A "$dest" | grep -v '^lost+found$' || true)" ]; then
  echo "workspace not empty: not seeded"
else
  [ -d "$SOURCE" ] || { echo "the image has no $SOURCE to seed from"; exit 1; }
  # Entry by entry: the claim's root keeps its owner and mode (fsGroup's).
  find "$SOURCE" -mindepth 1 -maxdepth 1 -exec cp -a {} "$dest/" \;
  echo "workspace seeded from the image's $SOURCE"
fi
touch "$dest/.openshell-seeded"
{{- end }}
