import { ConfigError } from '../errors.js';

/**
 * A NATS URL list as the `nats` client needs it: the servers without credentials, and the credentials
 * apart. nats.js reads only host and port from a server URL and drops its userinfo, so credentials in
 * the URL reach the server only when they are passed as options.
 *
 *   nats://alice:s3%40cret@n1:4222,n2:4222   user alice, password s3@cret (percent-decoded)
 *   nats://TOKEN@n1:4222                     a token: a userinfo with no colon, as NATS' own clients read it
 *
 * The client has one set of credentials for all its servers: every server of the list that names some must
 * name the same, and one that names none uses them too. The userinfo ends at the server's last `@`; a `,`
 * in a password must be percent-encoded (`%2C`), since it would split the list.
 * @module
 */
export type NatsUrlAuth = { user: string; pass: string } | { token: string };

export interface NatsServerEntry {
  /** The server with its userinfo removed (scheme, host and port as written). */
  server: string;
  auth?: NatsUrlAuth;
}

const SCHEME = /^[a-z][a-z0-9+.-]{0,31}:\/\//i;

/**
 * Every server of a comma-separated list, its credentials decoded. `field` names where the URL came from,
 * for errors, which name servers by their position and never hold a password or token.
 */
export function parseNatsServers(url: string, field: string): NatsServerEntry[] {
  return url.split(',').map((entry, i) => parseEntry(entry.trim(), i + 1, field));
}

/** The one set of credentials the list's servers agree on, if any names some. */
export function agreedNatsAuth(entries: readonly NatsServerEntry[], field: string): NatsUrlAuth | undefined {
  let first: { at: number; auth: NatsUrlAuth } | undefined;
  entries.forEach((e, i) => {
    if (e.auth === undefined) return;
    if (first === undefined) first = { at: i + 1, auth: e.auth };
    else if (!sameAuth(first.auth, e.auth))
      throw new ConfigError(
        field,
        `servers #${first.at} and #${i + 1} of the list carry different credentials: the NATS client uses one user and password (or token) for every server, so give them all the same, or name them on one server only`,
      );
  });
  return first?.auth;
}

function parseEntry(entry: string, position: number, field: string): NatsServerEntry {
  const where = `server #${position} of the list`;
  if (entry === '') throw new ConfigError(field, `${where} is empty`);
  const scheme = SCHEME.exec(entry)?.[0] ?? '';
  const rest = entry.slice(scheme.length);
  const at = rest.lastIndexOf('@');
  if (at < 0) return { server: entry };
  const server = scheme + rest.slice(at + 1);
  if (rest.slice(at + 1) === '') throw new ConfigError(field, `${where} names no host after its credentials`);
  const userinfo = rest.slice(0, at);
  if (userinfo === '') return { server };
  const colon = userinfo.indexOf(':');
  if (colon < 0) return { server, auth: { token: decode(userinfo, where, field) } };
  const user = decode(userinfo.slice(0, colon), where, field);
  if (user === '') throw new ConfigError(field, `${where} has a password but no user name (nats://user:password@host)`);
  return { server, auth: { user, pass: decode(userinfo.slice(colon + 1), where, field) } };
}

function decode(s: string, where: string, field: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    // Never the text itself: it is a password or a token.
    throw new ConfigError(field, `${where}: its credentials hold a '%' that starts no percent-encoding (write '%' as %25)`);
  }
}

function sameAuth(a: NatsUrlAuth, b: NatsUrlAuth): boolean {
  return 'token' in a ? 'token' in b && a.token === b.token : 'user' in b && a.user === b.user && a.pass === b.pass;
}
