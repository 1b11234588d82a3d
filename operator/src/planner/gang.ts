import { type BurstJobSpec, GANG_SCHEDULING_GATE } from '@kubeburst/api';
import { admit, type AdmitDecision, type Fairness, type GangDemand } from './capacity.js';
import type { GangBackendName, Observed } from './types.js';

/**
 * How all-or-nothing admission is enforced, selected by spec.gang.backend and fixed per attempt
 * (status.attempt.gangBackend). The planner asks a backend what a new pack pod carries and whether a fully
 * created gang may go now. Everything around it (attempts, schedule timeout, teardown, retries) is
 * backend-independent.
 *
 *   SchedulingGates  pods carry `kubeburst.io/gang` until the operator's own room model says the whole gang
 *                    fits; lifting every gate at once is the admission.
 *   PodGroup         a scheduling.k8s.io/v1beta1 PodGroup (gang, minCount = packs) exists before the pods,
 *                    which name it (spec.schedulingGroup.podGroupName); once every pod exists the gang is
 *                    handed over, and kube-scheduler places it all or nothing in one cycle. No room model.
 */
export interface GangBackend {
  readonly name: GangBackendName;
  /** Scheduling gates every new pack pod is created with. */
  readonly gates: readonly string[];
  /** Pods name a PodGroup the operator creates first. */
  readonly podGroup: boolean;
  admit(demand: GangDemand, observed: Pick<Observed, 'nodes' | 'ahead' | 'reserved'>, fairness: Fairness): AdmitDecision;
}

const schedulingGates: GangBackend = {
  name: 'SchedulingGates',
  gates: [GANG_SCHEDULING_GATE],
  podGroup: false,
  admit: (demand, o, fairness) => admit(demand, o.nodes, o.ahead, o.reserved, fairness),
};

const podGroup: GangBackend = {
  name: 'PodGroup',
  gates: [],
  podGroup: true,
  // kube-scheduler holds the pods until minCount of them exist and places all of them or none.
  admit: () => ({ admit: true }),
};

const BACKENDS: Record<GangBackendName, GangBackend> = { SchedulingGates: schedulingGates, PodGroup: podGroup };

export function gangBackend(name: GangBackendName): GangBackend {
  return BACKENDS[name];
}

/**
 * The backend a new attempt uses: Auto takes PodGroup where the API server serves it. A PodGroup asked for
 * where it is not served is an error naming the fix.
 */
export function resolveGangBackend(spec: BurstJobSpec['gang'], podGroupApi: boolean): { backend: GangBackendName } | { error: string } {
  if (spec.backend === 'Auto') return { backend: podGroupApi ? 'PodGroup' : 'SchedulingGates' };
  if (spec.backend === 'PodGroup' && !podGroupApi) {
    return {
      error:
        'spec.gang.backend is PodGroup, but the API server does not serve scheduling.k8s.io/v1beta1 podgroups (Kubernetes ≥ 1.37 with --feature-gates=GenericWorkload=true on kube-apiserver, kube-scheduler and kube-controller-manager, and --runtime-config=scheduling.k8s.io/v1beta1=true); use gang.backend Auto or SchedulingGates',
    };
  }
  return { backend: spec.backend };
}

/** The attempt's PodGroup: `<job>-a<attempt>`, the attempt's pods' name prefix. */
export const podGroupName = (job: string, attempt: number): string => `${job}-a${attempt}`;
