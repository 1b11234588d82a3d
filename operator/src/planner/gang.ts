import { type BurstJobSpec, GANG_SCHEDULING_GATE, KUEUE } from '@kubeburst/api';
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
 *   Kueue            the packs are one Kueue pod group (`kueue.x-k8s.io/pod-group-name` = `<job>-a<attempt>`)
 *                    in the BurstJob's LocalQueue; Kueue's webhook gates each pod, and Kueue lifts every gate
 *                    once the group fits its ClusterQueue's quota. Kueue's quota is the room model; a group
 *                    Kueue evicts or preempts is a lost pack, restarted as a new group (maxRestarts).
 */
export interface GangBackend {
  readonly name: GangBackendName;
  /** Scheduling gates every new pack pod is created with. */
  readonly gates: readonly string[];
  /** Pods name a PodGroup the operator creates first. */
  readonly podGroup: boolean;
  /** Pods form a Kueue pod group; Kueue gates and admits them. */
  readonly kueue: boolean;
  admit(demand: GangDemand, observed: Pick<Observed, 'nodes' | 'ahead' | 'reserved'>, fairness: Fairness): AdmitDecision;
}

const schedulingGates: GangBackend = {
  name: 'SchedulingGates',
  gates: [GANG_SCHEDULING_GATE],
  podGroup: false,
  kueue: false,
  admit: (demand, o, fairness) => admit(demand, o.nodes, o.ahead, o.reserved, fairness),
};

const podGroup: GangBackend = {
  name: 'PodGroup',
  gates: [],
  podGroup: true,
  kueue: false,
  // kube-scheduler holds the pods until minCount of them exist and places all of them or none.
  admit: () => ({ admit: true }),
};

const kueue: GangBackend = {
  name: 'Kueue',
  gates: [],
  podGroup: false,
  kueue: true,
  // Kueue admits (by lifting its own gate); the operator never does.
  admit: () => ({ admit: true }),
};

const BACKENDS: Record<GangBackendName, GangBackend> = { SchedulingGates: schedulingGates, PodGroup: podGroup, Kueue: kueue };

export function gangBackend(name: GangBackendName): GangBackend {
  return BACKENDS[name];
}

/** What the cluster serves, as discovered: the Workload API's podgroups, Kueue's workloads. */
export interface GangApis {
  podGroup: boolean;
  kueue: boolean;
}

/**
 * The backend a new attempt uses. Auto: Kueue when the BurstJob names a LocalQueue (a cluster with Kueue
 * does not let a labelled job bypass it), else PodGroup where the API server serves it, else SchedulingGates.
 * A backend asked for where it cannot work is an error naming the fix.
 */
export function resolveGangBackend(spec: BurstJobSpec['gang'], queueName: string | undefined, apis: GangApis): { backend: GangBackendName } | { error: string } {
  const wanted = spec.backend === 'Auto' ? (queueName !== undefined ? 'Kueue' : apis.podGroup ? 'PodGroup' : 'SchedulingGates') : spec.backend;
  if (wanted === 'PodGroup' && !apis.podGroup) {
    return {
      error:
        'spec.gang.backend is PodGroup, but the API server does not serve scheduling.k8s.io/v1beta1 podgroups (Kubernetes ≥ 1.37 with --feature-gates=GenericWorkload=true on kube-apiserver, kube-scheduler and kube-controller-manager, and --runtime-config=scheduling.k8s.io/v1beta1=true); use gang.backend Auto or SchedulingGates',
    };
  }
  if (wanted === 'Kueue' && queueName === undefined) {
    return { error: `spec.gang.backend is Kueue, but the BurstJob has no label ${KUEUE.queueLabel} naming the LocalQueue to submit its packs to` };
  }
  if (wanted === 'Kueue' && !apis.kueue) {
    const why = spec.backend === 'Auto' ? `the BurstJob's label ${KUEUE.queueLabel}=${queueName} asks for Kueue` : 'spec.gang.backend is Kueue';
    return {
      error: `${why}, but the API server does not serve ${KUEUE.api.group}/${KUEUE.api.version} workloads: install Kueue (≥ 0.17, pod integration enabled), or remove the label`,
    };
  }
  return { backend: wanted };
}

/** The attempt's PodGroup: `<job>-a<attempt>`, the attempt's pods' name prefix. */
export const podGroupName = (job: string, attempt: number): string => `${job}-a${attempt}`;
