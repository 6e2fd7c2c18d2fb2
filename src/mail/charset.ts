// Charset conversion for mail text: iconv-lite first, then the WHATWG decoders built into Node
// (ICU: ISO-2022-JP and friends that iconv-lite lacks). Never throws; an unknown charset yields
// null so the caller chooses its fallback (RFC 2047 §6.2: show the encoded word as it is).
import { isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';

const asciiOnly = (buf: Buffer): boolean => {
  for (let i = 0; i < buf.length; i++) if (buf[i]! >= 0x80) return false;
  return true;
};

/** Bytes of unknown charset: UTF-8 when valid, else Windows-1252 (a superset of Latin-1 in practice). */
export function decodeUnlabelled(buf: Buffer): string {
  if (asciiOnly(buf)) return buf.toString('latin1');
  if (isUtf8(buf)) return buf.toString('utf8');
  return iconv.decode(buf, 'windows-1252');
}

/** RFC 2231 §5 allows "charset*language" in encoded words; a label is case-insensitive. */
function cleanLabel(charset: string): string {
  const star = charset.indexOf('*');
  return (star >= 0 ? charset.slice(0, star) : charset).trim().toLowerCase();
}

/** Decode bytes in the given charset, or null when no decoder knows the label. */
export function decodeCharset(buf: Buffer, charset: string): string | null {
  const label = cleanLabel(charset);
  if (label === '' || label.length > 64) return null;
  switch (label) {
    case 'utf-8':
    case 'utf8':
      return buf.toString('utf8');
    case 'us-ascii':
    case 'ascii':
    case 'ansi_x3.4-1968':
      // Mislabelled 8-bit text is common: prefer UTF-8, then Windows-1252.
      return decodeUnlabelled(buf);
    case 'iso-8859-1':
    case 'latin1':
    case 'iso8859-1':
      // WHATWG maps ISO-8859-1 to Windows-1252: C1 controls are never meant.
      return iconv.decode(buf, 'windows-1252');
    default:
      break;
  }
  try {
    if (iconv.encodingExists(label)) return iconv.decode(buf, label);
  } catch {
    // fall through to the WHATWG decoders
  }
  try {
    return new TextDecoder(label, { fatal: false }).decode(buf);
  } catch {
    return null;
  }
}
