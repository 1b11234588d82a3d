import { type BurstJobSpec, GANG_SCHEDULING_GATE } from '@kubeburst/api';
import { admit, type AdmitDecision, type Fairness, type GangDemand } from './capacity.js';
import type { Observed } from './types.js';

/**
 * How all-or-nothing admission is enforced, selected by spec.gang.backend. The planner asks a backend two
 * things: what holds a new pack pod back (`gates`), and whether a fully created gang may go now (`admit`).
 * Everything around it (attempts, schedule timeout, teardown, retries) is backend-independent.
 *
 * SchedulingGates (the only one today): pods carry `kubeburst.io/gang` until the operator's own room model
 * says the whole gang fits; lifting every gate at once is the admission. A scheduler-plugins coscheduling or
 * Volcano backend would instead label pods with a PodGroup and admit at once (the scheduler holds them);
 * the upstream Workload API would create a Workload and admit when it is admitted.
 */
export interface GangBackend {
  readonly name: BurstJobSpec['gang']['backend'];
  /** Scheduling gates every new pack pod is created with. */
  readonly gates: readonly string[];
  admit(demand: GangDemand, observed: Pick<Observed, 'nodes' | 'ahead' | 'reserved'>, fairness: Fairness): AdmitDecision;
}

const schedulingGates: GangBackend = {
  name: 'SchedulingGates',
  gates: [GANG_SCHEDULING_GATE],
  admit: (demand, o, fairness) => admit(demand, o.nodes, o.ahead, o.reserved, fairness),
};

const BACKENDS: Record<BurstJobSpec['gang']['backend'], GangBackend> = { SchedulingGates: schedulingGates };

export function gangBackend(name: BurstJobSpec['gang']['backend']): GangBackend {
  return BACKENDS[name];
}
