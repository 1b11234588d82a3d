#!/usr/bin/env bash
# Creates (or updates) N fake kwok nodes in the cluster started by up.sh and
# waits until the scheduler can use them (Ready, not-ready taint removed).
#
# Usage: test/cluster/nodes.sh COUNT [CPU] [MEMORY] [PODS] [options]
#   defaults: CPU 32, MEMORY 128Gi, PODS 110 (allocatable = capacity)
#   --prefix NAME     node names NAME-0..NAME-(COUNT-1) (default kwok-node)
#   --label k=v       extra label (repeatable); every node has type=kwok
#   --taint           add kwok's usual taint kwok.x-k8s.io/node=fake:NoSchedule
#                     (off by default so ordinary pods schedule without a toleration)
#   --no-wait         don't wait for the nodes to become schedulable
#   --state DIR       state dir (default $KUBEBURST_CLUSTER_DIR, else <repo>/.cache/cluster-state)
# Example: test/cluster/nodes.sh 20 48 192Gi 110
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

STATE=${KUBEBURST_CLUSTER_DIR:-$DEFAULT_STATE_DIR}
PREFIX=kwok-node
TAINT=0
WAIT=1
LABELS=()
POSITIONAL=()
while (($# > 0)); do
  case "$1" in
    --prefix) PREFIX=$2; shift 2 ;;
    --label) LABELS+=("$2"); shift 2 ;;
    --taint) TAINT=1; shift ;;
    --no-wait) WAIT=0; shift ;;
    --state) STATE=$2; shift 2 ;;
    -h | --help) usage 0 ;;
    -*) usage ;;
    *) POSITIONAL+=("$1"); shift ;;
  esac
done
((${#POSITIONAL[@]} >= 1 && ${#POSITIONAL[@]} <= 4)) || usage
COUNT=${POSITIONAL[0]}
CPU=${POSITIONAL[1]:-32}
MEMORY=${POSITIONAL[2]:-128Gi}
PODS=${POSITIONAL[3]:-110}
[[ $COUNT =~ ^[0-9]+$ ]] || die "COUNT must be a number: $COUNT"

KUBECONFIG_FILE=$STATE/kubeconfig
[[ -f $KUBECONFIG_FILE ]] || die "no cluster in $STATE (run test/cluster/up.sh first)"
kubectl() { "$KUBE_BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

manifest() {
  local i name l
  for ((i = 0; i < COUNT; i++)); do
    name=$PREFIX-$i
    cat <<YAML
---
apiVersion: v1
kind: Node
metadata:
  name: $name
  annotations:
    # kwok manages exactly the nodes carrying this annotation (up.sh flag).
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    type: kwok
    kubernetes.io/arch: amd64
    kubernetes.io/os: linux
    kubernetes.io/hostname: $name
    node-role.kubernetes.io/agent: ""
YAML
    for l in "${LABELS[@]}"; do
      printf '    %s: "%s"\n' "${l%%=*}" "${l#*=}"
    done
    if ((TAINT)); then
      printf 'spec:\n  taints:\n  - key: kwok.x-k8s.io/node\n    value: fake\n    effect: NoSchedule\n'
    else
      printf 'spec: {}\n'
    fi
    cat <<YAML
status:
  allocatable: {cpu: "$CPU", memory: "$MEMORY", pods: "$PODS"}
  capacity: {cpu: "$CPU", memory: "$MEMORY", pods: "$PODS"}
YAML
  done
}

((COUNT > 0)) || exit 0
manifest | kubectl apply -f - >/dev/null
log "applied $COUNT node(s) $PREFIX-0..$PREFIX-$((COUNT - 1)) (cpu=$CPU memory=$MEMORY pods=$PODS)"
((WAIT)) || exit 0

# kwok's node-initialize stage marks them Ready; the node-lifecycle controller
# then drops the node.kubernetes.io/not-ready taint that admission put on them.
deadline=$((SECONDS + ${KUBEBURST_CLUSTER_TIMEOUT:-60}))
while :; do
  # shellcheck disable=SC2016 # a go-template, not shell
  not_ready=$(kubectl get nodes -o go-template='{{range .items}}{{$n := .metadata.name}}{{range .spec.taints}}{{if eq .key "node.kubernetes.io/not-ready"}}{{$n}} {{end}}{{end}}{{range .status.conditions}}{{if and (eq .type "Ready") (ne .status "True")}}{{$n}} {{end}}{{end}}{{end}}')
  pending=0
  for ((i = 0; i < COUNT; i++)); do
    if [[ " $not_ready " == *" $PREFIX-$i "* ]]; then pending=$((pending + 1)); fi
  done
  if ((pending == 0)); then break; fi
  ((SECONDS < deadline)) || die "$pending node(s) not schedulable yet; see $STATE/logs/kwok.log"
  sleep 0.2
done
log "$COUNT node(s) Ready and schedulable"
