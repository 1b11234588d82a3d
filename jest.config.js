/**
 * Unit tests live beside the code (worker-runtime/src, api/src, cli/src, operator/src); integration suites under test/.
 * Three projects: `unit`; `cluster` (test/integration: the operator on the local control plane's kwok
 * nodes); `node` (test/e2e: real containers on the real node). The last two need the local cluster, which
 * their globalSetup starts (test/cluster/up.sh, node-up.sh) only when one of their tests is selected.
 * `make test` runs `node` in a time slot of its own (scripts/test.sh): real pods on 2 cores want one.
 * @module
 */
/** What every project shares: ESM TypeScript through ts-jest, and the workspace packages mapped to their sources. */
const common = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.test.json' }],
  },
  moduleNameMapper: {
    '^@kubeburst/worker-runtime$': '<rootDir>/worker-runtime/src/index.ts',
    '^@kubeburst/worker-runtime/launch$': '<rootDir>/worker-runtime/src/launch/local.ts',
    '^@kubeburst/worker-runtime/module$': '<rootDir>/worker-runtime/src/module.ts',
    '^@kubeburst/api$': '<rootDir>/api/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  // .cache holds the local cluster (etcd's *.snap files are not Jest snapshots).
  modulePathIgnorePatterns: ['<rootDir>/.*/dist/', '<rootDir>/.cache/'],
};
const CLUSTER_TESTS = ['/test/integration/', '/test/e2e/'];
const clusterHooks = {
  globalSetup: '<rootDir>/test/integration/harness/global-setup.ts',
  globalTeardown: '<rootDir>/test/integration/harness/global-teardown.ts',
};

export default {
  maxWorkers: 2,
  // Cluster tests set longer timeouts per test.
  testTimeout: 120000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: [
        '<rootDir>/worker-runtime/src/**/*.test.ts',
        '<rootDir>/api/src/**/*.test.ts',
        '<rootDir>/cli/src/**/*.test.ts',
        '<rootDir>/operator/src/**/*.test.ts',
        '<rootDir>/test/**/*.test.ts',
        '<rootDir>/examples/**/*.test.ts',
      ],
      testPathIgnorePatterns: ['/node_modules/', '/dist/', ...CLUSTER_TESTS],
    },
    {
      ...common,
      ...clusterHooks,
      displayName: 'cluster',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '/dist/'],
    },
    {
      ...common,
      ...clusterHooks,
      displayName: 'node',
      testMatch: ['<rootDir>/test/e2e/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '/dist/'],
    },
  ],
};
