{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "traceiface.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the release name, with the chart's unless it already contains it. */}}
{{- define "traceiface.fullname" -}}
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

{{- define "traceiface.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "traceiface.selectorLabels" -}}
app.kubernetes.io/name: {{ include "traceiface.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "traceiface.labels" -}}
helm.sh/chart: {{ include "traceiface.chart" . }}
{{ include "traceiface.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "traceiface.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "traceiface.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "traceiface.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}

{{/* Capabilities: the base set, the legacy-kernel extras, then extraCapabilities. */}}
{{- define "traceiface.capabilities" -}}
{{- $caps := concat .Values.securityContext.capabilities .Values.securityContext.extraCapabilities }}
{{- if .Values.securityContext.legacyKernel }}
{{- $caps = concat $caps (list "SYS_ADMIN" "SYS_RESOURCE") }}
{{- end }}
{{- if .Values.k8s.enabled }}
{{- /* Pod identity's resolver thread alone keeps them (values.yaml: k8s). */}}
{{- $caps = concat $caps (list "SYS_PTRACE" "DAC_OVERRIDE") }}
{{- end }}
{{- toYaml (uniq $caps) }}
{{- end }}

{{/* Relabelings shared by the ServiceMonitor and the PodMonitor: instance = node name. */}}
{{- define "traceiface.relabelings" -}}
- sourceLabels: [__meta_kubernetes_pod_node_name]
  targetLabel: instance
- sourceLabels: [__meta_kubernetes_pod_node_name]
  targetLabel: node
{{- with .relabelings }}
{{ toYaml . }}
{{- end }}
{{- end }}
