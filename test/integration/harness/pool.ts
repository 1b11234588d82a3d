import type { KubeClient } from '../../../operator/src/controller/kube.js';
import type { Json } from './kube.js';
import { waitFor } from './wait.js';

/**
 * kwok nodes that only one test suite uses: labelled and tainted `kubeburst.io/test-pool=<name>`, so the
 * suite's BurstJobs (with the matching nodeSelector and toleration) land there and nothing else does.
 * Suites running side by side on the same control plane never take each other's room.
 */
export const POOL_KEY = 'kubeburst.io/test-pool';

export class NodePool {
  private count = 0;
  readonly names: string[] = [];

  constructor(
    private readonly kube: KubeClient,
    readonly name: string,
  ) {}

  get template(): Json {
    return {
      nodeSelector: { [POOL_KEY]: this.name },
      tolerations: [{ key: POOL_KEY, operator: 'Equal', value: this.name, effect: 'NoSchedule' }],
    };
  }

  async add(n: number, cpu: number | string, memory = '256Gi', pods = 110): Promise<string[]> {
    const created: string[] = [];
    await Promise.all(
      Array.from({ length: n }, async () => {
        const name = `${this.name}-${this.count++}`;
        created.push(name);
        await this.kube.create('/api/v1/nodes', {
          apiVersion: 'v1',
          kind: 'Node',
          metadata: {
            name,
            annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
            labels: { type: 'kwok', [POOL_KEY]: this.name, 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' },
          },
          spec: { taints: [{ key: POOL_KEY, value: this.name, effect: 'NoSchedule' }] },
          status: { allocatable: { cpu: String(cpu), memory, pods: String(pods) }, capacity: { cpu: String(cpu), memory, pods: String(pods) } },
        });
      }),
    );
    this.names.push(...created);
    // kwok marks them Ready; the node-lifecycle controller then drops the not-ready taint.
    await waitFor(
      `${n} node(s) of pool ${this.name} schedulable`,
      async () => {
        const nodes = await Promise.all(created.map((c) => this.kube.get<Json>(`/api/v1/nodes/${c}`)));
        return nodes.every((node) => isReady(node) && !(node.spec?.taints ?? []).some((t: Json) => t.key.startsWith('node.kubernetes.io/')));
      },
      60_000,
      200,
    );
    return created;
  }

  async delete(): Promise<void> {
    await Promise.all(this.names.map((n) => this.kube.delete(`/api/v1/nodes/${n}`).catch(() => undefined)));
  }
}

const isReady = (node: Json): boolean => (node.status?.conditions ?? []).some((c: Json) => c.type === 'Ready' && c.status === 'True');
