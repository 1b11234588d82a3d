import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../conformance/helpers.js';

/** Issue 10: a misspelled field is refused by `validate` and `run` (exit 2), never dropped without a word. */
const CLI = join(ROOT, 'cli', 'bin', 'kubeburst.js');

function kubeburst(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: unknown }).code as number) : 0, stdout, stderr });
    });
  });
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kb-strict-'));
  writeFileSync(join(dir, 'worker.js'), 'export default 1;\n');
  writeFileSync(
    join(dir, 'job.yaml'),
    'apiVersion: kubeburst.io/v1alpha1\nkind: BurstJob\nmetadata:\n  name: typo\nspec:\n  size: 4\n  granularty: 2\n  function: {module: ./worker.js}\n',
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test.each(['validate', 'run'])('kubeburst %s refuses an unknown field, naming its path and the nearest known name', async (command) => {
  const r = await kubeburst([command, join(dir, 'job.yaml')]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("invalid BurstJob 'typo':\n  spec.granularty: unknown field (did you mean granularity?)");
  expect(r.stdout).toBe('');
});
