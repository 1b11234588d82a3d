/**
 * "No secret in any output", the search itself: every form a secret could take on its way into a log, an
 * Event, a status or a CLI's output, and where each form was found. Pure: scenario.ts gathers the outputs.
 */

export interface SecretForm {
  /** What the secret is ("the admin password"). */
  readonly secret: string;
  /** How it is written ("URL-encoded"). */
  readonly form: string;
  readonly text: string;
}

export interface Output {
  /** Where it came from ("the operator's log"). */
  readonly what: string;
  readonly text: string;
}

/** A piece of either end this long is a leak too (a truncated copy); 12 random characters never occur by chance. */
const PIECE = 12;

/**
 * A secret as it is, URL-encoded, JSON-escaped, in base64 (as a Secret's `.data` holds it), and a piece of
 * each end; `binary` (the value is base64 of random bytes, like the flare key): those bytes in hex and
 * base64url too.
 */
export function secretForms(secret: string, value: string, opts: { binary?: boolean } = {}): SecretForm[] {
  const forms: [string, string][] = [
    ['as it is', value],
    ['URL-encoded', encodeURIComponent(value)],
    ['JSON-escaped', JSON.stringify(value).slice(1, -1)],
    ['base64', Buffer.from(value).toString('base64')],
  ];
  if (opts.binary) {
    const bytes = Buffer.from(value, 'base64');
    if (bytes.toString('base64') !== value) throw new Error(`${secret} is not base64`);
    forms.push(['its bytes in hex', bytes.toString('hex')], ['its bytes in base64url', bytes.toString('base64url')]);
  }
  if (value.length >= 2 * PIECE) forms.push([`its first ${PIECE} characters`, value.slice(0, PIECE)], [`its last ${PIECE} characters`, value.slice(-PIECE)]);
  // One entry per distinct text (a hex password is its own URL-encoding).
  const seen = new Set<string>();
  return forms.filter(([, text]) => !seen.has(text) && seen.add(text)).map(([form, text]) => ({ secret, form, text }));
}

/** Every place a form occurs in an output, described without the secret: `<secret> (<form>) in <output>: …<context>…`. */
export function findLeaks(outputs: readonly Output[], forms: readonly SecretForm[]): string[] {
  // The context printed around a find shows no form of any secret either (longest first: a piece inside a whole).
  const byLength = [...forms].sort((a, b) => b.text.length - a.text.length);
  const masked = (text: string): string => byLength.reduce((t, f) => t.split(f.text).join(`<${f.secret}>`), text).replaceAll('\n', '\\n');
  const found: string[] = [];
  for (const out of outputs) {
    for (const f of forms) {
      for (let at = out.text.indexOf(f.text); at >= 0; at = out.text.indexOf(f.text, at + 1)) {
        const context = out.text.slice(Math.max(0, at - 60), at + f.text.length + 20);
        found.push(`${f.secret} (${f.form}) in ${out.what} at offset ${at}: …${masked(context)}…`);
      }
    }
  }
  return found;
}
