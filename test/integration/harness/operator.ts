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
  private starts = 0;
  /** How earlier processes of this instance ended on their own (not through stop()), oldest first. */
  private exits: string[] = [];
  private restarting: NodeJS.Timeout | undefined;

  private constructor(
    private readonly kube: KubeClient,
    readonly o: OperatorOptions,
    private readonly dir: string,
  ) {
    this.logFile = resolve(dir, 'operator.log');
    this.kubeconfigFile = resolve(dir, 'kubeconfig');
  }

  static manifests(release: string, namespace: string, extra: string[] = []): string {
    return helm([
      'template',
      release,
      resolve(REPO, 'helm/kubeburst'),
      '--namespace',
      namespace,
      '--kube-version',
      clusterEnv().kubeVersion,
      '--set',
      'replicaCount=0',
      '--set',
      `watchNamespaces={${namespace}}`,
      ...extra,
    ]).stdout;
  }

  static async install(kube: KubeClient, o: OperatorOptions): Promise<OperatorUnderTest> {
    const dir = resolve(REPO, '.cache/test-operators', o.release, o.instance ?? 'main');
    mkdirSync(dir, { recursive: true });
    kubectl(['apply', '-f', '-'], {
      input: OperatorUnderTest.manifests(
        o.release,
        o.namespace,
        (o.values ?? []).flatMap((v) => ['--set', v]),
      ),
    });
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

  /** What every instance is doing and the tail of its log: appended to a test's timeout message. */
  static describeAll(lines = 25): string {
    return [...OperatorUnderTest.all]
      .map((o) => {
        const state = o.child !== undefined ? `running as ${o.identity} (pid ${o.child.pid})` : ['not running', ...o.exits].join('; ');
        return `operator ${o.o.release}/${o.o.instance ?? 'main'}: ${state}\n${o.logs().trimEnd().split('\n').slice(-lines).join('\n')}`;
      })
      .join('\n');
  }

  static async stopAll(): Promise<void> {
    await Promise.all([...OperatorUnderTest.all].map((o) => o.stop('SIGKILL')));
  }

  /** Starts the process; resolves once it reconciles (`untilLeading: false`: once it waits for the Lease). */
  async start(untilLeading = true): Promise<void> {
    if (this.child !== undefined) throw new Error('operator already running');
    this.launch();
    const marker = `"identity":"${this.identity}"`;
    await waitFor(
      `operator ${this.o.release} to start reconciling (log: ${this.logFile})`,
      () => {
        if (this.child === undefined) throw new Error(`operator exited early; log:\n${this.logs().slice(-3000)}`);
        const lines = this.logs().split('\n');
        const start = lines.findIndex((l) => l.includes('"operator starting"') && l.includes(marker));
        if (start < 0) return false;
        return lines.slice(start).some((l) => l.includes(untilLeading ? '"msg":"reconciling"' : '"msg":"waiting for leadership"'));
      },
      60_000,
    );
  }

  /**
   * One operator process. Like the chart's Deployment, a process that exits because it lost the Lease
   * (exit 1 after "exiting: leadership lost": on a loaded machine a renewal can miss its deadline) is
   * started again a second later; any other exit of its own is left for the test to see.
   */
  private launch(): void {
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
      // Short enough that a takeover after a kill costs seconds, long enough that a renewal on a machine
      // busy with the rest of the suite rarely misses its deadline.
      '--lease-duration=5s',
      '--renew-deadline=4s',
      '--retry-period=500ms',
      '--restart-backoff=1s',
      '--restart-backoff-max=4s',
      '--admission-recheck=2s',
      '--log-level=debug',
      ...(this.o.args ?? []),
    ];
    const env = { ...process.env };
    delete env.KUBECONFIG;
    const child = spawn(process.execPath, args, { stdio: ['ignore', out, out], env });
    this.child = child;
    const identity = this.identity;
    child.on('exit', (code, signal) => {
      if (this.child !== child) return; // stopped by the test
      this.child = undefined;
      // This process's lines: from its own start line on (the log file is shared by every process of the instance).
      const lines = this.logs().split('\n');
      const from = lines.findIndex((l) => l.includes('"operator starting"') && l.includes(`"identity":"${identity}"`));
      const lostLease = code === 1 && from >= 0 && lines.slice(from).some((l) => l.includes('"msg":"exiting: leadership lost"'));
      this.exits.push(`${identity} exited on its own (${signal ?? `code ${code}`})${lostLease ? ', lost the Lease: restarted' : ''}`);
      if (lostLease) {
        this.restarting = setTimeout(() => {
          this.restarting = undefined;
          if (this.child === undefined) this.launch();
        }, 1000);
      }
    });
  }

  /** Processes started again after losing the Lease (see launch). */
  get leaseLosses(): number {
    return this.exits.filter((e) => e.endsWith('restarted')).length;
  }

  get identity(): string {
    return `${this.o.release}-${this.o.instance ?? 'main'}-${this.starts}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Stops it: SIGTERM (graceful, releases the Lease) or SIGKILL (a crash). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    clearTimeout(this.restarting);
    this.restarting = undefined;
    const child = this.child;
    if (child === undefined) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    this.child = undefined; // an exit we asked for
    child.kill(signal);
    await exited;
  }

  /** Resolves once this instance logs that it leads. */
  async waitLeading(timeoutMs = 30_000): Promise<void> {
    const marker = `"identity":"${this.identity}"`;
    await waitFor(
      `${this.identity} to lead`,
      () => {
        const lines = this.logs().split('\n');
        const start = lines.findIndex((l) => l.includes('"operator starting"') && l.includes(marker));
        return start >= 0 && lines.slice(start).some((l) => l.includes('"msg":"reconciling"'));
      },
      timeoutMs,
    );
  }

  logs(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** The current process's metrics port, from its start line. */
  get port(): number {
    const marker = `"identity":"${this.identity}"`;
    const line = this.logs()
      .split('\n')
      .find((l) => l.includes('"operator starting"') && l.includes(marker));
    if (line === undefined) throw new Error(`${this.identity} has not started`);
    return JSON.parse(line).http as number;
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
