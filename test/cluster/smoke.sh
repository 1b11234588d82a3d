#!/usr/bin/env bash
# End-to-end check of a cluster started by up.sh: scheduling gates, kwok
# Running/Succeeded/Failed, garbage collection, service-account tokens.
# Creates 2 fake nodes if there are none; works in a throwaway namespace.
#
# Usage: test/cluster/smoke.sh [STATE_DIR]
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STATE=${1:-${KUBEBURST_CLUSTER_DIR:-$DEFAULT_STATE_DIR}}
[[ -f $STATE/kubeconfig ]] || die "no cluster in $STATE (run test/cluster/up.sh first)"
kubectl() { "$KUBE_BIN_DIR/kubectl" --kubeconfig "$STATE/kubeconfig" "$@"; }

NS=kubeburst-smoke-$$
passed=0
failed=0
check() { # description command...
  local what=$1
  shift
  if "$@" >/dev/null 2>&1; then
    passed=$((passed + 1))
    log "ok   $what"
  else
    failed=$((failed + 1))
    log "FAIL $what"
  fi
}
cleanup() { kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true; }
trap cleanup EXIT

if [[ -z $(kubectl get nodes -l type=kwok -o name) ]]; then
  "$CLUSTER_SCRIPTS_DIR/nodes.sh" 2 --state "$STATE"
fi
kubectl create namespace "$NS" >/dev/null
# Pods need the namespace's default ServiceAccount (ServiceAccount admission).
for _ in $(seq 1 100); do
  kubectl -n "$NS" get serviceaccount default >/dev/null 2>&1 && break
  sleep 0.1
done

pod() { # name annotations-json gates-yaml
  kubectl -n "$NS" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: $1
  annotations: $2
spec:
  restartPolicy: Never
  $3
  containers:
  - name: main
    image: example.invalid/kubeburst-worker:test
    resources: {requests: {cpu: 100m, memory: 64Mi}}
EOF
}
phase_is() { # pod phase
  kubectl -n "$NS" wait --for=jsonpath='{.status.phase}'="$2" "pod/$1" --timeout=30s
}
# shellcheck disable=SC2016 # jsonpath, not shell
gated_and_unbound() {
  [[ $(kubectl -n "$NS" get pod gated -o jsonpath='{.status.phase}/{.spec.nodeName}/{.status.conditions[?(@.type=="PodScheduled")].reason}') == Pending//SchedulingGated ]]
}

# 1. Scheduling gates hold a pod; removing them lets it schedule and run.
pod gated '{}' 'schedulingGates: [{name: kubeburst.io/hold}]'
sleep 2
check "gated pod stays Pending/SchedulingGated" gated_and_unbound
kubectl -n "$NS" patch pod gated --type=json -p='[{"op":"remove","path":"/spec/schedulingGates"}]' >/dev/null
check "ungated pod is bound and Running (kwok)" phase_is gated Running

# 2. kwok stages: the annotation finishes a pod.
kubectl -n "$NS" annotate pod gated kubeburst.io/kwok-phase=Succeeded >/dev/null
check "annotated pod goes Succeeded" phase_is gated Succeeded
pod failer '{kubeburst.io/kwok-phase: Failed, kubeburst.io/kwok-exit-code: "3"}' ''
check "pod annotated Failed at creation goes Failed" phase_is failer Failed
check "failed pod reports exit code 3" test "$(kubectl -n "$NS" get pod failer \
  -o jsonpath='{.status.containerStatuses[0].state.terminated.exitCode}')" = 3

# 3. Garbage collector (kube-controller-manager) deletes dependents.
kubectl -n "$NS" create configmap owner >/dev/null
uid=$(kubectl -n "$NS" get configmap owner -o jsonpath='{.metadata.uid}')
pod owned '{}' ''
kubectl -n "$NS" patch pod owned --type=merge \
  -p "{\"metadata\":{\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"owner\",\"uid\":\"$uid\"}]}}" >/dev/null
kubectl -n "$NS" delete configmap owner >/dev/null
check "pod owned by a deleted ConfigMap is garbage collected" \
  kubectl -n "$NS" wait --for=delete pod/owned --timeout=30s

# 4. TokenRequest works (service-account signing key + issuer).
check "kubectl create token default" \
  bash -c "[[ \$('$KUBE_BIN_DIR/kubectl' --kubeconfig '$STATE/kubeconfig' -n '$NS' create token default) == *.*.* ]]"

echo "smoke: $passed passed, $failed failed"
((failed == 0))
