{{- define "kubeburst.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kubeburst.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "kubeburst.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "kubeburst.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kubeburst.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "kubeburst.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "kubeburst.workerImage" -}}
{{- printf "%s:%s" .Values.workerImage.repository (default .Chart.AppVersion .Values.workerImage.tag) -}}
{{- end -}}

{{/*
The operator's rules where BurstJobs are watched: a Role per watched namespace, or a ClusterRole when
watchNamespaces is empty.
*/}}
{{- define "kubeburst.jobRules" -}}
# The BurstJobs: list/watch them, add/remove the broker finalizer (patch), delete after ttlSecondsAfterFinished.
- apiGroups: [kubeburst.io]
  resources: [burstjobs]
  verbs: [list, watch, patch, delete]
# One status write per reconcile (PUT on the status subresource).
- apiGroups: [kubeburst.io]
  resources: [burstjobs/status]
  verbs: [update]
# Owner references with blockOwnerDeletion on what a BurstJob owns.
- apiGroups: [kubeburst.io]
  resources: [burstjobs/finalizers]
  verbs: [update]
# Pack pods: create (gated), lift gates (patch), delete. (list/watch: the cluster-wide ClusterRole.)
- apiGroups: [""]
  resources: [pods]
  verbs: [create, patch, delete]
# The job's headless Service (pack DNS names): watched so a lost one is re-created; one an earlier BurstJob
# of the same name left behind is read and replaced.
- apiGroups: [""]
  resources: [services]
  verbs: [list, watch, get, create, delete]
# Params and results ConfigMaps: created, or patched with a JSON patch that first tests the job owns it.
- apiGroups: [""]
  resources: [configmaps]
  verbs: [create, patch]
# The attempt Secret each flare's packs authenticate each other with: created, deleted when the attempt
# ends. Never read back (get/list stay off; rbac.readBrokerSecrets is separate).
- apiGroups: [""]
  resources: [secrets]
  verbs: [create, delete]
# gang.backend PodGroup (Kubernetes >= 1.37): one PodGroup per attempt, created before its pods, deleted
# when the attempt ends; watched to see kube-scheduler's PodGroupInitiallyScheduled condition. Harmless
# where the API is not served (the operator then never touches it).
- apiGroups: [scheduling.k8s.io]
  resources: [podgroups]
  verbs: [list, watch, create, delete]
# gang.backend Kueue: Kueue makes a Workload per pack pod group; watched (never written) to quote why a
# group waits. Harmless where Kueue is not installed.
- apiGroups: [kueue.x-k8s.io]
  resources: [workloads]
  verbs: [list, watch]
{{- if .Values.networkPolicy.enabled }}
# The packs' NetworkPolicy: likewise.
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [create, patch]
{{- end }}
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
{{- if .Values.rbac.readBrokerSecrets }}
# Only to delete broker keys of bursts whose URL is in spec.transport.secretRef.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
{{- end }}
{{- end -}}
