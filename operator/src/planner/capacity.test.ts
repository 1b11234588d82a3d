import { admit, fitCount, ineligible, place, roomOf, tolerates, type GangDemand } from './capacity.js';
import { GI, node, nodes } from '../testing/planner.js';

const gang = (count: number, cores: number, extra: Partial<GangDemand> = {}): GangDemand => ({
  key: 'ns/g',
  groups: [{ request: { cpu: cores * 1000, memory: GI, pods: 1 }, count }],
  ...extra,
});

describe('room', () => {
  it.each([
    [{ cpu: 48_000, memory: 64 * GI, pods: 110 }, { cpu: 12_000, memory: GI, pods: 1 }, 4],
    [{ cpu: 48_000, memory: 2 * GI, pods: 110 }, { cpu: 1_000, memory: GI, pods: 1 }, 2],
    [{ cpu: 48_000, memory: 64 * GI, pods: 3 }, { cpu: 1_000, memory: GI, pods: 1 }, 3],
    [{ cpu: -500, memory: 64 * GI, pods: 3 }, { cpu: 1_000, memory: GI, pods: 1 }, 0],
  ])('fitCount(%j, %j) = %d', (room, req, n) => expect(fitCount(room, req)).toBe(n));

  it.each([
    [[{ key: 'a', operator: 'Exists' as const }], { key: 'a', effect: 'NoSchedule' }, true],
    [[{ key: 'a', value: 'x' }], { key: 'a', value: 'y', effect: 'NoSchedule' }, false],
    [[{ key: 'a', value: 'x', effect: 'NoExecute' }], { key: 'a', value: 'x', effect: 'NoSchedule' }, false],
    [[{ operator: 'Exists' as const }], { key: 'anything', effect: 'NoExecute' }, true],
  ])('tolerations %j tolerate %j: %s', (tols, taint, want) => expect(tolerates(tols, taint)).toBe(want));

  it('explains why a node is not eligible', () => {
    expect(ineligible(node('a').taint('gpu', 'NoSchedule', 'yes').obj(), {})).toBe('taint gpu=yes:NoSchedule not tolerated');
    expect(ineligible(node('a').obj(), { nodeSelector: { pool: 'x' } })).toBe('label pool=x missing');
    expect(ineligible(node('a').cordoned().obj(), {})).toBe('not ready or cordoned');
    expect(ineligible(node('a').taint('soft', 'PreferNoSchedule').obj(), {})).toBeNull();
  });

  it('places best-fit, keeping whole nodes free for bigger gangs', () => {
    const ns = [node('a').cpu(48).obj(), node('b').cpu(48).free(12).obj()];
    const room = roomOf(ns);
    expect(place(gang(1, 12), ns, room, true)).toBe(1);
    expect(room.get('a')!.cpu).toBe(48_000);
    expect(room.get('b')!.cpu).toBe(0);
  });
});

describe('admission', () => {
  it('admits a gang only whole', () => {
    expect(admit(gang(20, 48), nodes(20, 48))).toEqual({ admit: true });
    expect(admit(gang(21, 48), nodes(20, 48))).toMatchObject({ admit: false, reason: 'InsufficientCapacity', placeable: 20 });
  });

  it('of two gangs that each fit alone but not together, admits the older and queues the younger', () => {
    const older = { ...gang(12, 48), key: 'ns/older' };
    const younger = { ...gang(12, 48), key: 'ns/younger' };
    const ns = nodes(20, 48);
    // The younger job's reconcile sees the older one ahead of it: it waits, so neither holds half the cluster.
    expect(admit(younger, ns, [older])).toMatchObject({ admit: false, reason: 'QueuedBehind' });
    expect(admit(older, ns, [])).toEqual({ admit: true });
    // Once the older is admitted, its room is reserved until its pods are bound.
    expect(admit(younger, ns, [], [older])).toMatchObject({ admit: false, reason: 'InsufficientCapacity', placeable: 8 });
  });

  it('lists why no node is eligible', () => {
    const d = admit(gang(1, 1, { nodeSelector: { pool: 'x' } }), [node('a').obj(), node('b').cordoned().obj()]);
    expect(d).toMatchObject({ reason: 'PackTooLarge', message: 'no node can run the packs (2 node(s): 1 label pool=x missing; 1 not ready or cordoned)' });
  });
});
