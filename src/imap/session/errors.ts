// A refusal whose response code carries arguments, e.g. NO [BADCHARSET (UTF-8 US-ASCII)]
// (RFC 9051 §7.1). The shared Refused has a bare code; dispatch.ts writes these args too.
import { Refused, type RefusalCode } from '../../shared/errors.js';
import type { ImapValue } from '../wire/types.js';

export class RefusedWithArgs extends Refused {
  readonly args: ImapValue[];
  constructor(message: string, code: RefusalCode, args: ImapValue[]) {
    super(message, code);
    this.args = args;
  }
}
