/**
 * Unit tests live beside the code (worker-runtime/src, operator/src); integration suites under test/.
 * Two projects: `cluster` (test/integration, test/e2e) needs the local control plane, which its
 * globalSetup starts (test/cluster/up.sh) only when at least one of its tests is selected.
 */
const common = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.test.json' }],
  },
  moduleNameMapper: {
    '^@kubeburst/worker-runtime$': '<rootDir>/worker-runtime/src/index.ts',
    '^@kubeburst/worker-runtime/launch$': '<rootDir>/worker-runtime/src/launch/local.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  // .cache holds the local cluster (etcd's *.snap files are not Jest snapshots).
  modulePathIgnorePatterns: ['<rootDir>/.*/dist/', '<rootDir>/.cache/'],
};
const CLUSTER_TESTS = ['/test/integration/', '/test/e2e/'];

export default {
  maxWorkers: 2,
  // Cluster tests set longer timeouts per test.
  testTimeout: 120000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/worker-runtime/src/**/*.test.ts', '<rootDir>/operator/src/**/*.test.ts', '<rootDir>/test/**/*.test.ts', '<rootDir>/examples/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '/dist/', ...CLUSTER_TESTS],
    },
    {
      ...common,
      displayName: 'cluster',
      testMatch: CLUSTER_TESTS.map((d) => `<rootDir>${d}**/*.test.ts`),
      testPathIgnorePatterns: ['/node_modules/', '/dist/'],
      globalSetup: '<rootDir>/test/integration/harness/global-setup.ts',
      globalTeardown: '<rootDir>/test/integration/harness/global-teardown.ts',
    },
  ],
};
