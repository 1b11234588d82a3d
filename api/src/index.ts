export * from './burstjob.js';
export * from './status.js';
export * from './constants.js';
export { buildCrd, renderCrdYaml, CRD_NAME } from './crd.js';
