#!/usr/bin/env bash
# Stops the cluster that up.sh started from a state dir, by the pids recorded
# in <state>/env (TERM, then KILL after a grace period), then deletes the
# state dir.
#
# Usage: test/cluster/down.sh [--keep] [STATE_DIR]
#   --keep     stop the processes but keep the state dir (logs, certs)
#   STATE_DIR  defaults to $KUBEBURST_CLUSTER_DIR, else <repo>/.cache/cluster-state
#   KUBEBURST_STOP_GRACE  seconds to wait after TERM (default 10)
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KEEP=0
if [[ ${1:-} == --keep ]]; then
  KEEP=1
  shift
fi
STATE=${1:-${KUBEBURST_CLUSTER_DIR:-$DEFAULT_STATE_DIR}}
if [[ ! -d $STATE ]]; then
  log "nothing to stop: $STATE does not exist"
  exit 0
fi
STATE=$(cd "$STATE" && pwd)
GRACE=${KUBEBURST_STOP_GRACE:-10}

# The real node first: its kubelet needs the API server to delete its pods.
node_failed=0
if [[ -e $STATE/node || -e $(node_run_dir "$STATE") ]]; then
  "$CLUSTER_SCRIPTS_DIR/node-down.sh" "$STATE" || node_failed=1
fi

# Only signal a pid whose command line names this state dir: after a reboot
# or a long time the recorded pid may belong to someone else.
ours() {
  pid_alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$STATE"
}

pids=()
if [[ -f $STATE/env ]]; then
  # Reverse start order: clients first, etcd last.
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    c=${COMPONENTS[i]}
    pid=$(sed -nE "s/^$(pid_var "$c")=//p" "$STATE/env")
    if ours "$pid"; then
      log "stopping $c (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
fi

deadline=$((SECONDS + GRACE))
for pid in "${pids[@]}"; do
  while pid_alive "$pid" && ((SECONDS < deadline)); do
    sleep 0.1
  done
  if pid_alive "$pid"; then
    log "pid $pid still alive after ${GRACE}s; sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
done
for pid in "${pids[@]}"; do
  for ((i = 0; i < 50; i++)); do
    pid_alive "$pid" || break
    sleep 0.1
  done
  if pid_alive "$pid"; then log "WARNING: pid $pid survived KILL"; fi
done

if ((KEEP)); then
  log "stopped; kept $STATE"
elif [[ -f $STATE/.kubeburst-cluster-state ]]; then
  rm -rf "$STATE"
  log "stopped; removed $STATE"
else
  # Not made by up.sh (no marker): never rm -rf a directory we don't own.
  log "stopped; $STATE has no up.sh marker, left in place"
fi
if ((node_failed)); then
  log "ERROR: the real node was not torn down cleanly (see above)"
  exit 1
fi
