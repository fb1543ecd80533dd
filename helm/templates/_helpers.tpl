{{/*
Names.
*/}}
{{- define "openshell.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "openshell.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "openshell.namespace" -}}
{{- default .Release.Namespace .Values.server.sandboxNamespace }}
{{- end }}

{{- define "openshell.gatewayNamespace" -}}
{{- default .Release.Namespace .Values.gateway.namespace }}
{{- end }}

{{/*
Labels. The selector labels are on every sandbox pod template and are what
the NetworkPolicy selects.
*/}}
{{- define "openshell.selectorLabels" -}}
app.kubernetes.io/name: {{ include "openshell.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: sandbox
{{- end }}

{{/*
Checksums on the pod template: agent-sandbox hashes the template, so a new
policy or key set replaces warm sandboxes. An existing ConfigMap or Secret
is read through lookup when the cluster can be asked (else its name counts).
*/}}
{{- define "openshell.policyChecksum" -}}
{{- if .Values.policy.existingConfigMap }}
{{- $cm := lookup "v1" "ConfigMap" (include "openshell.namespace" .) .Values.policy.existingConfigMap }}
{{- printf "%s/%s" .Values.policy.existingConfigMap (toJson (default (dict) $cm.data)) | sha256sum }}
{{- else }}
{{- toYaml .Values.policy.document | sha256sum }}
{{- end }}
{{- end }}

{{- define "openshell.keysChecksum" -}}
{{- if .Values.gateway.existingSecret }}
{{- $sec := lookup "v1" "Secret" (include "openshell.namespace" .) .Values.gateway.existingSecret }}
{{- printf "%s/%s" .Values.gateway.existingSecret (toJson (default (dict) $sec.data)) | sha256sum }}
{{- else }}
{{- .Values.gateway.authorizedKeys | trim | sha256sum }}
{{- end }}
{{- end }}

{{- define "openshell.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "openshell.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: openshell
{{- end }}

{{- define "openshell.serviceAccountName" -}}
{{- if .Values.sandboxServiceAccount.create }}
{{- default "openshell-sandbox" .Values.sandboxServiceAccount.name }}
{{- else }}
{{- default "default" .Values.sandboxServiceAccount.name }}
{{- end }}
{{- end }}

{{- define "openshell.policyConfigMap" -}}
{{- default (printf "%s-policy" (include "openshell.fullname" .)) .Values.policy.existingConfigMap }}
{{- end }}

{{- define "openshell.authorizedKeysSecret" -}}
{{- default (printf "%s-gateway-keys" (include "openshell.fullname" .)) .Values.gateway.existingSecret }}
{{- end }}

{{- define "openshell.supervisorImage" -}}
{{- $img := .Values.supervisor.image }}
{{- if $img.digest }}
{{- printf "%s@%s" $img.repository $img.digest }}
{{- else }}
{{- printf "%s:%s" $img.repository (default .Chart.AppVersion $img.tag) }}
{{- end }}
{{- end }}

{{- define "openshell.sshEnabled" -}}
{{- if ne .Values.sandbox.sshListen "off" }}true{{ end }}
{{- end }}

{{/*
The delivery method and why, as JSON {"method","reason"}: supervisor.sideloadMethod
when set; else, when the Nodes can be read (helm install/upgrade against a
cluster), image-volume only if every node's kubelet is >= 1.35 and its runtime
is containerd >= 2.1 or CRI-O >= 1.31 (kubelets lag the API server by up to
three minors); else (helm template) image-volume on Kubernetes >= 1.35.
*/}}
{{- define "openshell.delivery" -}}
{{- $m := .Values.supervisor.sideloadMethod | default "" }}
{{- $kube := .Capabilities.KubeVersion.Version }}
{{- if eq $m "" }}
{{- $nodes := lookup "v1" "Node" "" "" }}
{{- if and $nodes $nodes.items }}
{{- $old := list }}
{{- range $nodes.items }}
{{- $info := .status.nodeInfo }}
{{- $rt := $info.containerRuntimeVersion | default "" }}
{{- $rtName := regexReplaceAll "://.*$" $rt "" }}
{{- $rtVer := regexReplaceAll "^[^:]*://v?" $rt "" }}
{{- $rtOk := false }}
{{- if and (eq $rtName "containerd") (regexMatch "^[0-9]+\\.[0-9]+" $rtVer) }}{{ $rtOk = semverCompare ">=2.1.0-0" $rtVer }}{{ end }}
{{- if and (eq $rtName "cri-o") (regexMatch "^[0-9]+\\.[0-9]+" $rtVer) }}{{ $rtOk = semverCompare ">=1.31.0-0" $rtVer }}{{ end }}
{{- $kubeletOk := semverCompare ">=1.35.0-0" ($info.kubeletVersion | default "0.0.0") }}
{{- if not (and $rtOk $kubeletOk) }}
{{- $old = append $old (printf "%s (kubelet %s, %s)" .metadata.name ($info.kubeletVersion | default "?") (default "unknown runtime" $rt)) }}
{{- end }}
{{- end }}
{{- if $old }}
{{- dict "method" "init-container" "reason" (printf "%d of %d nodes cannot mount image volumes (they need kubelet >= 1.35 and containerd >= 2.1 or CRI-O >= 1.31): %s" (len $old) (len $nodes.items) (join ", " $old)) | toJson }}
{{- else }}
{{- dict "method" "image-volume" "reason" (printf "all %d nodes run kubelet >= 1.35 with containerd >= 2.1 or CRI-O >= 1.31" (len $nodes.items)) | toJson }}
{{- end }}
{{- else if semverCompare ">=1.35.0-0" $kube }}
{{- dict "method" "image-volume" "reason" (printf "Kubernetes %s >= 1.35 (the nodes could not be read: kubelets and runtimes not checked)" $kube) | toJson }}
{{- else }}
{{- dict "method" "init-container" "reason" (printf "Kubernetes %s < 1.35" $kube) | toJson }}
{{- end }}
{{- else if eq $m "init-container" }}
{{- dict "method" "init-container" "reason" "supervisor.sideloadMethod" | toJson }}
{{- else if eq $m "image-volume" }}
{{- if semverCompare "<1.31.0-0" $kube }}
{{- fail (printf "supervisor.sideloadMethod=image-volume needs Kubernetes >= 1.31 (image volumes; 1.31-1.34 with the ImageVolume feature gate), this cluster is %s: use init-container or leave it empty" $kube) }}
{{- end }}
{{- dict "method" "image-volume" "reason" "supervisor.sideloadMethod" | toJson }}
{{- else }}
{{- fail (printf "supervisor.sideloadMethod must be \"\" (automatic), \"image-volume\" or \"init-container\", not %q" $m) }}
{{- end }}
{{- end }}

{{- define "openshell.sideloadMethod" -}}
{{- (include "openshell.delivery" . | fromJson).method }}
{{- end }}

{{/*
Checks across values that the schema cannot express.
*/}}
{{- define "openshell.validate" -}}
{{- $s := .Values.sandbox }}
{{- if and (include "openshell.sshEnabled" .) (not .Values.gateway.authorizedKeys) (not .Values.gateway.existingSecret) }}
{{- fail "gateway.authorizedKeys (or gateway.existingSecret) is required: the supervisor's SSH bridge refuses to start without a gateway key. Set sandbox.sshListen=off to run without SSH." }}
{{- end }}
{{- if and .Values.gateway.authorizedKeys .Values.gateway.existingSecret }}
{{- fail "set only one of gateway.authorizedKeys and gateway.existingSecret" }}
{{- end }}
{{- if and .Values.networkPolicy.enabled (include "openshell.sshEnabled" .) (empty .Values.gateway.podSelector) }}
{{- fail "gateway.podSelector must name at least one label of the gateway pods: an empty selector would admit every pod of the gateway namespace" }}
{{- end }}
{{- range $k, $_ := $s.podLabels }}
{{- if has $k (list "app.kubernetes.io/name" "app.kubernetes.io/instance" "app.kubernetes.io/component") }}
{{- fail (printf "sandbox.podLabels must not set %s: the NetworkPolicy selects sandbox pods by it" $k) }}
{{- end }}
{{- end }}
{{- if ne (kindIs "invalid" $s.uid) (kindIs "invalid" $s.gid) }}
{{- fail "sandbox.uid and sandbox.gid go together: set both or neither" }}
{{- end }}
{{- if lt (int $s.terminationGracePeriodSeconds) (add (int $s.shutdownGraceSeconds) 5) }}
{{- fail (printf "sandbox.terminationGracePeriodSeconds (%d) must be at least sandbox.shutdownGraceSeconds (%d) + 5 so that the supervisor finishes its shutdown before Kubernetes kills it" (int $s.terminationGracePeriodSeconds) (int $s.shutdownGraceSeconds)) }}
{{- end }}
{{- if and .Values.server.enableUserNamespaces (semverCompare "<1.33.0-0" .Capabilities.KubeVersion.Version) }}
{{- fail (printf "server.enableUserNamespaces needs Kubernetes >= 1.33 (hostUsers: false), this cluster is %s" .Capabilities.KubeVersion.Version) }}
{{- end }}
{{- end }}
