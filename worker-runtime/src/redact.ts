/**
 * Secrets never reach a log line, an error, an Event or a status: broker URLs may carry credentials
 * (`redis://user:<password>@host`), and whatever prints a URL prints it through here.
 *
 * Two layers. Where the URL is known (the CLI, a pack), its password as given, decoded and JSON-escaped
 * (`urlSecrets`) is masked wherever it appears, first: in a client's own error, in text that is no longer
 * a URL. Then any text: the password of every `scheme://user:password@host` in it is masked, whatever
 * characters it holds up to the authority's last `@` (people paste `@`, `:` and `,` unencoded), and so is
 * every `password=`, `token=` (and the like) of a query string, which ioredis logs in with.
 * @module
 */

/** `scheme://user:password@host…` → `scheme://user:***@host…` (`nats://token@` → `nats://***@`); several servers (`a,b,c`) and URLs without a scheme too. */
export function redactUrl(url: string): string {
  // A NATS server list may leave the scheme out: `user:password@host:4222,host:4222`.
  const bare = SCHEME_AT_START.test(url) ? url : url.replace(/^[^\s/?#]+/, (a) => maskAuthority('', a));
  return redactText(bare, urlSecrets(url));
}

/**
 * Every credential in a URL anywhere in `text`, and every one of `secrets` (exact strings), masked. With
 * `cut`, for text that someone else may have cut (Kubernetes keeps 4096 bytes of a termination message, a
 * log tail starts anywhere): a text that ends in a secret's first characters or starts with its last is
 * masked there too (see maskCutEnds). Only there: elsewhere it would mask ordinary words ("reset your
 * password" with the password `password123`).
 */
export function redactText(text: string, secrets: readonly string[] = [], opts: { cut?: boolean } = {}): string {
  let out = text;
  // The exact secrets first: a password holding `/`, `?` or a space ends the regex's authority early,
  // and masking the part before it would split the secret, so that this could no longer find it. Longest
  // first: a secret inside another (a decoded password in its encoded form) must not split it either.
  const exact = secrets.length > 1 ? [...secrets].sort((a, b) => b.length - a.length) : secrets;
  for (const s of exact) if (s.length >= 4) out = out.split(s).join('***');
  if (opts.cut === true) for (const s of exact) if (s.length > CUT_MIN) out = maskCutEnds(out, s);
  // No `@`, no userinfo; no `=`, no query secret: most lines skip the regexes.
  if (out.includes('@')) out = out.replace(AUTHORITY, (_m, scheme: string, authority: string) => scheme + maskAuthority(scheme, authority));
  if (out.includes('=')) out = out.replace(QUERY_SECRET, '$1***');
  return out;
}

/**
 * `text` with a start that is the end of `secret`, and an end that is its start, masked: from CUT_MIN
 * characters on (fewer would mask a port at the end of a line wherever a secret starts with its digits).
 */
function maskCutEnds(text: string, secret: string): string {
  let out = text;
  // A cut inside a multi-byte character leaves U+FFFD (Go's encoder writes it for the broken bytes): it
  // stands for the secret's next character.
  const tail = out.endsWith(REPLACEMENT) ? 1 : 0;
  for (let k = Math.min(secret.length - 1, out.length - tail); k >= CUT_MIN; k--) {
    if (out.slice(0, out.length - tail).endsWith(secret.slice(0, k))) {
      out = `${out.slice(0, out.length - tail - k)}***`;
      break;
    }
  }
  const head = out.startsWith(REPLACEMENT) ? 1 : 0;
  for (let k = Math.min(secret.length - 1, out.length - head); k >= CUT_MIN; k--) {
    if (out.startsWith(secret.slice(secret.length - k), head)) {
      out = `***${out.slice(head + k)}`;
      break;
    }
  }
  return out;
}
const REPLACEMENT = '\uFFFD';

/**
 * The secret parts of a broker URL (or server list): each password (and NATS token) as written, decoded
 * and JSON-escaped, for `redactText(text, secrets)`. Empty for a URL without credentials.
 */
export function urlSecrets(url: string | undefined): string[] {
  if (!url) return [];
  const found = new Set<string>();
  const add = (s: string): void => {
    if (s === '') return;
    found.add(s);
    try {
      found.add(decodeURIComponent(s));
    } catch {
      // A lone `%` is not an encoding: the password is what was written.
    }
  };
  const whole = parse(url);
  // The whole string as one URL (a password may hold a comma), and each server of a list.
  for (const u of [whole, ...(url.includes(',') ? url.split(',').map(parse) : [])]) {
    if (u === undefined) continue;
    add(u.password);
    if (u.password === '' && LIST_SCHEME.test(u.protocol)) add(u.username);
    for (const [k, v] of u.searchParams) if (QUERY_SECRET_NAME.test(k)) add(v);
  }
  // A URL parser ends the userinfo at a `/`, `?` or `#` the user left unencoded in the password (and
  // fails, or finds another host): up to the last `@` is what the user meant (of one server: in a list,
  // that would span servers, and each server's own is the regex's business).
  const rest = url.replace(SCHEME_AT_START, '');
  const userinfo = rest.slice(0, Math.max(0, rest.lastIndexOf('@')));
  const list = !SCHEME_AT_START.test(url) || LIST_SCHEME.test(url);
  if (userinfo.includes(':') && !(list && url.includes(','))) add(userinfo.slice(userinfo.indexOf(':') + 1));
  for (const s of [...found]) found.add(JSON.stringify(s).slice(1, -1));
  return [...found];
}

/** The fewest characters of a secret cut at the text's start or end that are masked (see maskCutEnds). */
const CUT_MIN = 6;

// Bounded: a long run of scheme characters (base64 in a log line) costs linear time, not quadratic.
const SCHEME = '[a-z][a-z0-9+.-]{0,31}://';
const SCHEME_AT_START = new RegExp(`^${SCHEME}`, 'i');
/** A scheme and its authority: up to a path, query, fragment or whitespace, or the next URL of a list. */
const AUTHORITY = new RegExp(`\\b(${SCHEME})((?:[^\\s/?#,]|,(?!${SCHEME}))+)`, 'gi');
const HOST_PORT = /^(\[[0-9a-f:.]*\]|[\w.-]*)(:\d*)?$/i;
/** Query parameters that carry a credential (ioredis takes `?password=`; the rest are common spellings). */
const QUERY_SECRET_NAMES = 'password|passwd|pass|pwd|token|auth|secret|access_token|api_key|apikey';
const QUERY_SECRET_NAME = new RegExp(`^(?:${QUERY_SECRET_NAMES})$`, 'i');
/** Such a parameter's value in any text: up to the next parameter, fragment, quote or whitespace. */
const QUERY_SECRET = new RegExp(`([?&;](?:${QUERY_SECRET_NAMES})=)[^&#\\s"'\`]+`, 'gi');
/** NATS: server lists, and a userinfo without a colon is a token, not a user name. */
const LIST_SCHEME = /^(nats|tls):/i;

function parse(url: string): URL | undefined {
  try {
    return new URL(SCHEME_AT_START.test(url) ? url : `x://${url}`);
  } catch {
    return undefined;
  }
}

/**
 * `user:password@host` → `user:***@host`. The userinfo ends at the authority's last `@`, as URL parsers
 * read it, so a password may hold `@`, `:` and `,` unencoded. NATS takes server lists (`a,b,c`, schemes
 * optional): there each server's userinfo ends at its own last `@`, a server being complete once a
 * host[:port] follows it; the pieces around a comma in a password are joined again, and a userinfo without
 * a colon is a token.
 */
function maskAuthority(scheme: string, authority: string): string {
  if (!authority.includes('@')) return authority;
  const list = scheme === '' || LIST_SCHEME.test(scheme);
  const servers: string[] = [];
  if (!list) servers.push(authority);
  else {
    let piece: string | undefined;
    for (const p of authority.split(',')) {
      // What follows the piece's last `@` (none: a tail that holds a comma is no host).
      const at = p.lastIndexOf('@');
      const tail = at >= 0 ? p.slice(at + 1) : piece === undefined ? p : undefined;
      piece = piece === undefined ? p : `${piece},${p}`;
      if (tail !== undefined && HOST_PORT.test(tail)) {
        servers.push(piece);
        piece = undefined;
      }
    }
    if (piece !== undefined) servers.push(piece);
  }
  const out: string[] = [];
  for (const server of servers) {
    const at = server.lastIndexOf('@');
    if (at < 0) {
      out.push(server);
      continue;
    }
    let userinfo = server.slice(0, at);
    // `user:1234,5678@host`: the piece before the comma looked like host:port.
    let colons = userinfo.includes(':');
    while (list && !colons && out.length > 0 && !out[out.length - 1]!.includes('@')) {
      const before = out.pop()!;
      colons = before.includes(':');
      userinfo = `${before},${userinfo}`;
    }
    const colon = userinfo.indexOf(':');
    out.push(`${colon >= 0 ? `${userinfo.slice(0, colon)}:***` : list ? '***' : userinfo}${server.slice(at)}`);
  }
  return out.join(',');
}
