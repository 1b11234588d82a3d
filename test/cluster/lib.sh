# shellcheck shell=bash
# Shared paths and helpers for test/cluster/*.sh. Sourced, never executed.
# shellcheck disable=SC2034 # the variables are used by the sourcing scripts

CLUSTER_SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$CLUSTER_SCRIPTS_DIR/../.." && pwd)

# shellcheck source=versions.env
. "$CLUSTER_SCRIPTS_DIR/versions.env"

# Everything generated lives under the gitignored .cache/ of the repo unless
# KUBEBURST_CACHE_DIR says otherwise (e.g. a cache shared between checkouts).
CACHE_ROOT=${KUBEBURST_CACHE_DIR:-$REPO_ROOT/.cache}
BIN_CACHE=$CACHE_ROOT/cluster
# Keyed by version so a bump never reuses a stale binary.
KUBELET_VERSION=${KUBELET_VERSION:-$KUBE_VERSION}
# KUBEBURST_CONTROL_PLANE=oldest: the control plane of the oldest supported Kubernetes, the kubelet's
# version (scripts/test.sh runs the gates backend's conformance there, on kwok nodes).
if [[ ${KUBEBURST_CONTROL_PLANE:-} == oldest ]]; then KUBE_VERSION=$KUBELET_VERSION; fi
KUBE_BIN_DIR=$BIN_CACHE/kubernetes-$KUBE_VERSION/bin
KUBELET_BIN_DIR=$BIN_CACHE/kubernetes-$KUBELET_VERSION/bin
ETCD_BIN_DIR=$BIN_CACHE/etcd-$ETCD_VERSION/bin
KWOK_BIN_DIR=$BIN_CACHE/kwok-$KWOK_VERSION/bin
KWOK_STAGE_DIR=$BIN_CACHE/kwok-$KWOK_VERSION/stages
HELM_BIN_DIR=$BIN_CACHE/helm-$HELM_VERSION/bin
COREDNS_BIN_DIR=$BIN_CACHE/coredns-$COREDNS_VERSION/bin
PAUSE_BIN_DIR=$BIN_CACHE/pause-$PAUSE_VERSION/bin
KUEUE_DIR=$BIN_CACHE/kueue-$KUEUE_VERSION
KUEUE_BIN_DIR=$KUEUE_DIR/bin
JOBSET_DIR=$BIN_CACHE/jobset-$JOBSET_VERSION
JOBSET_BIN_DIR=$JOBSET_DIR/bin
DEFAULT_STATE_DIR=$CACHE_ROOT/cluster-state

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The bin dir that holds a given binary name.
bin_dir_of() {
  case "$1" in
    kube-apiserver | kube-controller-manager | kube-scheduler | kubectl) echo "$KUBE_BIN_DIR" ;;
    kubelet) echo "$KUBELET_BIN_DIR" ;;
    coredns) echo "$COREDNS_BIN_DIR" ;;
    pause) echo "$PAUSE_BIN_DIR" ;;
    etcd) echo "$ETCD_BIN_DIR" ;;
    kwok) echo "$KWOK_BIN_DIR" ;;
    helm) echo "$HELM_BIN_DIR" ;;
    kueue) echo "$KUEUE_BIN_DIR" ;;
    jobset) echo "$JOBSET_BIN_DIR" ;;
    *) die "unknown binary: $1" ;;
  esac
}

# Components started by up.sh, in start order.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok kueue)
# Namespaces with this label are Kueue's (its managedJobsNamespaceSelector and pod webhooks).
KUEUE_NAMESPACE_LABEL=kubeburst.io/kueue=enabled

# Name of a component's pid variable in <state>/env:
# kube-apiserver -> KUBEBURST_PID_KUBE_APISERVER.
pid_var() {
  local v=${1//-/_}
  echo "KUBEBURST_PID_${v^^}"
}

# True if the pid runs (a zombie, dead but not yet reaped, counts as gone).
pid_alive() {
  [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null || return 1
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

# apt_install PKG...: Debian packages, as root (callers check for root first).
apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1 || {
    apt-get update -q >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
  } || die "apt-get install $* failed"
}

# The real node (node-up.sh / node-down.sh).
NODE_BRIDGE=kb0
NODE_BRIDGE_MAC=02:6b:62:00:00:01
NODE_GATEWAY=10.245.0.1
# The `kubernetes` Service's ClusterIP in 10.96.0.0/16 (up.sh's service range).
NODE_SERVICE_IP=10.96.0.1
NODE_LABEL=kubeburst.io/real-node
NODE_INFRA_NS=kubeburst-infra
NODE_CGROUP=/kubeburst-node
CNI_BIN_DIR=/usr/lib/cni
# Sockets and runtime state in /run under a short name (a unix socket path has
# at most 107 bytes; the checkout may be deep), one per cluster state dir.
node_run_dir() { echo "/run/kubeburst-node-$(echo "$1" | sha256sum | cut -c1-8)"; }
