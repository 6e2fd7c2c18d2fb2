// UIDs as runs of consecutive UIDs ([first, last] pairs, ascending): how the engines hand a
// mailbox's UIDs to a session's view (MailboxSnapshot.uidRuns) without a row per message.

/** Ascending UIDs as runs. */
export function runsOf(uids: readonly number[]): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  for (const uid of uids) {
    const last = runs[runs.length - 1];
    if (last && last[1] === uid - 1) last[1] = uid;
    else runs.push([uid, uid]);
  }
  return runs;
}

/** The runs of 1…max without the ascending UIDs in `gaps` (each ≤ max). */
export function runsBetween(gaps: readonly number[], max: number): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  let from = 1;
  for (const gap of gaps) {
    if (gap > from) runs.push([from, gap - 1]);
    from = gap + 1;
  }
  if (from <= max) runs.push([from, max]);
  return runs;
}
