import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { KubeClient } from '../../../operator/src/controller/kube.js';
import { clusterEnv, helm, kubectl, REPO } from './env.js';
import { waitFor } from './wait.js';

/**
 * The operator as it runs in a cluster, minus the container: the chart's ServiceAccount, RBAC and Lease
 * Role are installed from `helm template` (the Deployment at 0 replicas: no kubelet here), a token is
 * requested for that ServiceAccount, and `node operator/dist/controller/main.js` runs as a child process
 * with only that token. Whatever the tests see it do, the chart's RBAC allowed.
 */
export interface OperatorOptions {
  release: string;
  namespace: string;
  /** Extra flags (tests shorten backoffs and lease times). */
  args?: string[];
  /** Several instances of one install (leader election): each names its process identity and log. */
  instance?: string;
  /** Extra chart values (`--set k=v` pairs), e.g. rbac.readBrokerSecrets=true. */
  values?: string[];
}

export class OperatorUnderTest {
  /** Every instance a test file started, so afterAll can stop them even when a test failed half-way. */
  static readonly all = new Set<OperatorUnderTest>();
  private child: ChildProcess | undefined;
  private logFile: string;
  private kubeconfigFile: string;
  port = 0;
  private starts = 0;

  private constructor(
    private readonly kube: KubeClient,
    readonly o: OperatorOptions,
    private readonly dir: string,
  ) {
    this.logFile = resolve(dir, 'operator.log');
    this.kubeconfigFile = resolve(dir, 'kubeconfig');
  }

  static manifests(release: string, namespace: string, extra: string[] = []): string {
    return helm(['template', release, resolve(REPO, 'helm/kubeburst'), '--namespace', namespace, '--kube-version', clusterEnv().kubeVersion, '--set', 'replicaCount=0', '--set', `watchNamespaces={${namespace}}`, ...extra]).stdout;
  }

  static async install(kube: KubeClient, o: OperatorOptions): Promise<OperatorUnderTest> {
    const dir = resolve(REPO, '.cache/test-operators', o.release, o.instance ?? 'main');
    mkdirSync(dir, { recursive: true });
    kubectl(['apply', '-f', '-'], { input: OperatorUnderTest.manifests(o.release, o.namespace, (o.values ?? []).flatMap((v) => ['--set', v])) });
    const op = new OperatorUnderTest(kube, o, dir);
    OperatorUnderTest.all.add(op);
    await op.writeKubeconfig();
    return op;
  }

  /** A kubeconfig holding only a token of the chart's ServiceAccount. */
  private async writeKubeconfig(): Promise<void> {
    const sa = `${this.o.release}-kubeburst`;
    const tr = await this.kube.create<{ status: { token: string } }>(`/api/v1/namespaces/${this.o.namespace}/serviceaccounts/${sa}/token`, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 7200 },
    });
    const admin = new KubeConfig();
    admin.loadFromFile(clusterEnv().kubeconfig);
    const cluster = admin.getCurrentCluster()!;
    const caData = (admin.clusters.find((c) => c.name === cluster.name) as { caData?: string }).caData;
    writeFileSync(
      this.kubeconfigFile,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: cluster.server, 'certificate-authority-data': caData } }],
        users: [{ name: sa, user: { token: tr.status.token } }],
        contexts: [{ name: 'c', context: { cluster: 'c', user: sa, namespace: this.o.namespace } }],
        'current-context': 'c',
      }),
      { mode: 0o600 },
    );
  }

  static async stopAll(): Promise<void> {
    await Promise.all([...OperatorUnderTest.all].map((o) => o.stop('SIGKILL')));
  }

  /** Starts the process; resolves once it reconciles (`untilLeading: false`: once it waits for the Lease). */
  async start(untilLeading = true): Promise<void> {
    if (this.child !== undefined) throw new Error('operator already running');
    this.starts++;
    const out = openSync(this.logFile, 'a');
    const args = [
      resolve(REPO, 'operator/dist/controller/main.js'),
      `--kubeconfig=${this.kubeconfigFile}`,
      `--namespaces=${this.o.namespace}`,
      `--leader-election-namespace=${this.o.namespace}`,
      `--leader-election-id=${this.o.release}-kubeburst`,
      `--identity=${this.identity}`,
      '--metrics-bind-address=127.0.0.1:0',
      '--worker-image=kubeburst/worker:test',
      '--lease-duration=3s',
      '--renew-deadline=2s',
      '--retry-period=500ms',
      '--restart-backoff=1s',
      '--restart-backoff-max=4s',
      '--admission-recheck=2s',
      '--log-level=debug',
      ...(this.o.args ?? []),
    ];
    const env = { ...process.env };
    delete env.KUBECONFIG;
    this.child = spawn(process.execPath, args, { stdio: ['ignore', out, out], env });
    const child = this.child;
    child.on('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    const marker = `"identity":"${this.identity}"`;
    await waitFor(
      `operator ${this.o.release} to start reconciling (log: ${this.logFile})`,
      () => {
        if (this.child === undefined) throw new Error(`operator exited early; log:\n${this.logs().slice(-3000)}`);
        const lines = this.logs().split('\n');
        const start = lines.findIndex((l) => l.includes('"operator starting"') && l.includes(marker));
        if (start < 0) return false;
        this.port = JSON.parse(lines[start]!).http as number;
        return lines.slice(start).some((l) => l.includes(untilLeading ? '"msg":"reconciling"' : '"msg":"waiting for leadership"'));
      },
      60_000,
    );
  }

  get identity(): string {
    return `${this.o.release}-${this.o.instance ?? 'main'}-${this.starts}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Stops it: SIGTERM (graceful, releases the Lease) or SIGKILL (a crash). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    await exited;
    this.child = undefined;
  }

  /** Resolves once this instance logs that it leads. */
  async waitLeading(timeoutMs = 30_000): Promise<void> {
    const marker = `"identity":"${this.identity}"`;
    await waitFor(`${this.identity} to lead`, () => {
      const lines = this.logs().split('\n');
      const start = lines.findIndex((l) => l.includes('"operator starting"') && l.includes(marker));
      return start >= 0 && lines.slice(start).some((l) => l.includes('"msg":"reconciling"'));
    }, timeoutMs);
  }

  logs(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  async metrics(): Promise<string> {
    const res = await fetch(`http://127.0.0.1:${this.port}/metrics`);
    return res.text();
  }

  /** Removes the cluster-scoped RBAC the install created (namespaced objects go with the namespace). */
  uninstall(): void {
    OperatorUnderTest.uninstallManifests(this.o.release, this.o.namespace);
  }

  static uninstallManifests(release: string, namespace: string): void {
    kubectl(['delete', '--ignore-not-found', '-f', '-'], { input: OperatorUnderTest.manifests(release, namespace), check: false });
  }
}
