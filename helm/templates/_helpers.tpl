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
{{- default (printf "%s-sandbox" (include "openshell.fullname" .)) .Values.sandboxServiceAccount.name }}
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
The delivery method: supervisor.sideloadMethod when set, else image-volume on
Kubernetes >= 1.35 (ImageVolume on by default) and init-container below.
*/}}
{{- define "openshell.sideloadMethod" -}}
{{- $m := .Values.supervisor.sideloadMethod | default "" }}
{{- $kube := .Capabilities.KubeVersion.Version }}
{{- if eq $m "" }}
{{- if semverCompare ">=1.35.0-0" $kube }}image-volume{{ else }}init-container{{ end }}
{{- else if eq $m "init-container" }}init-container
{{- else if eq $m "image-volume" }}
{{- if semverCompare "<1.31.0-0" $kube }}
{{- fail (printf "supervisor.sideloadMethod=image-volume needs Kubernetes >= 1.31 (image volumes; 1.31-1.34 with the ImageVolume feature gate), this cluster is %s: use init-container or leave it empty" $kube) }}
{{- end }}image-volume
{{- else }}
{{- fail (printf "supervisor.sideloadMethod must be \"\" (automatic), \"image-volume\" or \"init-container\", not %q" $m) }}
{{- end }}
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
{{- if ge (int $s.shutdownGraceSeconds) (int $s.terminationGracePeriodSeconds) }}
{{- fail (printf "sandbox.shutdownGraceSeconds (%d) must be below sandbox.terminationGracePeriodSeconds (%d) so that the supervisor exits before Kubernetes kills it" (int $s.shutdownGraceSeconds) (int $s.terminationGracePeriodSeconds)) }}
{{- end }}
{{- if and .Values.server.enableUserNamespaces (semverCompare "<1.33.0-0" .Capabilities.KubeVersion.Version) }}
{{- fail (printf "server.enableUserNamespaces needs Kubernetes >= 1.33 (hostUsers: false), this cluster is %s" .Capabilities.KubeVersion.Version) }}
{{- end }}
{{- end }}
