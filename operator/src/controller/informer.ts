import { ApiError, sleep, type Json, type KubeClient } from './kube.js';
import type { Logger } from './log.js';

/**
 * A list-watch cache of one kind of object, that keeps itself alive.
 *
 *   list (paginated) ──► watch from the list's resourceVersion ──► server ends the watch ──► short pause ──► watch again
 *        ▲                       │ 410 Gone / "too old resource version"             │ error
 *        └───────────────────────┴───────────── re-list ◄──────── backoff ◄──────────┘
 *
 * client-node's ListWatch stops for good on any non-410 error (kubernetes-client/javascript#795, #1496);
 * this one retries with exponential backoff forever. A watchdog re-lists when a watch has been silent
 * longer than `watchdogMs` despite bookmarks (a half-open connection that never errors). A re-list
 * replays adds/updates and deletes what vanished, so handlers see every change collapsed to the latest
 * state, which is all a reconciler needs.
 */
export interface InformerOptions<T> {
  name: string;
  /** List path, e.g. /api/v1/pods or /api/v1/namespaces/ns/pods. */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Keep only what is needed (memory for cluster-wide pod caches). */
  transform?: (obj: Json) => T;
  pageSize?: number;
  watchdogMs?: number;
  /** Server-side watch timeout; default a random 240–360 s so many watches do not end together. */
  watchTimeoutSeconds?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

export interface Handlers<T> {
  add?: (obj: T) => void;
  update?: (obj: T, old: T) => void;
  delete?: (obj: T) => void;
  /** After every (re-)list: the cache is complete. */
  synced?: () => void;
}

type Meta = { metadata?: { namespace?: string; name?: string; resourceVersion?: string } };
export const keyOf = (o: Meta): string => (o.metadata?.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : (o.metadata?.name ?? ''));

export class Informer<T extends Meta = Json> {
  private readonly store = new Map<string, T>();
  private readonly handlers: Handlers<T>[] = [];
  private resourceVersion = '';
  private abort: AbortController | undefined;
  private stopped = true;
  private hasSynced = false;
  private lastEventAt = Date.now();
  private failures = 0;
  /** Watches in a row that the server ended within a second. */
  private quickEnds = 0;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  /** Times the informer listed, and watches it started (tests and metrics). */
  relists = 0;
  watches = 0;
  lastError: string | undefined;

  constructor(
    private readonly kube: KubeClient,
    private readonly opts: InformerOptions<T>,
    private readonly log: Logger,
  ) {}

  on(h: Handlers<T>): void {
    this.handlers.push(h);
  }

  get synced(): boolean {
    return this.hasSynced;
  }

  /** ms since the watch last delivered anything (events or bookmarks). */
  get silentMs(): number {
    return Date.now() - this.lastEventAt;
  }

  get(key: string): T | undefined {
    return this.store.get(key);
  }

  list(): T[] {
    return [...this.store.values()];
  }

  get size(): number {
    return this.store.size;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    this.wakeUp?.();
    await this.loop;
  }

  /** A pause that stop() cuts short. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }

  /** Resolves once the first list is in the cache. */
  async waitForSync(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.hasSynced) {
      if (Date.now() > deadline) throw new Error(`informer ${this.opts.name} did not sync in ${timeoutMs} ms${this.lastError ? `: ${this.lastError}` : ''}`);
      await sleep(20);
    }
  }

  private async run(): Promise<void> {
    const base = this.opts.backoffBaseMs ?? 200;
    const max = this.opts.backoffMaxMs ?? 30_000;
    while (!this.stopped) {
      try {
        if (this.resourceVersion === '') await this.relist();
        const started = Date.now();
        await this.watchOnce();
        this.failures = 0;
        // The server ended the watch cleanly (timeoutSeconds). Resume after a short jittered pause, longer
        // each time a watch ends at once, so a server or proxy that keeps closing watches cannot make this spin.
        this.quickEnds = Date.now() - started < 1000 ? this.quickEnds + 1 : 0;
        if (!this.stopped) await this.pause(Math.min(max, (base / 4) * 2 ** Math.min(this.quickEnds, 10)) * (0.5 + Math.random() / 2));
      } catch (err) {
        if (this.stopped) break;
        if (err instanceof ApiError && (err.status === 410 || err.reason === 'Expired')) {
          this.log.info('watch expired; re-listing', { informer: this.opts.name });
          this.resourceVersion = '';
          continue;
        }
        this.failures++;
        this.lastError = (err as Error).message;
        const delay = Math.min(max, base * 2 ** Math.min(this.failures - 1, 10)) * (0.5 + Math.random() / 2);
        this.log.warn('informer error; retrying', { informer: this.opts.name, error: this.lastError, retryInMs: Math.round(delay), failures: this.failures });
        // After repeated failures the resourceVersion may be long compacted: start over.
        if (this.failures >= 3) this.resourceVersion = '';
        await this.pause(delay);
      }
    }
  }

  private query(extra: Record<string, string> = {}): Record<string, string> {
    return {
      ...(this.opts.labelSelector ? { labelSelector: this.opts.labelSelector } : {}),
      ...(this.opts.fieldSelector ? { fieldSelector: this.opts.fieldSelector } : {}),
      ...extra,
    };
  }

  private async relist(): Promise<void> {
    const fresh = new Map<string, T>();
    let cont = '';
    let rv = '';
    do {
      const q = new URLSearchParams(this.query({ limit: String(this.opts.pageSize ?? 500), ...(cont ? { continue: cont } : {}) }));
      const page = await this.kube.get<{ items: Json[]; metadata: { resourceVersion: string; continue?: string } }>(`${this.opts.path}?${q}`);
      for (const item of page.items ?? []) {
        const obj = this.transform(item, page);
        fresh.set(keyOf(obj), obj);
      }
      cont = page.metadata?.continue ?? '';
      rv = page.metadata?.resourceVersion ?? rv;
    } while (cont !== '');
    const old = new Map(this.store);
    this.store.clear();
    for (const [k, v] of fresh) this.store.set(k, v);
    for (const [k, v] of fresh) {
      const before = old.get(k);
      if (before === undefined) this.emit('add', v);
      else if (before.metadata?.resourceVersion !== v.metadata?.resourceVersion) this.emit('update', v, before);
    }
    for (const [k, v] of old) if (!fresh.has(k)) this.emit('delete', v);
    this.resourceVersion = rv;
    this.relists++;
    this.lastEventAt = Date.now();
    this.hasSynced = true;
    for (const h of this.handlers) h.synced?.();
  }

  /** List items lack apiVersion/kind; put them back so every cached object looks the same. */
  private transform(item: Json, list?: Json): T {
    if (list?.kind && !item.kind) {
      item.kind = String(list.kind).replace(/List$/, '');
      item.apiVersion = list.apiVersion;
    }
    return (this.opts.transform ? this.opts.transform(item) : item) as T;
  }

  private async watchOnce(): Promise<void> {
    this.abort = new AbortController();
    this.watches++;
    const watchdogMs = this.opts.watchdogMs ?? 5 * 60_000;
    this.lastEventAt = Date.now();
    const dog = setInterval(
      () => {
        if (Date.now() - this.lastEventAt > watchdogMs) {
          this.log.warn('watch silent too long; re-listing', { informer: this.opts.name, silentMs: Date.now() - this.lastEventAt });
          this.resourceVersion = '';
          this.abort?.abort();
        }
      },
      Math.min(watchdogMs, 10_000),
    );
    let expired: ApiError | undefined;
    try {
      // The server ends a watch after timeoutSeconds; a random spread keeps many watches from ending together.
      const timeoutSeconds = String(this.opts.watchTimeoutSeconds ?? 240 + Math.floor(Math.random() * 120));
      await this.kube.watch(
        this.opts.path,
        this.query({ resourceVersion: this.resourceVersion, allowWatchBookmarks: 'true', timeoutSeconds }),
        (type, raw) => {
          this.lastEventAt = Date.now();
          if (type === 'ERROR') {
            const code = raw?.code as number | undefined;
            expired = new ApiError(code ?? 500, raw?.reason ?? 'Error', raw?.message ?? 'watch error', 'WATCH', this.opts.path);
            this.abort?.abort();
            return;
          }
          const rv = raw?.metadata?.resourceVersion as string | undefined;
          if (type === 'BOOKMARK') {
            if (rv) this.resourceVersion = rv;
            return;
          }
          const obj = this.transform(raw);
          const k = keyOf(obj);
          if (type === 'ADDED' || type === 'MODIFIED') {
            const before = this.store.get(k);
            this.store.set(k, obj);
            if (before === undefined) this.emit('add', obj);
            else this.emit('update', obj, before);
          } else if (type === 'DELETED') {
            const before = this.store.get(k);
            this.store.delete(k);
            this.emit('delete', before ?? obj);
          }
          if (rv) this.resourceVersion = rv;
        },
        this.abort.signal,
      );
    } finally {
      clearInterval(dog);
    }
    if (expired !== undefined) throw expired;
  }

  private emit(kind: 'add' | 'update' | 'delete', obj: T, old?: T): void {
    for (const h of this.handlers) {
      try {
        if (kind === 'add') h.add?.(obj);
        else if (kind === 'update') h.update?.(obj, old!);
        else h.delete?.(obj);
      } catch (err) {
        this.log.error('informer handler threw', { informer: this.opts.name, error: (err as Error).message });
      }
    }
  }
}
