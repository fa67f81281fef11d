{{/*
_helpers.tpl — names, labels and the RBAC rules shared by the chart's templates.
The rules are written once here and rendered into a ClusterRole (cluster mode) or
into a Role per watched namespace, so the two modes can never grant different verbs.
*/}}

{{- define "ballast.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ballast.fullname" -}}
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

{{- define "ballast.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ballast.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ballast.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ballast.labels" -}}
helm.sh/chart: {{ include "ballast.chart" . }}
{{ include "ballast.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ballast
{{- end }}

{{- define "ballast.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ballast.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ballast.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* Cluster-scoped objects are named after the release and its namespace: two releases
of the same name in different namespaces must not overwrite each other's ClusterRole. */}}
{{- define "ballast.clusterName" -}}
{{- printf "%s-%s" (include "ballast.fullname" .) .Release.Namespace | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ballast.webhookServiceName" -}}
{{- printf "%s-webhook" (include "ballast.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ballast.webhookSecretName" -}}
{{- printf "%s-webhook-tls" (include "ballast.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ballast.webhookCertName" -}}
{{- printf "%s-webhook" (include "ballast.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
What the reconcile loop does to namespaced objects, verb by verb (see operator/act and
operator/ctl): it reads PSCs and writes only their status; creates and deletes member
pods (a restart is a delete); creates, updates and deletes the other children; records
Events. physicalstatefulclusters/finalizers update: children carry an ownerReference
with blockOwnerDeletion, which clusters with the OwnerReferencesPermissionEnforcement
admission plugin (e.g. OpenShift) allow only to who may update the owner's finalizers.
*/}}
{{- define "ballast.namespacedRules" -}}
- apiGroups: [ballast.dev]
  resources: [physicalstatefulclusters]
  verbs: [get, list, watch]
- apiGroups: [ballast.dev]
  resources: [physicalstatefulclusters/status]
  verbs: [get, update, patch]
- apiGroups: [ballast.dev]
  resources: [physicalstatefulclusters/finalizers]
  verbs: [update]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch, create, delete]
- apiGroups: [""]
  resources: [pods/eviction]
  verbs: [create]
- apiGroups: [""]
  resources: [services, configmaps, persistentvolumeclaims]
  verbs: [get, list, watch, create, update, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, update, delete]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
{{- end }}

{{/* The watched namespaces, de-duplicated, as a JSON list (null and [] both mean every
namespace); use as: include "ballast.watchNamespaces" . | fromJsonArray */}}
{{- define "ballast.watchNamespaces" -}}
{{- .Values.watchNamespaces | default (list) | uniq | toJson }}
{{- end }}
