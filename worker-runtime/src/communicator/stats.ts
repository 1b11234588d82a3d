/**
 * Traffic a worker caused, in the user's payload bytes (BCM headers and batch tables are reported
 * separately by the pack as wire bytes). "local" = within the pack (shared memory), "remote" = across packs.
 */
export interface TrafficCounters {
  localMsgsSent: number;
  localBytesSent: number;
  localMsgsRecv: number;
  localBytesRecv: number;
  remoteMsgsSent: number;
  remoteBytesSent: number;
  remoteMsgsRecv: number;
  remoteBytesRecv: number;
}

export function emptyCounters(): TrafficCounters {
  return {
    localMsgsSent: 0,
    localBytesSent: 0,
    localMsgsRecv: 0,
    localBytesRecv: 0,
    remoteMsgsSent: 0,
    remoteBytesSent: 0,
    remoteMsgsRecv: 0,
    remoteBytesRecv: 0,
  };
}

export function addCounters(a: TrafficCounters, b: TrafficCounters): TrafficCounters {
  const out = emptyCounters();
  for (const k of Object.keys(out) as (keyof TrafficCounters)[]) out[k] = a[k] + b[k];
  return out;
}

export function diffCounters(after: TrafficCounters, before: TrafficCounters): TrafficCounters {
  const out = emptyCounters();
  for (const k of Object.keys(out) as (keyof TrafficCounters)[]) out[k] = after[k] - before[k];
  return out;
}
