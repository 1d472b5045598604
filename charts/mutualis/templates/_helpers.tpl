{{- define "mutualis.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "mutualis.selectorLabels" -}}
app.kubernetes.io/name: mutualis-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "mutualis.labels" -}}
{{ include "mutualis.selectorLabels" . }}
app.kubernetes.io/part-of: mutualis
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "mutualis.serviceAccountName" -}}
{{- default (include "mutualis.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}
