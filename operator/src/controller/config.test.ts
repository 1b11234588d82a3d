import { ConfigError, credentialsOf, parseConfig } from './config.js';
import { Logger } from './log.js';

describe('operator configuration', () => {
  it('has defaults fit for a real cluster', () => {
    const c = parseConfig([], {});
    expect(c).toMatchObject({
      namespaces: [],
      workers: 8,
      podCreateConcurrency: 32,
      kubeApiQps: 500,
      kubeApiBurst: 1000,
      leaderElect: true,
      leaseDuration: 15_000,
      renewDeadline: 10_000,
      retryPeriod: 2_000,
      metricsBindAddress: ':8080',
    });
  });

  it('reads flags over environment variables (what the chart sets)', () => {
    const c = parseConfig(['--namespaces=a, b', '--restart-backoff=500ms', '--leader-elect=false'], {
      KUBEBURST_NAMESPACES: 'x',
      POD_NAMESPACE: 'kb-system',
      KUBEBURST_KUBE_API_QPS: '50',
    });
    expect(c).toMatchObject({ namespaces: ['a', 'b'], restartBackoff: 500, leaderElect: false, leaderElectionNamespace: 'kb-system', kubeApiQps: 50 });
  });

  describe('the NATS account key (chart value brokers.natsAccount)', () => {
    const seed = `SA${'B'.repeat(56)}`;
    const account = `A${'C'.repeat(55)}`;

    it('comes from the environment only', () => {
      expect(parseConfig([], { KUBEBURST_NATS_ACCOUNT_SEED: `${seed}\n`, KUBEBURST_NATS_ACCOUNT: account })).toMatchObject({ natsAccountSeed: seed, natsAccount: account });
      expect(parseConfig([], {}).natsAccountSeed).toBeUndefined();
      expect(() => parseConfig([`--nats-account-seed=${seed}`], {})).toThrow("Unknown option '--nats-account-seed'");
    });

    it('is masked in every log line, as the Redis admin password is', () => {
      const lines: string[] = [];
      const cfg = parseConfig([], { KUBEBURST_NATS_ACCOUNT_SEED: seed, KUBEBURST_REDIS_ADMIN_URL: 'redis://admin:Adm1n-pw@redis:6379' });
      new Logger('debug', {}, (l) => void lines.push(l), credentialsOf(cfg)).error(`signing failed with ${seed}`, { cause: `redis admin Adm1n-pw, key ${seed}` });
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain('signing failed with ***');
      expect(lines[0]).not.toContain('BBBBBBBB');
      expect(lines[0]).not.toContain('Adm1n-pw');
    });

    it.each([
      [{ KUBEBURST_NATS_ACCOUNT_SEED: `SU${'B'.repeat(56)}` }, 'env KUBEBURST_NATS_ACCOUNT_SEED (chart value brokers.natsAccount): must be an account nkey seed'],
      [{ KUBEBURST_NATS_ACCOUNT_SEED: seed, KUBEBURST_NATS_ACCOUNT: seed }, 'env KUBEBURST_NATS_ACCOUNT (chart value brokers.natsAccount): must be an account public key'],
      [{ KUBEBURST_NATS_ACCOUNT: account }, 'env KUBEBURST_NATS_ACCOUNT is set but KUBEBURST_NATS_ACCOUNT_SEED is not'],
    ])('rejects %j naming the variable, never quoting a seed', (env, message) => {
      let err: Error | undefined;
      try {
        parseConfig([], env);
      } catch (e) {
        err = e as Error;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect(err!.message).toContain(message);
      expect(err!.message).not.toContain('BBBBBBBB');
    });
  });

  it.each([
    [['--kube-api-qps=0'], '--kube-api-qps (env KUBEBURST_KUBE_API_QPS): Too small: expected number to be >=1'],
    [['--restart-backoff=10'], '--restart-backoff (env KUBEBURST_RESTART_BACKOFF): must be a duration such as 500ms, 10s, 5m or 1h'],
    [['--metrics-bind-address=8080'], '--metrics-bind-address (env KUBEBURST_METRICS_BIND_ADDRESS): must be host:port'],
    [['--lease-duration=5s', '--renew-deadline=5s'], '--renew-deadline must be shorter than --lease-duration'],
    [['--resync-period=600h'], '--resync-period (env KUBEBURST_RESYNC_PERIOD): must be between 1s and 24h'],
    [['--resync-period=0s'], '--resync-period (env KUBEBURST_RESYNC_PERIOD): must be between 1s and 24h'],
    [['--retry-period=0ms'], '--retry-period (env KUBEBURST_RETRY_PERIOD): must be between 100ms and 24h'],
    [['--no-such-flag=1'], "Unknown option '--no-such-flag'"],
  ])('rejects %j naming the flag', (argv, message) => {
    expect(() => parseConfig(argv, {})).toThrow(ConfigError);
    expect(() => parseConfig(argv, {})).toThrow(message);
  });
});
