// Modified UTF-7 for IMAP mailbox names (RFC 3501 §5.1.3): printable US-ASCII (0x20–0x7e) stands
// for itself except "&", which is written "&-"; every other run of characters is "&" + modified
// BASE64 (",", not "/"; no padding) of its UTF-16BE form + "-". Decoding is strict: only the one
// canonical encoding of a name is accepted (RFC 3501 §5.1.3: base64 MUST NOT encode printable
// US-ASCII, and adjacent encoded runs are not allowed), so one name has one spelling.

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,';

/** Encode a Unicode mailbox name to modified UTF-7. */
export function encodeMutf7(name: string): string {
  let out = '';
  let run: number[] = [];
  const flush = (): void => {
    if (run.length === 0) return;
    const bytes = Buffer.alloc(run.length * 2);
    run.forEach((unit, i) => bytes.writeUInt16BE(unit, i * 2));
    out += '&' + bytes.toString('base64').replace(/=+$/, '').replace(/\//g, ',') + '-';
    run = [];
  };
  for (let i = 0; i < name.length; i++) {
    const unit = name.charCodeAt(i);
    if (unit >= 0x20 && unit <= 0x7e) {
      flush();
      out += unit === 0x26 ? '&-' : name[i];
    } else {
      run.push(unit);
    }
  }
  flush();
  return out;
}

export class Mutf7Error extends Error {
  override name = 'Mutf7Error';
}

/** Decode a modified UTF-7 mailbox name; throws Mutf7Error on anything but the canonical form. */
export function decodeMutf7(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) throw new Mutf7Error('mailbox name has a character outside printable US-ASCII');
    if (c !== 0x26) {
      out += text[i];
      i++;
      continue;
    }
    const end = text.indexOf('-', i + 1);
    if (end < 0) throw new Mutf7Error('unterminated "&" sequence in mailbox name');
    const b64 = text.slice(i + 1, end);
    i = end + 1;
    if (b64.length === 0) {
      out += '&';
      continue;
    }
    out += decodeRun(b64);
  }
  if (encodeMutf7(out) !== text) throw new Mutf7Error('mailbox name is not in canonical modified UTF-7');
  return out;
}

function decodeRun(b64: string): string {
  for (const ch of b64) if (!B64.includes(ch)) throw new Mutf7Error('invalid character in modified BASE64');
  const rem = b64.length % 4;
  if (rem === 1) throw new Mutf7Error('truncated modified BASE64');
  const bytes = Buffer.from(b64.replace(/,/g, '/') + '='.repeat(rem === 0 ? 0 : 4 - rem), 'base64');
  if (bytes.length % 2 !== 0 || bytes.length === 0) throw new Mutf7Error('modified BASE64 is not whole UTF-16 units');
  let s = '';
  for (let j = 0; j < bytes.length; j += 2) {
    const unit = bytes.readUInt16BE(j);
    const isHigh = unit >= 0xd800 && unit <= 0xdbff;
    const isLow = unit >= 0xdc00 && unit <= 0xdfff;
    if (isHigh) {
      const next = j + 2 < bytes.length ? bytes.readUInt16BE(j + 2) : -1;
      if (next < 0xdc00 || next > 0xdfff) throw new Mutf7Error('unpaired UTF-16 surrogate in mailbox name');
      s += String.fromCharCode(unit, next);
      j += 2;
    } else if (isLow) {
      throw new Mutf7Error('unpaired UTF-16 surrogate in mailbox name');
    } else {
      s += String.fromCharCode(unit);
    }
  }
  return s;
}
