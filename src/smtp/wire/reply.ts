// SMTP replies: a code, an optional enhanced status code (RFC 3463, advertised per RFC 2034) and
// one or more lines of text, formatted per RFC 5321 §4.2.1 ("250-first", "250 last").

export interface Reply {
  /** Three-digit reply code (RFC 5321 §4.2). */
  code: number;
  /** "class.subject.detail" (RFC 3463 §2), or null when none applies (greeting, 354, 334). */
  enhanced: string | null;
  /** At least one line; none may contain CR or LF. */
  lines: string[];
}

/**
 * reply('550 5.1.1', 'No such user'): the status is the code and, optionally, the enhanced code.
 */
export function reply(status: string, text: string | string[]): Reply {
  const m = /^([2-5]\d\d)(?: ([245]\.\d{1,3}\.\d{1,3}))?$/.exec(status);
  if (!m) throw new Error(`bad reply status ${JSON.stringify(status)}`);
  return { code: Number(m[1]), enhanced: m[2] ?? null, lines: Array.isArray(text) ? text : [text] };
}

/** Remove anything that would break the reply framing or smuggle control bytes to the client. */
function clean(line: string): string {
  return line.replace(/[\x00-\x1f\x7f]/g, ' ');
}

/**
 * Format a reply. With `enhanced` false (client did not say EHLO/LHLO, RFC 2034 §3) the status
 * codes are left out. Every line of a multiline reply carries the enhanced code.
 */
export function formatReply(r: Reply, options: { enhanced: boolean }): string {
  const lines = r.lines.length > 0 ? r.lines : [''];
  const prefix = options.enhanced && r.enhanced ? `${r.enhanced} ` : '';
  let out = '';
  for (let i = 0; i < lines.length; i++) {
    const sep = i === lines.length - 1 ? ' ' : '-';
    out += `${r.code}${sep}${prefix}${clean(lines[i]!)}\r\n`;
  }
  return out;
}

/** Parse one reply of a server (tests, and the later outbound client): code, enhanced, lines. */
export function parseReplyLines(lines: string[]): Reply {
  if (lines.length === 0) throw new Error('empty reply');
  const code = Number(lines[0]!.slice(0, 3));
  let enhanced: string | null = null;
  const texts = lines.map((l) => {
    let t = l.slice(4);
    const m = /^([245]\.\d{1,3}\.\d{1,3}) /.exec(t);
    if (m) {
      enhanced = m[1]!;
      t = t.slice(m[0].length);
    }
    return t;
  });
  return { code, enhanced, lines: texts };
}
