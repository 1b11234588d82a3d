import { Agent, request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest, Agent as HttpAgent } from 'node:http';
import { createInterface } from 'node:readline';
import { KubeConfig } from '@kubernetes/client-node';

/**
 * A small Kubernetes REST client for the operator's hot paths.
 *
 * @kubernetes/client-node loads the kubeconfig (files, in-cluster service account, exec and token-file
 * auth) and we ask it for credentials on every request, but requests go through one keep-alive agent of our
 * own: client-node 1.4 builds a new https.Agent per request, i.e. a new TLS connection per call, which caps
 * pod creation far below what a 1 000-pod flare needs. A token bucket (qps/burst) keeps a large flare from
 * flooding the API server; both are operator flags.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly verb: string,
    readonly path: string,
  ) {
    super(`${verb} ${path}: ${status} ${reason}: ${message}`);
    this.name = 'ApiError';
  }
}

export const isNotFound = (e: unknown): boolean => e instanceof ApiError && e.status === 404;
export const isConflict = (e: unknown): boolean => e instanceof ApiError && e.status === 409;
export const isAlreadyExists = (e: unknown): boolean => e instanceof ApiError && e.status === 409 && e.reason === 'AlreadyExists';

export interface KubeClientOptions {
  qps: number;
  burst: number;
  /** Parallel connections to the API server. */
  maxSockets?: number;
  userAgent?: string;
  /** Called after every request (metrics). */
  onResponse?: (verb: string, status: number) => void;
  /** A request without a response for this long fails (default 60 s). */
  requestTimeoutMs?: number;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kubernetes objects as they come off the wire; callers narrow
export type Json = Record<string, any>;

export const PATCH = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
} as const;

/** Token bucket: `qps` tokens a second, at most `burst` saved up. */
export class RateLimiter {
  private tokens: number;
  private last = Date.now();
  private queue: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly qps: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  take(): Promise<void> {
    this.refill();
    if (this.queue.length === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.queue.push(resolve);
      this.schedule();
    });
  }

  private refill(): void {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
  }

  private schedule(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.refill();
        while (this.queue.length > 0 && this.tokens >= 1) {
          this.tokens -= 1;
          this.queue.shift()!();
        }
        if (this.queue.length > 0) this.schedule();
      },
      Math.max(1, Math.ceil(((1 - this.tokens) / this.qps) * 1000)),
    );
  }
}

export class KubeClient {
  readonly server: URL;
  private readonly agent: Agent | HttpAgent;
  /**
   * Watches' own, without a socket limit: each holds a connection for minutes, and on the requests' agent
   * enough of them (three or five per watched namespace) took every socket, so pod creates and status
   * writes queued behind them with no deadline, while the leader's Lease (its own client) kept renewing.
   */
  private readonly watchAgent: Agent | HttpAgent;
  private readonly limiter: RateLimiter;
  private readonly tls: Pick<RequestOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'servername'>;

  private constructor(
    readonly kc: KubeConfig,
    tls: KubeClient['tls'],
    private readonly opts: KubeClientOptions,
  ) {
    const cluster = kc.getCurrentCluster();
    if (cluster === null) throw new Error('kubeconfig has no current cluster (set --kubeconfig or run in a pod)');
    this.server = new URL(cluster.server);
    this.tls = tls;
    const maxSockets = opts.maxSockets ?? 64;
    this.agent = this.server.protocol === 'http:' ? new HttpAgent({ keepAlive: true, maxSockets }) : new Agent({ keepAlive: true, maxSockets, ...tls });
    this.watchAgent = this.server.protocol === 'http:' ? new HttpAgent({ keepAlive: true }) : new Agent({ keepAlive: true, ...tls });
    this.limiter = new RateLimiter(opts.qps, opts.burst);
  }

  static async create(kc: KubeConfig, opts: KubeClientOptions): Promise<KubeClient> {
    const o: RequestOptions & Json = {};
    await kc.applyToHTTPSOptions(o);
    const tls: KubeClient['tls'] = {};
    for (const k of ['ca', 'cert', 'key', 'rejectUnauthorized', 'servername'] as const) if (o[k] !== undefined) (tls as Json)[k] = o[k];
    return new KubeClient(kc, tls, opts);
  }

  /** Credentials can rotate (projected service-account tokens): asked for on every request. */
  private async headers(): Promise<Record<string, string>> {
    const o: RequestOptions & Json = {};
    await this.kc.applyToHTTPSOptions(o);
    (o.agent as Agent | undefined)?.destroy();
    const h: Record<string, string> = {};
    for (const [k, v] of Object.entries(o.headers ?? {})) if (v !== undefined) h[k] = String(v);
    if (o.auth) h.Authorization = `Basic ${Buffer.from(o.auth).toString('base64')}`;
    return h;
  }

  async request<T = Json>(verb: string, path: string, body?: unknown, contentType = 'application/json', retries = 3): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      await this.limiter.take();
      try {
        return await this.once<T>(verb, path, body, contentType);
      } catch (err) {
        const retryable = err instanceof ApiError ? err.status === 429 || err.status >= 500 : isConnectionError(err);
        if (!retryable || attempt >= retries) throw err;
        await sleep(Math.min(2000, 50 * 2 ** attempt) * (0.5 + Math.random()));
      }
    }
  }

  private async once<T>(verb: string, path: string, body: unknown, contentType: string): Promise<T> {
    const headers = await this.headers();
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const url = new URL(path, this.server);
    return new Promise<T>((resolve, reject) => {
      const req = (url.protocol === 'http:' ? httpRequest : httpsRequest)(
        url,
        {
          method: verb,
          agent: this.agent,
          headers: {
            ...headers,
            Accept: 'application/json',
            'User-Agent': this.opts.userAgent ?? 'kubeburst-operator',
            ...(payload !== undefined ? { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(payload) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            this.opts.onResponse?.(verb, status);
            const text = Buffer.concat(chunks).toString('utf8');
            let json: Json | undefined;
            try {
              json = text === '' ? undefined : (JSON.parse(text) as Json);
            } catch {
              json = undefined;
            }
            if (status >= 200 && status < 300) resolve((json ?? {}) as T);
            else reject(new ApiError(status, json?.reason ?? res.statusMessage ?? 'Error', json?.message ?? text.slice(0, 500), verb, path));
          });
        },
      );
      const timeoutMs = this.opts.requestTimeoutMs ?? 60_000;
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${verb} ${path}: no response in ${timeoutMs} ms`)));
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  get<T = Json>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }
  create<T = Json>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }
  replace<T = Json>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }
  patch<T = Json>(path: string, body: unknown, type: (typeof PATCH)[keyof typeof PATCH] = PATCH.merge): Promise<T> {
    return this.request<T>('PATCH', path, body, type);
  }
  delete<T = Json>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('DELETE', path, body);
  }

  /**
   * Streams a watch: calls `onEvent` per event until the server ends it (resolve) or it fails (reject).
   * Returns an abort function through `signal`.
   */
  async watch(path: string, params: Record<string, string>, onEvent: (type: string, obj: Json) => void, signal: AbortSignal): Promise<void> {
    await this.limiter.take();
    const headers = await this.headers();
    const url = new URL(path, this.server);
    for (const [k, v] of Object.entries({ ...params, watch: '1' })) url.searchParams.set(k, v);
    return new Promise<void>((resolve, reject) => {
      const req = (url.protocol === 'http:' ? httpRequest : httpsRequest)(
        url,
        { method: 'GET', agent: this.watchAgent, headers: { ...headers, Accept: 'application/json' }, signal },
        (res) => {
          const status = res.statusCode ?? 0;
          this.opts.onResponse?.('WATCH', status);
          if (status !== 200) {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              let reason = res.statusMessage ?? 'Error';
              let message = Buffer.concat(chunks).toString('utf8').slice(0, 500);
              try {
                const j = JSON.parse(message) as Json;
                reason = j.reason ?? reason;
                message = j.message ?? message;
              } catch {
                // plain text
              }
              reject(new ApiError(status, reason, message, 'WATCH', path));
            });
            return;
          }
          const lines = createInterface({ input: res, crlfDelay: Infinity });
          // An aborted or broken stream ends the watch (the caller decides whether to watch again).
          const ended = (err?: Error): void => (err === undefined || signal.aborted ? resolve() : reject(err));
          lines.on('error', ended);
          lines.on('line', (line) => {
            if (line.trim() === '') return;
            let ev: Json;
            try {
              ev = JSON.parse(line) as Json;
            } catch {
              return;
            }
            onEvent(ev.type, ev.object);
          });
          res.on('error', ended);
          res.on('end', () => ended());
          res.on('close', () => ended());
        },
      );
      req.on('error', (err) => (signal.aborted ? resolve() : reject(err)));
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
    this.watchAgent.destroy();
  }
}

function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return code === 'ECONNRESET' || code === 'ECONNREFUSED' || code === 'EPIPE' || code === 'ETIMEDOUT' || code === 'EAI_AGAIN';
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Loads a kubeconfig: an explicit file, else $KUBECONFIG / ~/.kube/config, else the in-cluster service account. */
export function loadKubeConfig(file?: string): KubeConfig {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault();
  return kc;
}

/** REST paths. */
export const paths = {
  burstjobs: (ns?: string) => (ns ? `/apis/kubeburst.io/v1alpha1/namespaces/${ns}/burstjobs` : '/apis/kubeburst.io/v1alpha1/burstjobs'),
  burstjob: (ns: string, name: string) => `/apis/kubeburst.io/v1alpha1/namespaces/${ns}/burstjobs/${name}`,
  pods: (ns?: string) => (ns ? `/api/v1/namespaces/${ns}/pods` : '/api/v1/pods'),
  pod: (ns: string, name: string) => `/api/v1/namespaces/${ns}/pods/${name}`,
  nodes: () => '/api/v1/nodes',
  services: (ns?: string) => (ns ? `/api/v1/namespaces/${ns}/services` : '/api/v1/services'),
  service: (ns: string, name: string) => `/api/v1/namespaces/${ns}/services/${name}`,
  configmap: (ns: string, name: string) => `/api/v1/namespaces/${ns}/configmaps/${name}`,
  secrets: (ns: string) => `/api/v1/namespaces/${ns}/secrets`,
  secret: (ns: string, name: string) => `/api/v1/namespaces/${ns}/secrets/${name}`,
  networkPolicy: (ns: string, name: string) => `/apis/networking.k8s.io/v1/namespaces/${ns}/networkpolicies/${name}`,
  podGroupApi: () => '/apis/scheduling.k8s.io/v1beta1',
  podGroups: (ns?: string) => (ns ? `/apis/scheduling.k8s.io/v1beta1/namespaces/${ns}/podgroups` : '/apis/scheduling.k8s.io/v1beta1/podgroups'),
  podGroup: (ns: string, name: string) => `/apis/scheduling.k8s.io/v1beta1/namespaces/${ns}/podgroups/${name}`,
  kueueApi: () => '/apis/kueue.x-k8s.io/v1beta2',
  workloads: (ns?: string) => (ns ? `/apis/kueue.x-k8s.io/v1beta2/namespaces/${ns}/workloads` : '/apis/kueue.x-k8s.io/v1beta2/workloads'),
  events: (ns: string) => `/api/v1/namespaces/${ns}/events`,
  event: (ns: string, name: string) => `/api/v1/namespaces/${ns}/events/${name}`,
  leases: (ns: string) => `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`,
  lease: (ns: string, name: string) => `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/${name}`,
};
