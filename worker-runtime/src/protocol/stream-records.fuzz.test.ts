import fc from 'fast-check';
import { casesPerProperty, recordSuite } from './fuzz-properties.js';

/**
 * The stream-record decoder (RecordDecoder) under fast-check: 12,000 cases here; `npm run fuzz` runs the
 * same properties for 1,000,000 (worker-runtime/src/protocol/fuzz-properties.ts says what they check).
 */
const CASES = 12_000;
const properties = recordSuite.properties(fc);
const runs = casesPerProperty(properties, CASES);

describe(`stream-record decoder fuzz (${CASES} cases)`, () => {
  properties.forEach((p, i) => {
    test(`${p.name} [${runs[i]} cases]`, () => fc.assert(p.property, { numRuns: runs[i]! }));
  });
});
