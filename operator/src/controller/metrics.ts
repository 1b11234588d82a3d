import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { PHASES } from '@kubeburst/api';

/** Prometheus metrics of the operator, on /metrics. Names are kubeburst_*. */
export class Metrics {
  readonly registry = new Registry();
  readonly jobsByPhase: Gauge<'phase'>;
  readonly startup: Histogram<'stage'>;
  readonly reconcileDuration: Histogram<'result'>;
  readonly podsCreated: Counter;
  readonly podsDeleted: Counter;
  readonly admissions: Counter;
  readonly attemptsEnded: Counter<'reason'>;
  readonly apiRequests: Counter<'verb' | 'code'>;
  readonly queueDepth: Gauge;
  readonly leader: Gauge;

  constructor(phaseCounts: () => Map<string, number>, depth: () => number) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'kubeburst_operator_' });
    this.jobsByPhase = new Gauge({
      name: 'kubeburst_burstjobs',
      help: 'BurstJobs by phase.',
      labelNames: ['phase'],
      registers,
      collect() {
        const counts = phaseCounts();
        for (const p of [...PHASES, 'Unknown']) this.set({ phase: p }, counts.get(p) ?? 0);
      },
    });
    this.startup = new Histogram({
      name: 'kubeburst_flare_startup_seconds',
      help: 'From the start of an attempt to every pack running (stage=running) and every pack joined (stage=joined).',
      labelNames: ['stage'],
      buckets: [0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300],
      registers,
    });
    this.reconcileDuration = new Histogram({
      name: 'kubeburst_reconcile_duration_seconds',
      help: 'Time per reconcile, including the API calls it makes.',
      labelNames: ['result'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.podsCreated = new Counter({ name: 'kubeburst_pods_created_total', help: 'Pack pods created.', registers });
    this.podsDeleted = new Counter({ name: 'kubeburst_pods_deleted_total', help: 'Pack pods deleted.', registers });
    this.admissions = new Counter({ name: 'kubeburst_gang_admissions_total', help: 'Gangs admitted (scheduling gates lifted).', registers });
    this.attemptsEnded = new Counter({ name: 'kubeburst_attempts_failed_total', help: 'Attempts that ended early, by reason.', labelNames: ['reason'], registers });
    this.apiRequests = new Counter({ name: 'kubeburst_api_requests_total', help: 'Requests to the Kubernetes API server.', labelNames: ['verb', 'code'], registers });
    this.queueDepth = new Gauge({
      name: 'kubeburst_workqueue_depth',
      help: 'BurstJobs waiting to be reconciled.',
      registers,
      collect() {
        this.set(depth());
      },
    });
    this.leader = new Gauge({ name: 'kubeburst_leader', help: '1 while this operator instance leads.', registers });
  }
}
