// ESEARCH / ESORT result data (RFC 4731 §3.1, RFC 9051 §7.3.4, RFC 5267 §3.2 ESORT, RFC 9394 §3.1
// PARTIAL) and the saved result of RFC 5182 SEARCHRES. Numbers are sequence numbers or UIDs as
// the command asked; the caller writes `* ESEARCH (TAG "…") [UID] <items>`.
import type { ImapValue, PartialWindow, SearchReturnOption } from '../wire/types.js';

export interface CompactOptions {
  /** Keep the given order (ESORT ALL is in sort order): only ascending runs are merged. */
  keepOrder?: boolean;
}

/** A sequence-set string: "1:3,5,9:10" (RFC 9051 §9 sequence-set); "" for no numbers. */
export function compactSet(numbers: readonly number[], options: CompactOptions = {}): string {
  const list = options.keepOrder ? numbers : [...new Set(numbers)].sort((a, b) => a - b);
  const out: string[] = [];
  let i = 0;
  while (i < list.length) {
    const start = list[i]!;
    let end = start;
    while (i + 1 < list.length && list[i + 1] === end + 1) end = list[++i]!;
    out.push(start === end ? String(start) : `${start}:${end}`);
    i++;
  }
  return out.join(',');
}

/** The items RFC 9394 PARTIAL start:end selects from a list (1-based; negative counts from the end). */
export function partialSlice<T>(items: readonly T[], range: PartialWindow): T[] {
  const lo = Math.min(Math.abs(range.start), Math.abs(range.end));
  const hi = Math.max(Math.abs(range.start), Math.abs(range.end));
  if (lo < 1) return [];
  if (range.start > 0) return items.slice(lo - 1, hi);
  const n = items.length;
  return items.slice(Math.max(0, n - hi), Math.max(0, n - lo + 1));
}

export interface EsearchOptions {
  /** Results are in sort order (ESORT): MIN/MAX are the first/last, ALL keeps the order. */
  sorted?: boolean;
}

/**
 * The ESEARCH result items for these matches: MIN/MAX/ALL are left out when nothing matched, COUNT
 * is always given (RFC 4731 §3.1). `RETURN ()` (empty options) means ALL. SAVE yields nothing
 * here (see savedResult).
 */
export function esearchResult(numbers: readonly number[], returnOptions: readonly SearchReturnOption[], options: EsearchOptions = {}): ImapValue[] {
  const opts = returnOptions.length === 0 ? (['ALL'] as const) : returnOptions;
  const list = options.sorted ? [...numbers] : [...new Set(numbers)].sort((a, b) => a - b);
  const out: ImapValue[] = [];
  for (const o of opts) {
    if (typeof o === 'object') {
      // RFC 9394 §3.1: PARTIAL (range set) with NIL when the range selects nothing.
      const slice = partialSlice(list, o.partial);
      out.push({ atom: 'PARTIAL' }, [{ atom: `${o.partial.start}:${o.partial.end}` }, slice.length > 0 ? { atom: compactSet(slice, { keepOrder: options.sorted ?? false }) } : null]);
      continue;
    }
    switch (o) {
      case 'MIN':
        if (list.length > 0) out.push({ atom: 'MIN' }, list[0]!);
        break;
      case 'MAX':
        if (list.length > 0) out.push({ atom: 'MAX' }, list.at(-1)!);
        break;
      case 'ALL':
        if (list.length > 0) out.push({ atom: 'ALL' }, { atom: compactSet(list, { keepOrder: options.sorted ?? false }) });
        break;
      case 'COUNT':
        out.push({ atom: 'COUNT' }, list.length);
        break;
      case 'SAVE':
        break;
    }
  }
  return out;
}

/**
 * The results the return options single out (RFC 9394 §3.2, RFC 5182 §2.4): with ALL or COUNT, or
 * with none of MIN, MAX and PARTIAL, every result; otherwise the MIN and/or MAX result and the
 * PARTIAL window together. This is what SAVE keeps for `$` and whose highest mod-sequence a
 * MODSEQ search reports (RFC 7162 §3.1.5, RFC 4731 §3.2). Ascending, without duplicates.
 */
export function selectedResults(numbers: readonly number[], returnOptions: readonly SearchReturnOption[], options: EsearchOptions = {}): number[] {
  const list = options.sorted ? [...numbers] : [...new Set(numbers)].sort((a, b) => a - b);
  const partial = returnOptions.find((o): o is { partial: PartialWindow } => typeof o === 'object');
  const hasMin = returnOptions.includes('MIN');
  const hasMax = returnOptions.includes('MAX');
  const everything = returnOptions.includes('ALL') || returnOptions.includes('COUNT') || (!hasMin && !hasMax && !partial);
  const picked = new Set<number>(everything ? list : []);
  if (!everything && list.length > 0) {
    if (hasMin) picked.add(list[0]!);
    if (hasMax) picked.add(list.at(-1)!);
    if (partial) for (const n of partialSlice(list, partial.partial)) picked.add(n);
  }
  return [...picked].sort((a, b) => a - b);
}

/**
 * What SAVE keeps (RFC 5182 §2.1, §2.4; RFC 9394 §3.2 table 1): see selectedResults. Null when
 * SAVE was not asked for.
 */
export function savedResult(numbers: readonly number[], returnOptions: readonly SearchReturnOption[], options: EsearchOptions = {}): number[] | null {
  if (!returnOptions.includes('SAVE')) return null;
  return selectedResults(numbers, returnOptions, options);
}
