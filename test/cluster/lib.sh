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
KUBE_BIN_DIR=$BIN_CACHE/kubernetes-$KUBE_VERSION/bin
ETCD_BIN_DIR=$BIN_CACHE/etcd-$ETCD_VERSION/bin
KWOK_BIN_DIR=$BIN_CACHE/kwok-$KWOK_VERSION/bin
KWOK_STAGE_DIR=$BIN_CACHE/kwok-$KWOK_VERSION/stages
HELM_BIN_DIR=$BIN_CACHE/helm-$HELM_VERSION/bin
DEFAULT_STATE_DIR=$CACHE_ROOT/cluster-state

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The bin dir that holds a given binary name.
bin_dir_of() {
  case "$1" in
    kube-apiserver | kube-controller-manager | kube-scheduler | kubectl) echo "$KUBE_BIN_DIR" ;;
    etcd) echo "$ETCD_BIN_DIR" ;;
    kwok) echo "$KWOK_BIN_DIR" ;;
    helm) echo "$HELM_BIN_DIR" ;;
    *) die "unknown binary: $1" ;;
  esac
}

# Components started by up.sh, in start order.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

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
