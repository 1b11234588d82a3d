import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { type Agent, request as httpsRequest, type RequestOptions } from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';
import { redactText } from '@kubeburst/worker-runtime';

/**
 * The CLI's own read-only Kubernetes client: a kubeconfig and a few GETs, each with a deadline.
 *
 * @kubernetes/client-node loads the kubeconfig the way kubectl does ($KUBECONFIG, a ':'-separated list,
 * else ~/.kube/config; client certificates, bearer tokens and token files, exec plugins, CA files or
 * data, insecure-skip-tls-verify, tls-server-name) and is asked for the credentials; the requests are
 * plain node:https. The operator's KubeClient (operator/src/controller/kube.ts) is deliberately not
 * reused: it is tuned for the controller (rate limiter, keep-alive pool, retries, watches), and the CLI
 * must not depend on controller code.
 */

/** Something the API server answered with a non-2xx status. */
export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly path: string,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

/** The cluster could not be reached or the kubeconfig is unusable: the message says which and what to set. */
export class KubeConnectError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KubeConnectError';
  }
}

export interface KubeTarget {
  /** --kubeconfig: a file; else $KUBECONFIG, else ~/.kube/config. */
  kubeconfig?: string;
  /** --context: a context of that kubeconfig; else its current-context. */
  context?: string;
  /** -n/--namespace; else the context's namespace, else "default". */
  namespace?: string;
  /** Every request fails after this long without an answer (a stream: without a byte). */
  requestTimeoutMs: number;
}

/** A Kubernetes object as JSON: read field by field, shapes checked where they matter. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- API objects are untyped JSON here
export type Json = Record<string, any>;

export class CliKube {
  private constructor(
    private readonly kc: KubeConfig,
    readonly server: URL,
    readonly namespace: string,
    readonly context: string,
    private readonly timeoutMs: number,
  ) {}

  static open(t: KubeTarget, env: NodeJS.ProcessEnv = process.env): CliKube {
    const kc = new KubeConfig();
    const file = t.kubeconfig ?? (env.KUBECONFIG ? undefined : resolve(homedir(), '.kube', 'config'));
    // client-node falls back to http://localhost:8080 when there is no kubeconfig at all: say so instead.
    if (file !== undefined && !existsSync(file)) {
      throw new KubeConnectError(`no kubeconfig at ${file}: pass --kubeconfig FILE or set KUBECONFIG`);
    }
    try {
      if (file !== undefined) kc.loadFromFile(file);
      else kc.loadFromDefault();
    } catch (err) {
      throw new KubeConnectError(`cannot read the kubeconfig ${file ?? `$KUBECONFIG (${env.KUBECONFIG})`}: ${(err as Error).message}`, { cause: err });
    }
    if (t.context !== undefined) {
      if (kc.getContextObject(t.context) === null) {
        throw new KubeConnectError(
          `context '${t.context}' is not in the kubeconfig (it has: ${
            kc
              .getContexts()
              .map((c) => c.name)
              .join(', ') || 'none'
          })`,
        );
      }
      kc.setCurrentContext(t.context);
    }
    const context = kc.getCurrentContext();
    const cluster = kc.getCurrentCluster();
    if (!context || cluster === null) {
      throw new KubeConnectError(
        `the kubeconfig has no current context with a cluster: pass --context (it has: ${
          kc
            .getContexts()
            .map((c) => c.name)
            .join(', ') || 'none'
        })`,
      );
    }
    let server: URL;
    try {
      server = new URL(cluster.server);
    } catch {
      throw new KubeConnectError(`cluster '${cluster.name}' of context '${context}' has no valid server URL`);
    }
    const namespace = t.namespace ?? kc.getContextObject(context)?.namespace ?? 'default';
    return new CliKube(kc, server, namespace, context, t.requestTimeoutMs);
  }

  /** GET a JSON object. */
  async get<T = Json>(path: string): Promise<T> {
    const res = await this.open(path);
    const text = await readAll(res, 64 * 1024 * 1024, path);
    return JSON.parse(text) as T;
  }

  /** GET text (pod logs), at most `maxBytes` of it. */
  async text(path: string, maxBytes: number): Promise<string> {
    return readAll(await this.open(path), maxBytes, path);
  }

  /** GET a stream (a followed log): the caller reads and destroys it; `signal` aborts it. */
  stream(path: string, signal: AbortSignal): Promise<IncomingMessage> {
    return this.open(path, signal, true);
  }

  /** Answers 2xx, else rejects with KubeApiError (the server's reason and message) or KubeConnectError. */
  private async open(path: string, signal?: AbortSignal, streaming = false): Promise<IncomingMessage> {
    const o: RequestOptions & Json = {};
    try {
      await this.kc.applyToHTTPSOptions(o);
    } catch (err) {
      // An exec plugin that fails, a token file that is gone.
      throw new KubeConnectError(`credentials of context '${this.context}': ${(err as Error).message}`, { cause: err });
    }
    (o.agent as Agent | undefined)?.destroy();
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': 'kubeburst-cli' };
    for (const [k, v] of Object.entries(o.headers ?? {})) if (v !== undefined) headers[k] = String(v);
    if (o.auth) headers.Authorization = `Basic ${Buffer.from(String(o.auth)).toString('base64')}`;
    const url = new URL(path, this.server);
    const tls: RequestOptions = {};
    for (const k of ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const) if (o[k] !== undefined) (tls as Json)[k] = o[k];
    const where = `${this.server.origin} (context ${this.context})`;
    return new Promise<IncomingMessage>((resolvePromise, reject) => {
      const req = (url.protocol === 'http:' ? httpRequest : httpsRequest)(url, { method: 'GET', headers, ...tls, agent: false, ...(signal ? { signal } : {}) }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          // A followed log may stay quiet for long: only the wait for the answer is bounded here.
          if (streaming) req.setTimeout(0);
          resolvePromise(res);
          return;
        }
        readAll(res, 64 * 1024, path).then(
          (text) => {
            let reason = res.statusMessage ?? 'Error';
            let message = text.trim();
            try {
              const j = JSON.parse(text) as Json;
              reason = j.reason ?? reason;
              message = j.message ?? message;
            } catch {
              // plain text
            }
            reject(new KubeApiError(status, reason, redactText(message).slice(0, 1000), path));
          },
          (err: unknown) => reject(err),
        );
      });
      req.setTimeout(this.timeoutMs, () => req.destroy(new KubeConnectError(`${where}: no answer to GET ${url.pathname} in ${this.timeoutMs / 1000} s (--request-timeout)`)));
      req.on('error', (err) => {
        if (err instanceof KubeConnectError || (err as Error).name === 'AbortError') reject(err);
        else reject(new KubeConnectError(`cannot reach the API server ${where}: ${(err as Error).message}`, { cause: err }));
      });
      req.end();
    });
  }
}

/** Reads a response body, failing past `maxBytes` (never buffers more than that). */
function readAll(res: IncomingMessage, maxBytes: number, path: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    res.on('data', (c: Buffer) => {
      n += c.length;
      if (n > maxBytes) {
        res.destroy(new KubeConnectError(`GET ${path}: the answer is larger than ${maxBytes} bytes`));
        return;
      }
      chunks.push(c);
    });
    res.on('error', reject);
    res.on('end', () => resolvePromise(Buffer.concat(chunks).toString('utf8')));
  });
}

const enc = encodeURIComponent;
/** The few REST paths the CLI reads. */
export const cliPaths = {
  burstjob: (ns: string, name: string) => `/apis/kubeburst.io/v1alpha1/namespaces/${enc(ns)}/burstjobs/${enc(name)}`,
  pods: (ns: string, selector: string, limit: number, cont?: string) =>
    `/api/v1/namespaces/${enc(ns)}/pods?labelSelector=${enc(selector)}&limit=${limit}${cont ? `&continue=${enc(cont)}` : ''}`,
  pod: (ns: string, name: string) => `/api/v1/namespaces/${enc(ns)}/pods/${enc(name)}`,
  configmap: (ns: string, name: string) => `/api/v1/namespaces/${enc(ns)}/configmaps/${enc(name)}`,
  log: (ns: string, pod: string, q: Record<string, string | number | boolean | undefined>) => {
    const qs = Object.entries(q)
      .filter(([, v]) => v !== undefined && v !== false)
      .map(([k, v]) => `${k}=${enc(String(v))}`)
      .join('&');
    return `/api/v1/namespaces/${enc(ns)}/pods/${enc(pod)}/log${qs ? `?${qs}` : ''}`;
  },
};
