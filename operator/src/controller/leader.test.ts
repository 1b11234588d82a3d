import { ApiError, type Json, type KubeClient } from './kube.js';
import { LeaderElector } from './leader.js';
import { Logger } from './log.js';

/** A Lease API in memory; `hang` makes every request wait forever (an API server that stopped answering). */
function leaseApi(): { kube: KubeClient; hang: (on: boolean) => void; lease: () => Json | undefined } {
  let lease: Json | undefined;
  let hanging = false;
  const never = new Promise<never>(() => undefined);
  const kube = {
    get: async (path: string) => {
      if (hanging) return never;
      if (lease === undefined) throw new ApiError(404, 'NotFound', 'no lease', 'GET', path);
      return structuredClone(lease);
    },
    create: async (_: string, body: Json) => {
      if (hanging) return never;
      lease = { ...body, metadata: { ...body.metadata, resourceVersion: '1' } };
      return lease;
    },
    replace: async (_: string, body: Json) => {
      if (hanging) return never;
      lease = body;
      return lease;
    },
  } as unknown as KubeClient;
  return { kube, hang: (on) => void (hanging = on), lease: () => lease };
}

const opts = { namespace: 'ns', name: 'kb', identity: 'me', leaseDurationMs: 1000, renewDeadlineMs: 150, retryPeriodMs: 20 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('leader election', () => {
  it('gives leadership up within renewDeadline when a renewal hangs (never after the lease may have passed on)', async () => {
    const api = leaseApi();
    const elector = new LeaderElector(api.kube, opts, new Logger('error'));
    let lostAt: number | undefined;
    await elector.acquire(() => void (lostAt = Date.now()));
    expect(api.lease()?.spec.holderIdentity).toBe('me');
    await sleep(60); // a few renewals succeed
    const lastGood = Date.now();
    api.hang(true);
    await sleep(opts.renewDeadlineMs + 200);
    expect(lostAt).toBeDefined();
    // Lost no later than renewDeadline after the last renewal that got through (plus timer slack).
    expect(lostAt! - lastGood).toBeLessThan(opts.renewDeadlineMs + 100);
    await elector.release();
  });

  it('keeps leading while renewals succeed, and releases the lease on shutdown', async () => {
    const api = leaseApi();
    const elector = new LeaderElector(api.kube, opts, new Logger('error'));
    let lost = false;
    await elector.acquire(() => void (lost = true));
    await sleep(400);
    expect(lost).toBe(false);
    await elector.release();
    expect(api.lease()?.spec.holderIdentity).toBe('');
  });
});
