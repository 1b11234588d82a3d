import { LABELS } from '@kubeburst/api';
import { burstJob, T0 } from '../testing/planner.js';
import type { JobView } from '../planner/types.js';
import type { Json } from './kube.js';
import { slimBoundPod } from './observe.js';
import { AdmissionLedger, Room } from './room.js';

const node = (name: string, cpu: string): Json => ({
  metadata: { name, labels: {} },
  spec: {},
  status: { allocatable: { cpu, memory: '64Gi', pods: '110' }, conditions: [{ type: 'Ready', status: 'True' }] },
});
const pod = (job: JobView, attempt: number, pack: number, extra: Json = {}): Json => ({
  metadata: {
    namespace: 'ns',
    name: `${job.name}-a${attempt}-${pack}`,
    labels: { [LABELS.jobUid]: job.uid, [LABELS.jobName]: job.name, [LABELS.attempt]: String(attempt) },
    ownerReferences: [{ apiVersion: 'kubeburst.io/v1alpha1', kind: 'BurstJob', name: job.name, uid: job.uid, controller: true }],
  },
  spec: { containers: [{ name: 'pack', resources: { requests: { cpu: '4', memory: '1Gi' } } }], ...extra.spec },
  status: { phase: 'Pending', ...extra.status },
});

function room(nodes: Json[], bound: Json[], own: Json[], jobs: JobView[], ledger = new AdmissionLedger()): Room {
  return new Room({ nodes: { list: () => nodes }, boundPods: { list: () => bound.map(slimBoundPod) }, ownPods: { list: () => own }, jobs: () => jobs }, ledger);
}

describe('room for gang admission', () => {
  it('is allocatable minus what bound, unfinished pods request, per node', () => {
    const other = burstJob('o').obj();
    const r = room([node('n1', '16'), node('n2', '8')], [pod(other, 0, 0, { spec: { nodeName: 'n1' } }), pod(other, 0, 1, { spec: { nodeName: 'n1' } })], [], []);
    expect(r.nodes().map((n) => [n.name, n.free.cpu])).toEqual([
      ['n1', 8000],
      ['n2', 8000],
    ]);
  });

  it('burstable room leaves out what non-burst pods hold (a DaemonSet pod never ends), not what bursts hold', () => {
    const other = burstJob('o').obj();
    const daemon: Json = {
      metadata: { namespace: 'kube-system', name: 'proxy-n1', labels: {} },
      spec: { nodeName: 'n1', containers: [{ name: 'p', resources: { requests: { cpu: '100m' } } }] },
      status: { phase: 'Running' },
    };
    const r = room([node('n1', '16')], [pod(other, 0, 0, { spec: { nodeName: 'n1' } }), daemon], [], []);
    expect(r.nodes().map((n) => [n.free.cpu, n.burstable.cpu])).toEqual([[11_900, 15_900]]);
  });

  it('counts a pack pod bound in the pack-pod cache before the cluster-wide cache has it, once', () => {
    const admitted = burstJob('a')
      .status({ phase: 'Starting', attempt: { index: 0, burstId: 'x', layout: '2x4', startTime: 'x', admittedTime: 'x' } })
      .obj();
    const bound = (pack: number, uid: string): Json => {
      const p = pod(admitted, 0, pack, { spec: { nodeName: 'n1' }, status: { phase: 'Pending' } });
      p.metadata.uid = uid;
      return p;
    };
    // Pack 0's binding reached both caches; pack 1's only the pack-pod cache: it is no longer reserved, yet
    // its 4 CPU are taken on n1.
    const own = [bound(0, 'p0'), bound(1, 'p1')];
    const r = room([node('n1', '16')], [own[0]!], own, [admitted]);
    expect(r.nodes().map((n) => [n.name, n.free.cpu])).toEqual([['n1', 8000]]);
    expect(r.reserved('none', new Map([[admitted.uid, admitted]]))).toEqual([]);
    // Finished pods hold nothing, whichever cache shows them.
    own[1]!.status.phase = 'Succeeded';
    expect(r.nodes().map((n) => n.free.cpu)).toEqual([12000]);
  });

  it('reserves the unbound pods of gangs admitted by status, by the ledger, or by their lifted gates', () => {
    const byStatus = burstJob('a')
      .status({ phase: 'Starting', attempt: { index: 0, burstId: 'x', layout: '2x4', startTime: 'x', admittedTime: 'x' } })
      .obj();
    const byLedger = burstJob('b').obj();
    const byGates = burstJob('c').obj();
    const waiting = burstJob('d').obj();
    const ledger = new AdmissionLedger();
    ledger.record('ns/b', 0);
    const own = [
      pod(byStatus, 0, 0, { spec: { nodeName: 'n1' } }),
      pod(byStatus, 0, 1),
      pod(byLedger, 0, 0, { spec: { schedulingGates: [{ name: 'kubeburst.io/gang' }] } }),
      pod(byGates, 0, 0),
      pod(waiting, 0, 0, { spec: { schedulingGates: [{ name: 'kubeburst.io/gang' }] } }),
    ];
    const jobs = new Map([byStatus, byLedger, byGates, waiting].map((j) => [j.uid, j]));
    const reserved = room([], [], own, [...jobs.values()], ledger).reserved('none', jobs);
    expect(reserved.map((g) => [g.key, g.groups.map((x) => x.count)])).toEqual([
      ['ns/a', [1]],
      ['ns/b', [1]],
      ['ns/c', [1]],
    ]);
  });

  it('reserves nothing for pods that only carry a job’s labels: not controlled by it, or in another namespace', () => {
    const admitted = burstJob('a')
      .status({ phase: 'Starting', attempt: { index: 0, burstId: 'x', layout: '2x4', startTime: 'x', admittedTime: 'x' } })
      .obj();
    const unowned = pod(admitted, 0, 0);
    unowned.metadata.ownerReferences = [];
    const elsewhere = pod(admitted, 0, 1);
    elsewhere.metadata.namespace = 'tenant';
    const stray = pod(burstJob('gone').obj(), 0, 0); // no job of that uid is known, and none controls it
    stray.metadata.ownerReferences = [];
    const jobs = new Map([[admitted.uid, admitted]]);
    expect(room([], [], [unowned, elsewhere, stray], [admitted]).reserved('none', jobs)).toEqual([]);
    expect(
      room([], [], [pod(admitted, 0, 0)], [admitted])
        .reserved('none', jobs)
        .map((g) => g.key),
    ).toEqual(['ns/a']);
  });

  it('lists older jobs waiting for admission, oldest first, not the younger ones', () => {
    const pending = (name: string, at: number): JobView =>
      burstJob(name)
        .created(at)
        .status({ phase: 'Pending', attempt: { index: 0, burstId: 'x', layout: '3x4', startTime: 'x' } })
        .obj();
    const old2 = pending('old2', T0 + 2);
    const old1 = pending('old1', T0 + 1);
    const me = pending('me', T0 + 3);
    const young = pending('young', T0 + 4);
    const admitted = burstJob('adm')
      .created(T0)
      .status({ phase: 'Starting', attempt: { index: 0, burstId: 'x', layout: '3x4', startTime: 'x', admittedTime: 'x' } })
      .obj();
    expect(
      room([], [], [], [])
        .ahead(me, [young, old2, admitted, me, old1])
        .map((g) => g.key),
    ).toEqual(['ns/old1', 'ns/old2']);
  });

  it('never counts a gang waiting in kube-scheduler (PodGroup) or in Kueue’s queue as ahead of a gates gang', () => {
    const waiting = (name: string, gangBackend?: 'SchedulingGates' | 'PodGroup' | 'Kueue'): JobView =>
      burstJob(name)
        .created(T0)
        .status({ phase: 'Pending', attempt: { index: 0, burstId: 'x', layout: '3x4', startTime: 'x', ...(gangBackend ? { gangBackend } : {}) } })
        .obj();
    const me = burstJob('me')
      .created(T0 + 1)
      .obj();
    const all = [waiting('legacy'), waiting('gates', 'SchedulingGates'), waiting('pg', 'PodGroup'), waiting('kq', 'Kueue')];
    expect(
      room([], [], [], [])
        .ahead(me, all)
        .map((g) => g.key),
    ).toEqual(['ns/gates', 'ns/legacy']);
  });
});
