// Base subject extraction, exactly as RFC 5256 §2.1 describes it, used by SORT SUBJECT and by both
// THREAD algorithms. The input is the already-decoded Subject (MessageIndex.search.subject holds it
// with RFC 2047 words decoded, which is step 1's first half).

export interface BaseSubject {
  /** The base subject, whitespace-normalised, original case. */
  text: string;
  /** True when a reply/forward marker was removed (RFC 5256 §2.1 "reply or forward"; used by §3 step 5). */
  isReplyOrForward: boolean;
}

// ABNF of RFC 5256 §5: subj-blob = "[" *BLOBCHAR "]" *WSP, BLOBCHAR = any char but "[" and "]".
const BLOB = String.raw`\[[^\[\]]*\][ ]*`;
// subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"; subj-leader = (*subj-blob subj-refwd) / WSP
const LEADER_REFWD = new RegExp(String.raw`^(?:${BLOB})*(?:re|fwd?)[ ]*(?:${BLOB})?:`, 'i');
const LEADING_BLOB = new RegExp(`^${BLOB}`);
// subj-trailer = "(fwd)" / WSP
const TRAILER = /(?:\(fwd\)|[ ])$/i;
const FWD_HDR = '[fwd:';

/** Longest subject we look at; longer subjects are cut (bounds the loops below). */
const MAX_SUBJECT = 4096;

/** RFC 5256 §2.1 steps 1–7. */
export function baseSubject(subject: string): BaseSubject {
  // (1) tabs and continuations become a space, runs of spaces one space.
  let s = subject.slice(0, MAX_SUBJECT).replace(/\r?\n/g, '').replace(/[\t\r\n ]+/g, ' ');
  let isReplyOrForward = false;
  for (;;) {
    // (2) remove trailers ("(fwd)" or WSP), repeatedly.
    for (let m = TRAILER.exec(s); m; m = TRAILER.exec(s)) {
      if (m[0] !== ' ') isReplyOrForward = true;
      s = s.slice(0, s.length - m[0].length);
    }
    // (3)–(5) remove leaders, then a leading blob when something non-blank remains; repeat.
    for (let changed = true; changed; ) {
      changed = false;
      for (;;) {
        if (s.startsWith(' ')) {
          s = s.slice(1);
          changed = true;
          continue;
        }
        const m = LEADER_REFWD.exec(s);
        if (!m) break;
        s = s.slice(m[0].length);
        isReplyOrForward = true;
        changed = true;
      }
      const blob = LEADING_BLOB.exec(s);
      if (blob && s.slice(blob[0].length).trim() !== '') {
        s = s.slice(blob[0].length);
        changed = true;
      }
    }
    // (6) "[fwd: … ]" wraps the whole subject: unwrap and go back to step 2.
    if (s.length >= FWD_HDR.length + 1 && s.slice(0, FWD_HDR.length).toLowerCase() === FWD_HDR && s.endsWith(']')) {
      s = s.slice(FWD_HDR.length, -1);
      isReplyOrForward = true;
      continue;
    }
    break;
  }
  // (7)
  return { text: s, isReplyOrForward };
}

/** i;ascii-casemap comparison key (RFC 4790 §9.2): ASCII letters folded to upper case. */
export function asciiCasemap(s: string): string {
  return s.replace(/[a-z]+/g, (m) => m.toUpperCase());
}

/** i;unicode-casemap comparison key (RFC 5051), approximated by NFKD + upper case. */
export function unicodeCasemap(s: string): string {
  return s.normalize('NFKD').toUpperCase();
}
