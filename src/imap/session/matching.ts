// The messages of the selected mailbox that match a search program (RFC 9051 §6.4.4), shared by
// SEARCH, SORT and THREAD. Records are read in batches with their index; raw bytes only for keys
// that need them, and only the prefix they read (searchRawRange). Messages expunged by another
// session but not yet announced are skipped (they can no longer match anything).
import type { MessageRecord } from '../../store/store.js';
import type { SearchProgram } from '../wire/types.js';
import { evaluateSearch, messageSearchContext, needsRaw, searchRawRange } from '../search/search.js';
import { RefusedWithArgs } from './errors.js';
import type { Session } from './session.js';

const BATCH = 500;

export interface Match {
  seq: number;
  uid: number;
  record: MessageRecord;
}

/** Charsets Pigeon searches in (RFC 9051 §6.4.4: US-ASCII and UTF-8 at least). */
export function checkCharset(program: SearchProgram): void {
  const charset = program.charset?.toUpperCase();
  if (!program.charsetKnown || (charset !== undefined && charset !== 'UTF-8' && charset !== 'US-ASCII')) {
    throw new RefusedWithArgs('Unsupported charset', 'BADCHARSET', [[{ atom: 'UTF-8' }, { atom: 'US-ASCII' }]]);
  }
}

export async function matchingMessages(session: Session, program: SearchProgram): Promise<Match[]> {
  checkCharset(program);
  const view = session.selected;
  const raw = needsRaw(program.key);
  const uids = view.allUids();
  const saved = new Set(session.savedSearch);
  const now = Date.now();
  const out: Match[] = [];
  for (let i = 0; i < uids.length; i += BATCH) {
    const batch = uids.slice(i, i + BATCH);
    const records = await session.store.getMessages(view.mailboxId, batch, { index: true });
    const byUid = new Map<number, MessageRecord>(records.map((r) => [r.uid, r]));
    for (let j = 0; j < batch.length; j++) {
      const uid = batch[j]!;
      const record = byUid.get(uid);
      if (!record) continue;
      const seq = i + j + 1;
      let bytes: Buffer | undefined;
      if (raw) {
        const range = searchRawRange(program.key, record.index);
        bytes = await session.store.readBlob(record.blobHash, range.end < record.size ? range : undefined);
      }
      const ctx = messageSearchContext(record, {
        seq,
        recent: !session.rev2 && view.isRecent(uid),
        maxSeq: view.exists,
        maxUid: view.maxUid,
        saved,
        now,
        ...(bytes ? { raw: bytes } : {}),
      });
      if (evaluateSearch(program.key, ctx)) out.push({ seq, uid, record });
    }
  }
  return out;
}
