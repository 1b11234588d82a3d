import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Local from '../../worker-runtime/dist/launch/local.js';

export type { FlareResult, LocalFlareOptions } from '../../worker-runtime/dist/launch/local.js';

/**
 * The worker runtime's local launcher (runLocalFlare: one child process per pack, the same pack entrypoint a
 * pod runs), loaded from the installed package. The package's public exports do not include it yet; once a
 * `@kubeburst/worker-runtime/launch` subpath is exported this becomes a plain static import.
 */
export async function loadLauncher(): Promise<typeof Local> {
  const pkg = createRequire(import.meta.url).resolve('@kubeburst/worker-runtime/package.json');
  return (await import(pathToFileURL(join(dirname(pkg), 'dist', 'launch', 'local.js')).href)) as typeof Local;
}
