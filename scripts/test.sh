#!/usr/bin/env bash
# `make test`: every test, against the local cluster (control plane + real node) started once for the run.
# The real-node e2e (jest project `node`) gets a time slot of its own after the others: its packs share 2
# cores with nothing else then. A cluster that already ran before (a developer's) is left running; one this
# script started is torn down at the end, and a teardown that leaves anything behind fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=${KUBEBURST_CLUSTER_DIR:-$PWD/.cache/cluster-state}

up_log=$(mktemp)
test/cluster/up.sh "$STATE" 2>&1 >/dev/null | tee "$up_log" >&2
if ! grep -q 'already running and healthy' "$up_log"; then
  teardown() {
    local rc=$?
    test/cluster/down.sh "$STATE" || rc=1
    exit "$rc"
  }
  trap teardown EXIT
fi
rm -f "$up_log"
test/cluster/node-up.sh "$STATE"

export KUBEBURST_CLUSTER_DIR=$STATE
npm test -- --selectProjects unit cluster
npm test -- --selectProjects node

# The gates backend once more, on the oldest supported control plane (the real node's kubelet version):
# kwok nodes only, a cluster of its own that the cluster project's globalSetup starts and stops (~1 min).
KUBEBURST_CONTROL_PLANE=oldest KUBEBURST_CLUSTER_DIR=$STATE-oldest KUBEBURST_REAL_NODE=0 KUBEBURST_GANG_BACKENDS=SchedulingGates \
  npm test -- --selectProjects cluster --testPathPatterns test/integration/gang.test.ts
