import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deriveKeys, newSecret, parseSecret } from '../security/keys.js';
import { DirectTransport } from '../transport/direct.js';
import { controlFrames, type ControlMsg } from './control.js';
import { PackLinks } from './links.js';

let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'kb-links-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('pack links', () => {
  test('a link speaks for the pack that proved itself on it: what it says for another pack is dropped', async () => {
    const url = `unix://${join(dir, 'l{pack}.sock')}`;
    const keys = deriveKeys(parseSecret(newSecret(), 'test'), 'links-1');
    const got: { from: number; msg: ControlMsg }[] = [];
    const links = new PackLinks(
      { burstId: 'links-1', packId: 0, packCount: 3, url, keys, connectTimeoutMs: 5_000 },
      { message: (from, msg) => void got.push({ from, msg }), lost: () => {}, left: () => {}, refused: () => {} },
    );
    await links.start([]);
    // Pack 1 holds the key, and sends on its own link an abort and a heartbeat in pack 2's name, then its own.
    const pack1 = new DirectTransport({ burstId: 'links-1', packId: 1, packCount: 3, url, keys, connectTimeoutMs: 5_000 });
    await pack1.connect({ frame: () => {}, error: () => {} });
    await pack1.send(0, controlFrames(2, 0, { type: 'abort', info: { failedPack: 2, reason: 'in the name of pack 2' }, origin: 2 } as ControlMsg));
    await pack1.send(0, controlFrames(2, 0, { type: 'hb' }));
    await pack1.send(0, controlFrames(1, 0, { type: 'hb' }));
    for (let i = 0; i < 500 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual([{ from: 1, msg: { type: 'hb' } }]);
    await pack1.close();
    await links.close();
  });
});
