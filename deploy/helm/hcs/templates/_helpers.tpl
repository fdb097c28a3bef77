{{/*
Labels of every object: `component` is the part of HCS it belongs to (agent, extender, ...).
Call with (dict "root" $ "component" "agent").
*/}}
{{- define "hcs.labels" -}}
{{ include "hcs.selector" . }}
app.kubernetes.io/part-of: hcs
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end }}

{{/* The labels a workload selects its pods by: stable across upgrades (selectors are immutable). */}}
{{- define "hcs.selector" -}}
app.kubernetes.io/name: hcs-{{ .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* repository:tag of an HCS image; the tag defaults to the chart's appVersion. */}}
{{- define "hcs.image" -}}
{{ .image.repository }}:{{ .image.tag | default .root.Chart.AppVersion }}
{{- end }}

{{/*
kube-scheduler's tag: the value, else the cluster's own version (v1.31.4-eks-... -> v1.31.4):
a kube-scheduler newer than its API server is outside Kubernetes' version skew policy.
*/}}
{{- define "hcs.schedulerImage" -}}
{{- $tag := .Values.scheduler.image.tag | default (regexFind "^v[0-9]+\\.[0-9]+\\.[0-9]+" .Capabilities.KubeVersion.Version) -}}
{{ .Values.scheduler.image.repository }}:{{ $tag }}
{{- end }}

{{/* "true" when certificates come from cert-manager (forced, or auto and the API is served). */}}
{{- define "hcs.certManager" -}}
{{- $mode := .Values.certificates.mode -}}
{{- if or (eq $mode "cert-manager") (and (eq $mode "auto") (.Capabilities.APIVersions.Has "cert-manager.io/v1")) -}}
true
{{- end -}}
{{- end }}

{{/* "true" when ServiceMonitors are rendered. */}}
{{- define "hcs.serviceMonitors" -}}
{{- if and .Values.serviceMonitors.enabled (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1") -}}
true
{{- end -}}
{{- end }}

{{/* A Service's in-cluster DNS names, for a serving certificate. Call with (list $ "name"). */}}
{{- define "hcs.dnsNames" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $ns := $root.Release.Namespace -}}
- {{ $name }}
- {{ $name }}.{{ $ns }}
- {{ $name }}.{{ $ns }}.svc
- {{ $name }}.{{ $ns }}.svc.{{ $root.Values.clusterDomain }}
{{- end }}

{{/* The pod-level settings every HCS workload shares: pull secrets, placement, priority. */}}
{{- define "hcs.podCommon" -}}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- if .values.affinity }}
affinity:
  {{- toYaml .values.affinity | nindent 2 }}
{{- else if .spread }}
# Replicas on different nodes where possible, so one node's loss keeps a standby.
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "hcs.selector" (dict "component" .component) | nindent 14 }}
{{- end }}
{{- end }}

{{/* A container's securityContext for HCS's servers: no root, no privileges, read-only root. */}}
{{- define "hcs.restricted" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Environment value of a setting: lists and maps as JSON (pydantic-settings reads JSON). */}}
{{- define "hcs.envValue" -}}
{{- if or (kindIs "slice" .) (kindIs "map" .) -}}
{{ toJson . | quote }}
{{- else if and (kindIs "float64" .) (eq . (floor .)) -}}
{{/* Helm reads every YAML number as a float: 4194304 would print as 4.194304e+06 */}}
{{- int64 . | toString | quote }}
{{- else -}}
{{ toString . | quote }}
{{- end -}}
{{- end }}
