import { checksum, generateRecords, keyHex, RECORD_BYTES, sortRecords } from './records.js';

/** Sequential TeraSort: every record generated in one place and sorted; its checksum and keys in order. */
export function terasortReference(records: number, seed: number): { checksum: number; keys: string[] } {
  const input = generateRecords(seed, 0, records);
  const sorted = sortRecords(input);
  return { checksum: checksum(input), keys: Array.from({ length: records }, (_, i) => keyHex(sorted, i * RECORD_BYTES)) };
}

/** Only the checksum of the data set (for large scales, where comparing keys one by one is not needed). */
export function terasortChecksum(records: number, seed: number): number {
  const chunk = 65_536;
  let acc = 0;
  for (let from = 0; from < records; from += chunk) acc = checksum(generateRecords(seed, from, Math.min(records, from + chunk)), acc);
  return acc;
}
