/**
 * Jest config for `make e2e-kind` only: the kind scenario (needs a kind cluster; see the Makefile).
 * @module
 */
import base from '../../../jest.config.js';

const cluster = base.projects.find((p) => p.displayName === 'cluster');
export default {
  ...cluster,
  rootDir: '../../..',
  displayName: 'e2e-kind',
  testMatch: ['<rootDir>/test/e2e/kind/**/*.kind.ts'],
  globalSetup: undefined,
  testTimeout: 900000,
};
