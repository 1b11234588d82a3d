#!/usr/bin/env bash
# Tears down the real node that node-up.sh started, in order, and checks that
# nothing is left: pods deleted through the API (the kubelet stops their
# containers and releases their network), the Node object removed, kubelet
# stopped, leftover containers and shims killed, containerd stopped, CoreDNS
# and the forwarders stopped, mounts under the node's dirs unmounted, the
# kubelet's cgroups and iptables chains removed, the bridge deleted, the state
# and run dirs removed. Exits 1 naming whatever survived.
#
# Usage: test/cluster/node-down.sh [--keep-logs] [STATE_DIR]
# No -e: a teardown tries every step, and the check at the end says what survived.
set -uo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KEEP_LOGS=0
if [[ ${1:-} == --keep-logs ]]; then
  KEEP_LOGS=1
  shift
fi
STATE=${1:-${KUBEBURST_CLUSTER_DIR:-$DEFAULT_STATE_DIR}}
STATE=$(cd "$STATE" 2>/dev/null && pwd || echo "$STATE")
NODE_DIR=$STATE/node
RUN_DIR=$(node_run_dir "$STATE")
NODE_NAME=$(hostname)
GRACE=${KUBEBURST_STOP_GRACE:-10}

if [[ ! -e $NODE_DIR && ! -e $RUN_DIR ]] && ! ip link show "$NODE_BRIDGE" >/dev/null 2>&1; then
  exit 0
fi
[[ $(id -u) == 0 ]] || die "tearing down the real node needs root"
[[ ! -e $NODE_DIR || -f $NODE_DIR/.kubeburst-node-state ]] || die "$NODE_DIR has no node-up.sh marker; not touching it"

# Chains that were there before node-up.sh ran are not ours.
CHAINS_BEFORE=$(cat "$NODE_DIR/iptables-before" 2>/dev/null || true)
pid_of() { [[ -f $NODE_DIR/env ]] && sed -nE "s/^KUBEBURST_NODE_PID_$1=//p" "$NODE_DIR/env" || true; }
stop_pid() { # name pid: TERM, KILL after the grace period
  local name=$1 pid=$2 deadline
  [[ -n $pid ]] && pid_alive "$pid" || return 0
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + GRACE))
  while pid_alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
  if pid_alive "$pid"; then
    log "$name still alive after ${GRACE}s; sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 50); do pid_alive "$pid" || break; sleep 0.1; done
  fi
}

# 1. Pods, through the API while the kubelet still runs: it stops containers
#    and calls CNI DEL. Then the Node object (a stopped node is not NotReady
#    noise for the next cluster).
if [[ -f $STATE/kubeconfig && -x $KUBE_BIN_DIR/kubectl ]] && pid_alive "$(pid_of KUBELET)"; then
  k() { "$KUBE_BIN_DIR/kubectl" --kubeconfig "$STATE/kubeconfig" --request-timeout=10s "$@"; }
  if k get --raw /readyz >/dev/null 2>&1; then
    k delete pods -A --field-selector "spec.nodeName=$NODE_NAME" --grace-period=2 --wait=false >/dev/null 2>&1 || true
    deadline=$((SECONDS + 30))
    while [[ -n $(k get pods -A --field-selector "spec.nodeName=$NODE_NAME" -o name 2>/dev/null) ]] && ((SECONDS < deadline)); do sleep 0.5; done
    k delete node "$NODE_NAME" --wait=false >/dev/null 2>&1 || true
  fi
fi

# 2. kubelet, then whatever containers it left, then containerd and its shims.
stop_pid kubelet "$(pid_of KUBELET)"
if [[ -S $RUN_DIR/containerd.sock ]] && pid_alive "$(pid_of CONTAINERD)"; then
  ctr() { timeout 20 ctr --address "$RUN_DIR/containerd.sock" --namespace k8s.io "$@"; }
  for c in $(ctr tasks ls -q 2>/dev/null); do ctr tasks kill -s KILL "$c" >/dev/null 2>&1 || true; done
  sleep 0.5
  for c in $(ctr tasks ls -q 2>/dev/null); do ctr tasks delete -f "$c" >/dev/null 2>&1 || true; done
  for c in $(ctr containers ls -q 2>/dev/null); do ctr containers delete "$c" >/dev/null 2>&1 || true; done
fi
stop_pid containerd "$(pid_of CONTAINERD)"
# Shims outlive containerd by design; ours name our socket.
for p in $(pgrep -f "containerd-shim.*-address $RUN_DIR/" || true); do stop_pid containerd-shim "$p"; done
# Anything else still running from our dirs (a container's process whose shim died).
for p in $(pgrep -f "$RUN_DIR/|$NODE_DIR/" || true); do [[ $p != "$$" ]] && stop_pid "process $p" "$p"; done

# 3. DNS and forwarders.
for c in COREDNS FWD_API FWD_REDIS FWD_NATS; do stop_pid "${c,,}" "$(pid_of "$c")"; done

# 4. Mounts under our dirs, deepest first (the kubelet bind-mounts its root
#    onto itself; pods' token volumes are tmpfs; sandboxes' /dev/shm and
#    network namespaces live in the run dir).
unmount_under() {
  local dir=$1 m
  for _ in 1 2 3; do
    mapfile -t ms < <(awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r)
    ((${#ms[@]})) || return 0
    for m in "${ms[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  done
}
unmount_under "$NODE_DIR"
unmount_under "$RUN_DIR"

# 5. cgroups (children first) and the kubelet's iptables chains.
for h in /sys/fs/cgroup/*/; do
  [[ -d $h${NODE_CGROUP#/} ]] || continue
  find "$h${NODE_CGROUP#/}" -depth -type d -exec rmdir {} \; 2>/dev/null || true
done
for ipt in iptables ip6tables; do
  command -v "$ipt" >/dev/null || continue
  for t in filter nat mangle; do
    for chain in $("$ipt" -t "$t" -S 2>/dev/null | sed -nE 's/^-N (KUBE-[A-Z0-9-]+)$/\1/p'); do
      grep -qxF "$t $chain" <<<"$CHAINS_BEFORE" && continue
      # Rules that jump to it first, then the chain itself.
      { "$ipt" -t "$t" -S 2>/dev/null | grep -E -- "-j $chain( |$)" || true; } | sed 's/^-A/-D/' | while read -r rule; do
        # shellcheck disable=SC2086 # the rule is a list of words
        "$ipt" -t "$t" $rule 2>/dev/null || true
      done
      "$ipt" -t "$t" -F "$chain" 2>/dev/null || true
      "$ipt" -t "$t" -X "$chain" 2>/dev/null || true
    done
  done
done

# 6. The bridge (its addresses go with it) and container log links.
ip link del "$NODE_BRIDGE" 2>/dev/null || true
for l in /var/log/containers/*.log; do
  [[ -L $l && $(readlink "$l") == "$NODE_DIR"/* ]] && rm -f "$l"
done

# 7. State: keep the logs when asked (a failed start).
if ((KEEP_LOGS)) && [[ -d $NODE_DIR/logs ]]; then
  keep=$STATE/node-logs
  rm -rf "$keep" && mv "$NODE_DIR/logs" "$keep"
  log "node logs kept in $keep"
fi
rm -rf "$NODE_DIR" "$RUN_DIR"

# 8. Check.
left=()
[[ -z $(pgrep -f "$RUN_DIR/|$NODE_DIR/" || true) ]] || left+=("processes: $(pgrep -af "$RUN_DIR/|$NODE_DIR/" | tr '\n' ';')")
[[ -z $(awk -v a="$NODE_DIR" -v b="$RUN_DIR" 'index($5, a) == 1 || index($5, b) == 1' /proc/self/mountinfo) ]] || left+=("mounts")
for h in /sys/fs/cgroup/*/; do [[ -d $h${NODE_CGROUP#/} ]] && left+=("cgroup $h${NODE_CGROUP#/}"); done
ip link show "$NODE_BRIDGE" >/dev/null 2>&1 && left+=("bridge $NODE_BRIDGE")
[[ -e $NODE_DIR || -e $RUN_DIR ]] && left+=("state dirs")
for t in filter nat mangle; do
  for chain in $(iptables -t "$t" -S 2>/dev/null | sed -nE 's/^-N (KUBE-[A-Z0-9-]+)$/\1/p'); do
    grep -qxF "$t $chain" <<<"$CHAINS_BEFORE" || left+=("iptables $t $chain")
  done
done
if ((${#left[@]})); then
  log "ERROR: the real node left behind: ${left[*]}"
  exit 1
fi
log "node $NODE_NAME torn down; nothing left behind"
