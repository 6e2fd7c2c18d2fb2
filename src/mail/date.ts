// RFC 5322 §3.3 dates, tolerant of the obsolete forms of §4.3 (2- and 3-digit years, named and
// military zones, comments, missing day name or seconds) and of common real-world variants
// (asctime order "Mon Jan  2 15:04:05 2006", full month and day names, ISO 8601).

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** RFC 5322 §4.3 obs-zone, in minutes east of UTC. Military letters are "-0000" (unknown). */
const ZONES: Record<string, number> = {
  ut: 0,
  utc: 0,
  gmt: 0,
  z: 0,
  edt: -4 * 60,
  est: -5 * 60,
  cdt: -5 * 60,
  cst: -6 * 60,
  mdt: -6 * 60,
  mst: -7 * 60,
  pdt: -7 * 60,
  pst: -8 * 60,
  // Common in the wild though not in RFC 5322.
  bst: 60,
  cet: 60,
  cest: 120,
  met: 60,
  mest: 120,
  eet: 120,
  eest: 180,
  jst: 9 * 60,
  ist: 5 * 60 + 30,
};

function stripComments(s: string): string {
  let out = '';
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && depth > 0) {
      i++;
    } else if (c === '(') {
      depth++;
    } else if (c === ')' && depth > 0) {
      depth--;
      if (depth === 0) out += ' ';
    } else if (depth === 0) {
      out += c;
    }
  }
  return out;
}

/** RFC 5322 §4.3: a 2-digit year below 50 is 20xx, otherwise 19xx; a 3-digit year adds 1900. */
function fullYear(text: string): number {
  const y = Number(text);
  if (text.length === 2) return y < 50 ? 2000 + y : 1900 + y;
  if (text.length === 3) return 1900 + y;
  return y;
}

/** Parse a Date: header into ms since the epoch, or null when it is not a usable date. */
export function parseDate(input: string): number | null {
  if (input.length > 1000) return null;
  const s = stripComments(input).trim();
  if (s === '') return null;

  const iso = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(s);
  if (iso) {
    const zone = iso[7] === undefined || iso[7].toUpperCase() === 'Z' ? 0 : numericZone(iso[7].replace(':', ''));
    return build(Number(iso[1]), Number(iso[2]) - 1, Number(iso[3]), [Number(iso[4]), Number(iso[5]), Number(iso[6] ?? 0)], zone ?? 0);
  }

  const tokens = s
    .replace(/,/g, ' ')
    .split(/[\s]+/)
    .filter((t) => t !== '');
  let day: number | null = null;
  let month: number | null = null;
  let year: number | null = null;
  let time: [number, number, number] | null = null;
  let zone: number | null = null;
  for (const raw of tokens) {
    const tok = raw.toLowerCase().replace(/\.$/, '');
    const t = /^(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?$/.exec(tok);
    if (t && time === null) {
      time = [Number(t[1]), Number(t[2]), Number(t[3] ?? 0)];
      continue;
    }
    if (/^[+-]\d{4}$/.test(tok) && zone === null) {
      zone = numericZone(tok);
      continue;
    }
    if (/^\d+$/.test(tok)) {
      if (day === null && tok.length <= 2 && (month === null || year === null)) {
        day = Number(tok);
      } else if (year === null && tok.length >= 2 && tok.length <= 4) {
        year = fullYear(tok);
      }
      continue;
    }
    const m = MONTHS.indexOf(tok.slice(0, 3));
    if (m >= 0 && month === null && /^[a-z]+$/.test(tok)) {
      month = m;
      continue;
    }
    if (zone === null && tok in ZONES) {
      zone = ZONES[tok]!;
      continue;
    }
    if (zone === null && /^[a-ik-z]$/.test(tok)) zone = 0; // military zones: treat as -0000
    // Day names and unknown words are ignored.
  }
  if (day === null || month === null || year === null) return null;
  return build(year, month, day, time ?? [0, 0, 0], zone ?? 0);
}

function numericZone(tok: string): number | null {
  const m = /^([+-])(\d{2})(\d{2})$/.exec(tok);
  if (!m) return null;
  const minutes = Number(m[2]) * 60 + Number(m[3]);
  if (Number(m[3]) > 59 || Number(m[2]) > 99) return null;
  return m[1] === '-' ? -minutes : minutes;
}

function build(year: number, month: number, day: number, time: [number, number, number], zone: number): number | null {
  const [h, min, sec] = time;
  if (year < 1000 || year > 9999 || month < 0 || month > 11 || day < 1 || day > 31) return null;
  if (h > 23 || min > 59 || sec > 60) return null;
  const ms = Date.UTC(year, month, day, h, min, Math.min(sec, 59));
  // Reject days that roll over into the next month (31 Feb).
  if (new Date(ms).getUTCDate() !== day) return null;
  return ms - zone * 60_000;
}
