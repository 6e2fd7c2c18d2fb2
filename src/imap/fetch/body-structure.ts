// BODY and BODYSTRUCTURE rendering (RFC 9051 §7.5.2, §9 body ABNF) from the stored BodyPart tree.
// BODY is the non-extensible form; BODYSTRUCTURE adds the extension data (md5, disposition,
// language, location for single parts; parameters, disposition, language, location for multipart).
// The bodies of a multipart are written side by side, "((…)(…) "MIXED")", as the ABNF has them.
import type { BodyPart, ParamList } from '../../mail/types.js';
import type { ImapValue } from '../wire/types.js';
import { envelopeWire } from './envelope.js';
import { finish, run, type Wire } from './wire-text.js';

/** Backstop on recursion; the parser already serves parts nested deeper than its MAX_DEPTH as leaves. */
const MAX_DEPTH = 200;

/** body-fld-param = "(" string SP string *(SP string SP string) ")" / nil */
function params(list: ParamList): Wire {
  if (list.length === 0) return null;
  const out: Wire[] = [];
  for (const [name, value] of list) out.push(name.toUpperCase(), value);
  return out;
}

/** body-fld-dsp = "(" string SP body-fld-param ")" / nil */
function disposition(part: BodyPart): Wire {
  return part.disposition ? [part.disposition.type.toUpperCase(), params(part.disposition.params)] : null;
}

/** body-fld-lang = nstring / "(" string *(SP string) ")" */
function language(part: BodyPart): Wire {
  return part.language && part.language.length > 0 ? part.language : null;
}

function octets(part: BodyPart): number {
  return Math.max(0, part.bodyEnd - part.bodyStart);
}

function render(part: BodyPart, extended: boolean, depth: number): Wire {
  if (part.parts && part.parts.length > 0 && depth < MAX_DEPTH) {
    // body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
    const out: Wire[] = [run(part.parts.map((p) => render(p, extended, depth + 1)))];
    out.push(part.subtype.toUpperCase());
    // body-ext-mpart = body-fld-param [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc …]]]
    if (extended) out.push(params(part.params), disposition(part), language(part), part.location);
    return out;
  }
  // body-type-1part: media type, then body-fields = param id desc enc octets.
  const out: Wire[] = [
    part.type.toUpperCase(),
    part.subtype.toUpperCase(),
    params(part.params),
    part.id,
    part.description,
    part.encoding.toUpperCase(),
    octets(part),
  ];
  if (part.message && depth < MAX_DEPTH) {
    // body-type-msg = media-message SP body-fields SP envelope SP body SP body-fld-lines
    out.push(envelopeWire(part.message.envelope), render(part.message.body, extended, depth + 1), part.lines);
  } else if (part.type === 'text') {
    // body-type-text = media-text SP body-fields SP body-fld-lines
    out.push(part.lines);
  }
  // body-ext-1part = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc …]]]
  if (extended) out.push(part.md5, disposition(part), language(part), part.location);
  return out;
}

/** BODY (extended false) or BODYSTRUCTURE (extended true) of a part (RFC 9051 §7.5.2). */
export function renderBodyStructure(part: BodyPart, extended: boolean): ImapValue {
  return finish(render(part, extended, 0));
}

/** The same as a Wire structure (tests compare its SP-separated form). */
export function bodyStructureWire(part: BodyPart, extended: boolean): Wire {
  return render(part, extended, 0);
}
