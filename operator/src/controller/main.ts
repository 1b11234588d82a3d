#!/usr/bin/env node
/**
 * The kubeburst operator: `node operator/dist/controller/main.js [flags]` (see config.ts, or --help).
 *
 * Caches start at once on every replica (a standby takes over warm); reconcile workers start only on the
 * leader. SIGTERM/SIGINT: stop taking work, let in-flight reconciles finish, release the Lease, exit 0.
 * Leadership lost: stop taking work and exit 1 at once (in-flight reconciles die with the process; another
 * replica may already lead), and the Deployment starts a fresh process.
 * @module
 */
import { natsAccountSigner, redactText } from '@kubeburst/worker-runtime';
import { ConfigError, credentialsOf, parseConfig, USAGE, type Config } from './config.js';
import { Controller } from './controller.js';
import { serveHttp } from './http.js';
import { KubeClient, loadKubeConfig } from './kube.js';
import { LeaderElector } from './leader.js';
import { Logger } from './log.js';

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  let cfg: Config;
  try {
    cfg = parseConfig(process.argv.slice(2), process.env);
    // The NATS account key in full (checksum, key type) before anything runs, not at the first NATS burst.
    if (cfg.natsAccountSeed !== undefined)
      await natsAccountSigner(
        { seed: cfg.natsAccountSeed, ...(cfg.natsAccount ? { account: cfg.natsAccount } : {}) },
        'env KUBEBURST_NATS_ACCOUNT_SEED (chart value brokers.natsAccount)',
      ).catch((err: Error) => {
        throw new ConfigError(err.message);
      });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`kubeburst-operator: invalid configuration:\n${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = new Logger(cfg.logLevel, { component: 'kubeburst-operator' }, undefined, credentialsOf(cfg));
  const kc = loadKubeConfig(cfg.kubeconfig);
  let controller: Controller | undefined;
  const kube = await KubeClient.create(kc, {
    qps: cfg.kubeApiQps,
    burst: cfg.kubeApiBurst,
    // Each connection costs a TLS handshake and API server memory; past ~32 more sockets only add contention.
    maxSockets: Math.max(8, Math.min(64, cfg.podCreateConcurrency)),
    userAgent: `kubeburst-operator/${cfg.identity}`,
    onResponse: (verb, code) => controller?.metrics.apiRequests.inc({ verb, code: String(code) }),
  });
  controller = new Controller(cfg, kube, log);
  const ctl = controller;
  // Lease requests get a client of their own (own rate limiter and connections): a renewal must never
  // queue behind a flare's pod creations.
  const leaseKube = cfg.leaderElect
    ? await KubeClient.create(kc, {
        qps: 20,
        burst: 20,
        maxSockets: 2,
        requestTimeoutMs: cfg.renewDeadline,
        userAgent: `kubeburst-operator/${cfg.identity}`,
        onResponse: (verb, code) => controller?.metrics.apiRequests.inc({ verb, code: String(code) }),
      })
    : undefined;
  const elector = leaseKube
    ? new LeaderElector(
        leaseKube,
        {
          namespace: cfg.leaderElectionNamespace,
          name: cfg.leaderElectionId,
          identity: cfg.identity,
          leaseDurationMs: cfg.leaseDuration,
          renewDeadlineMs: cfg.renewDeadline,
          retryPeriodMs: cfg.retryPeriod,
        },
        log,
      )
    : undefined;

  const http = await serveHttp(cfg.metricsBindAddress, {
    registry: ctl.metrics.registry,
    healthy: () => {
      const stuck = ctl.informers.find((i) => i.synced && i.silentMs > cfg.watchdog * 2);
      return stuck === undefined ? null : `an informer has been silent for ${Math.round(stuck.silentMs / 1000)} s`;
    },
    ready: () => (ctl.synced ? null : 'caches not synced yet'),
  });
  log.info('operator starting', {
    http: http.port,
    namespaces: cfg.namespaces.length ? cfg.namespaces : 'all',
    leaderElect: cfg.leaderElect,
    identity: cfg.identity,
    burstUsers: [...(cfg.redisAdminUrl ? ['redis'] : []), ...(cfg.natsAccountSeed ? ['nats'] : [])],
  });

  let stopping = false;
  const shutdown = async (signal: string, code = 0): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    await ctl.stop();
    await elector?.release();
    http.server.close();
    kube.close();
    leaseKube?.close();
    process.exit(code);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  await ctl.discoverApis();
  ctl.startInformers();
  await ctl.waitForSync();
  log.info('caches synced', { jobs: ctl.jobs.reduce((n, i) => n + i.size, 0), nodes: ctl.nodes.size });
  if (elector !== undefined) {
    ctl.metrics.leader.set(0);
    await elector.acquire(() => {
      ctl.metrics.leader.set(0);
      ctl.abandon();
      log.error('exiting: leadership lost');
      process.exit(1);
    });
    if (stopping) return;
  }
  ctl.metrics.leader.set(1);
  ctl.run();
  log.info('reconciling', { workers: cfg.workers });
}

main().catch((err: unknown) => {
  process.stderr.write(
    `${JSON.stringify({ ts: new Date().toISOString(), level: 'error', msg: 'operator crashed', error: redactText((err as Error).stack ?? String(err), credentialsOf({ redisAdminUrl: process.env.KUBEBURST_REDIS_ADMIN_URL, natsAccountSeed: process.env.KUBEBURST_NATS_ACCOUNT_SEED })) })}\n`,
  );
  process.exit(1);
});
