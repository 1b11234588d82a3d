#!/usr/bin/env bash
# Makes sure Redis (127.0.0.1:6379) and NATS with JetStream (127.0.0.1:4222) answer, starting them when they are
# down and installing them from Debian's packages when missing and running as root. Otherwise it stops and
# says what to install. Idempotent: a second run with both up does nothing.
set -euo pipefail

REDIS_PORT=${REDIS_PORT:-6379}
NATS_PORT=${NATS_PORT:-4222}
STATE=${KUBEBURST_SERVICES_DIR:-${TMPDIR:-/tmp}/kubeburst-services}

say() { printf 'ensure-services: %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 100); do port_open "$1" && return 0; sleep 0.1; done
  return 1
}

install_pkg() {
  local pkg=$1
  if [ "$(id -u)" != 0 ]; then
    say "$pkg is not installed and this is not root: install it (Debian: sudo apt-get install -y $pkg) and rerun"
    exit 1
  fi
  say "installing $pkg from the OS packages"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >/dev/null 2>&1 || {
    apt-get update -q >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >/dev/null
  }
}

redis_up() {
  if port_open "$REDIS_PORT"; then return 0; fi
  command -v redis-server >/dev/null || install_pkg redis-server
  mkdir -p "$STATE/redis"
  say "starting redis-server on 127.0.0.1:$REDIS_PORT"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
    --dir "$STATE/redis" --logfile "$STATE/redis/redis.log"
  wait_port "$REDIS_PORT" || { say "redis-server did not start; see $STATE/redis/redis.log"; exit 1; }
}

nats_up() {
  if port_open "$NATS_PORT"; then return 0; fi
  local bin
  bin=$(command -v nats-server || true)
  [ -n "$bin" ] || [ ! -x /usr/sbin/nats-server ] || bin=/usr/sbin/nats-server
  if [ -z "$bin" ]; then install_pkg nats-server; bin=$(command -v nats-server || echo /usr/sbin/nats-server); fi
  mkdir -p "$STATE/nats"
  say "starting nats-server (JetStream) on 127.0.0.1:$NATS_PORT"
  nohup "$bin" -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$STATE/nats" -l "$STATE/nats/nats.log" >/dev/null 2>&1 &
  wait_port "$NATS_PORT" || { say "nats-server did not start; see $STATE/nats/nats.log"; exit 1; }
}

redis_up
nats_up
say "redis 127.0.0.1:$REDIS_PORT and nats 127.0.0.1:$NATS_PORT are up"
