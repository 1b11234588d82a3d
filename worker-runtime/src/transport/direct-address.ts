import { isIP } from 'node:net';
import { ConfigError } from '../errors.js';

/**
 * Where the packs of a direct-transport burst listen, from one string (KB_TRANSPORT_URL):
 *
 *   unix:///tmp/kb-1234/p{pack}.sock             a Unix socket per pack (local runs; `kubeburst run`'s default)
 *   tcp://bj-a0-{pack}.bj-svc:7100               a stable DNS name per pack (pods behind a headless Service)
 *   127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103 one address per pack, in pack order (scheme optional)
 *
 * One entry is a template: `{pack}` is replaced by the pack index (0-based). Several entries, separated by
 * commas, must number exactly the packs of the burst. A TCP entry without a port uses 7100.
 *
 * A pack listens on its own entry, except that a TCP entry whose host is a name (not an IP literal and
 * not `localhost`) listens on 0.0.0.0 at that port: a pod cannot bind to the Service's name for itself.
 * A trailing `?listen=<host:port | unix path>` overrides where this pack listens.
 */
export const DIRECT_DEFAULT_PORT = 7100;
export const DIRECT_URL_FIELD = 'transport.url (KB_TRANSPORT_URL)';
/** Replaced by the pack index in a one-entry template. */
export const PACK_PLACEHOLDER = '{pack}';

/**
 * The one-entry TCP template `tcp://<host of pack {pack}>:<port>`, e.g. each pack pod's DNS name under a
 * headless Service; parseDirectUrl reads it back.
 */
export function directUrlTemplate(hostOfPack: (pack: string) => string, port: number = DIRECT_DEFAULT_PORT): string {
  const host = hostOfPack(PACK_PLACEHOLDER);
  if (!host.includes(PACK_PLACEHOLDER)) throw new ConfigError(DIRECT_URL_FIELD, `the host template '${host}' does not depend on the pack index`);
  return `tcp://${host}:${port}`;
}

export type DirectEndpoint = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

export interface DirectAddresses {
  /** Where pack `p` is reached. */
  peer(p: number): DirectEndpoint;
  /** Where this pack listens. */
  listen: DirectEndpoint;
}

/** Unix socket paths are limited by sockaddr_un.sun_path (108 bytes on Linux, 104 on macOS). */
const MAX_UNIX_PATH = 103;

const EXAMPLES = 'e.g. unix:///tmp/kb/p{pack}.sock, tcp://job-a0-{pack}.job-svc:7100, or host:port,host:port,… (one per pack)';

export function parseDirectUrl(url: string, packCount: number, me: number): DirectAddresses {
  const trimmed = url.trim();
  if (trimmed === '') throw new ConfigError(DIRECT_URL_FIELD, `is required for the direct transport with more than one pack: ${EXAMPLES}`);
  const q = trimmed.indexOf('?');
  const list = q < 0 ? trimmed : trimmed.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : trimmed.slice(q + 1));
  for (const k of query.keys()) if (k !== 'listen') throw new ConfigError(DIRECT_URL_FIELD, `unknown option '${k}' (the only option is ?listen=<host:port | unix path>)`);

  const entries = list.split(',').map((e) => e.trim());
  if (entries.some((e) => e === '')) throw new ConfigError(DIRECT_URL_FIELD, `has an empty entry in '${url}': ${EXAMPLES}`);
  let entryOf: (p: number) => string;
  if (entries.length === 1) {
    const template = entries[0]!;
    if (packCount > 1 && !template.includes(PACK_PLACEHOLDER)) {
      throw new ConfigError(DIRECT_URL_FIELD, `'${template}' is one address for ${packCount} packs: put {pack} in it (replaced by the pack index) or list one address per pack`);
    }
    entryOf = (p) => template.replaceAll(PACK_PLACEHOLDER, String(p));
  } else {
    if (entries.length !== packCount)
      throw new ConfigError(DIRECT_URL_FIELD, `lists ${entries.length} addresses but the burst has ${packCount} packs (one per pack, in pack order)`);
    entryOf = (p) => entries[p]!;
  }
  const peers = Array.from({ length: packCount }, (_, p) => parseEndpoint(entryOf(p)));
  const listenOverride = query.get('listen');
  const own = peers[me]!;
  const listen =
    listenOverride !== null
      ? parseEndpoint(listenOverride.includes('/') && !listenOverride.startsWith('unix://') ? `unix://${listenOverride}` : listenOverride)
      : own.kind === 'tcp' && isIP(own.host) === 0 && own.host !== 'localhost'
        ? { kind: 'tcp' as const, host: '0.0.0.0', port: own.port }
        : own;
  return { peer: (p) => peers[p]!, listen };
}

/** `unix://<path>`, `tcp://host[:port]`, `host[:port]` or `[ipv6][:port]`. */
export function parseEndpoint(entry: string): DirectEndpoint {
  if (entry.startsWith('unix://')) {
    const path = entry.slice('unix://'.length);
    if (!path.startsWith('/')) throw new ConfigError(DIRECT_URL_FIELD, `'${entry}': a Unix socket path must be absolute (unix:///dir/p{pack}.sock)`);
    if (Buffer.byteLength(path) > MAX_UNIX_PATH)
      throw new ConfigError(DIRECT_URL_FIELD, `'${path}' is longer than ${MAX_UNIX_PATH} bytes, the limit of a Unix socket path: use a shorter directory`);
    return { kind: 'unix', path };
  }
  const hostPort = entry.startsWith('tcp://') ? entry.slice('tcp://'.length) : entry;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(hostPort)) throw new ConfigError(DIRECT_URL_FIELD, `'${entry}': the direct transport takes unix:// or tcp:// addresses (${EXAMPLES})`);
  let host: string;
  let portText: string | undefined;
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close < 0) throw new ConfigError(DIRECT_URL_FIELD, `'${entry}': unclosed [ in an IPv6 address`);
    host = hostPort.slice(1, close);
    const rest = hostPort.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) throw new ConfigError(DIRECT_URL_FIELD, `'${entry}': expected :port after ]`);
    portText = rest === '' ? undefined : rest.slice(1);
  } else {
    const colon = hostPort.lastIndexOf(':');
    host = colon < 0 ? hostPort : hostPort.slice(0, colon);
    portText = colon < 0 ? undefined : hostPort.slice(colon + 1);
  }
  if (host === '' || /[\s/]/.test(host)) throw new ConfigError(DIRECT_URL_FIELD, `'${entry}': expected host:port (${EXAMPLES})`);
  const port = portText === undefined ? DIRECT_DEFAULT_PORT : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError(DIRECT_URL_FIELD, `'${entry}': port must be an integer in 1..65535 (got '${portText}')`);
  return { kind: 'tcp', host, port };
}

export function describeEndpoint(e: DirectEndpoint): string {
  return e.kind === 'unix' ? `unix://${e.path}` : `${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`;
}
