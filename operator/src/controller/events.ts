import { API_GROUP, API_VERSION, KIND, type EventReason } from '@kubeburst/api';
import { paths, type KubeClient } from './kube.js';
import type { Logger } from './log.js';

/**
 * core/v1 Events on BurstJobs (`kubectl describe burstjob`). A repeat of the same reason and message
 * within ten minutes bumps the count of the existing Event instead of creating another, like client-go's
 * event correlator. Recording never fails a reconcile: errors are logged. Messages are redacted: they
 * quote pods' termination messages, which may name a broker URL.
 */
export interface EventTarget {
  name: string;
  namespace: string;
  uid: string;
}

export class EventRecorder {
  private readonly recent = new Map<string, { name: string; count: number; at: number }>();

  constructor(
    private readonly kube: KubeClient,
    private readonly identity: string,
    private readonly log: Logger,
  ) {}

  async record(target: EventTarget, type: 'Normal' | 'Warning', reason: EventReason, text: string): Promise<void> {
    const message = this.log.redact(text);
    const key = `${target.uid}|${type}|${reason}|${message}`;
    const now = new Date().toISOString();
    const seen = this.recent.get(key);
    try {
      if (seen !== undefined && Date.now() - seen.at < 10 * 60_000) {
        seen.count++;
        seen.at = Date.now();
        await this.kube.patch(paths.event(target.namespace, seen.name), { count: seen.count, lastTimestamp: now });
        return;
      }
      const ev = await this.kube.create<{ metadata: { name: string } }>(paths.events(target.namespace), {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${target.name}.`, namespace: target.namespace },
        involvedObject: { apiVersion: `${API_GROUP}/${API_VERSION}`, kind: KIND, name: target.name, namespace: target.namespace, uid: target.uid },
        type,
        reason,
        message: message.slice(0, 1024),
        source: { component: 'kubeburst-operator' },
        reportingComponent: `${API_GROUP}/operator`,
        reportingInstance: this.identity.slice(0, 128),
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      });
      this.recent.set(key, { name: ev.metadata.name, count: 1, at: Date.now() });
      if (this.recent.size > 5000) this.prune();
    } catch (err) {
      this.log.warn('cannot record event', { reason, error: (err as Error).message });
    }
  }

  private prune(): void {
    const cutoff = Date.now() - 10 * 60_000;
    for (const [k, v] of this.recent) if (v.at < cutoff) this.recent.delete(k);
  }
}
