import { randomBytes } from 'node:crypto';
import type { KubeClient } from '../../../operator/src/controller/kube.js';
import { Flares } from './flare.js';
import { adminClient, createNamespace, deleteNamespace } from './kube.js';
import { OperatorUnderTest, type OperatorOptions } from './operator.js';
import { NodePool } from './pool.js';

/** What a suite that runs flares against one operator gets from `operatorSuite`. */
export interface OperatorSuite {
  readonly ns: string;
  readonly kube: KubeClient;
  readonly op: OperatorUnderTest;
  /** A fresh pool of `nodes` kwok nodes of `cpu` CPUs, tainted for this test alone, and flares on it. */
  poolOf(name: string, nodes: number, cpu: number, memory?: string, pods?: number): Promise<Flares>;
}

/**
 * Registers beforeAll/afterAll for a suite: a namespace of its own, the operator installed with the chart's
 * RBAC and started, and every node pool it made deleted at the end. Fields are valid inside tests.
 */
export function operatorSuite(prefix: string, operator: Pick<OperatorOptions, 'args' | 'values'> = {}): OperatorSuite {
  const ns = `${prefix}-${randomBytes(3).toString('hex')}`;
  const pools: NodePool[] = [];
  let kube: KubeClient | undefined;
  let op: OperatorUnderTest | undefined;
  beforeAll(async () => {
    kube = await adminClient();
    await createNamespace(kube, ns);
    op = await OperatorUnderTest.install(kube, { release: ns, namespace: ns, ...operator });
    await op.start();
  });
  afterAll(async () => {
    await OperatorUnderTest.stopAll();
    for (const o of OperatorUnderTest.all) o.uninstall();
    if (kube !== undefined) await deleteNamespace(kube, ns);
    await Promise.all(pools.map((p) => p.delete()));
    kube?.close();
  });
  return {
    ns,
    get kube() {
      return kube!;
    },
    get op() {
      return op!;
    },
    async poolOf(name, nodes, cpu, memory, pods) {
      const pool = new NodePool(kube!, `${ns}-${name}`);
      pools.push(pool);
      await pool.add(nodes, cpu, memory, pods);
      return new Flares(kube!, ns, pool);
    },
  };
}
