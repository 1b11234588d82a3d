/**
 * Secrets never reach a log line, an error, an Event or a status: broker URLs may carry credentials
 * (`redis://user:password@host`), and whatever prints a URL prints it through here.
 */

/** `scheme://user:password@host…` → `scheme://user:***@host…`; a URL without a password is unchanged. */
export function redactUrl(url: string): string {
  return redactText(url);
}

const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:@/?#]*):([^\s@/?#]+)@/gi;

/** Every credential in a URL anywhere in `text`, and every one of `secrets` (exact strings), masked. */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(USERINFO, (_m, scheme: string, user: string) => `${scheme}${user}:***@`);
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('***');
  return out;
}
