import { runLocalFlare } from '../../worker-runtime/src/launch/local.js';
import { COLLECTIVES, minimumRemote } from '../../worker-runtime/src/collectives/minimum.js';
import { PackLayout } from '../../worker-runtime/src/topology.js';
import type { OpMeasure } from '../fixtures/collective.js';
import { fixture, REDIS_URL } from './helpers.js';

/**
 * Every collective sends exactly the theoretical minimum of remote payload bytes, and the fewest messages:
 * counted by the runtime at every worker, summed over the burst.
 */
describe('remote traffic of every collective is the minimum', () => {
  test.each([
    [7, [3, 3, 1], 3],
    [16, [5, 5, 5, 1], 7],
    [5, [1, 1, 1, 1, 1], 2],
    [6, [6], 4],
  ])('burst %i in packs %j, root %i', async (size, packSizes, root) => {
    const bytes = 4096;
    const r = await runLocalFlare({
      size,
      packSizes,
      transport: { kind: 'redis', url: REDIS_URL },
      modulePath: fixture('collective'),
      params: { value: { ops: COLLECTIVES, bytes, root, reps: 0 } },
    });
    expect(r.ok).toBe(true);
    const layout = PackLayout.fromSizes(packSizes);
    for (const [i, op] of COLLECTIVES.entries()) {
      let sent = 0;
      let recv = 0;
      let msgs = 0;
      for (const w of r.workers) {
        const m = (w.result as OpMeasure[])[i]!;
        expect(m.op).toBe(op);
        sent += m.traffic.remoteBytesSent;
        recv += m.traffic.remoteBytesRecv;
        msgs += m.traffic.remoteMsgsSent;
      }
      const min = minimumRemote(op, layout, bytes, root);
      expect({ op, sent, recv, msgs }).toEqual({ op, sent: min.bytes, recv: min.bytes, msgs: min.messages });
    }
  });
});
