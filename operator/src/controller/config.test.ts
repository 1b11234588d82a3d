import { ConfigError, parseConfig } from './config.js';

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
