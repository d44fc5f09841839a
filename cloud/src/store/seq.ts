import { VillageError } from '@smart-village/shared';
import type { EdgeRef } from './types.js';

/**
 * The seq bookkeeping both stores share, as plain functions so the SQL around them stays thin.
 *
 * Each edge has a cursor (`contiguous_seq`) and a small table of seq ranges received above it
 * (`seq_pending`). A write turns the seqs it newly stored into ranges, advances the cursor through
 * the ranges that touch it, parks the rest, and, when the cursor moved, folds parked ranges that
 * now touch it and deletes them. Nothing ever scans the readings or events tables.
 */

/** An inclusive range of seqs. */
export interface SeqRange {
  from: number;
  to: number;
}

/** Sorted, merged inclusive ranges covering exactly the given seqs (duplicates allowed). */
export function toRanges(seqs: readonly number[]): SeqRange[] {
  const sorted = [...seqs].sort((a, b) => a - b);
  const ranges: SeqRange[] = [];
  for (const s of sorted) {
    const last = ranges[ranges.length - 1];
    if (last && s <= last.to + 1) last.to = Math.max(last.to, s);
    else ranges.push({ from: s, to: s });
  }
  return ranges;
}

/**
 * Advances `cursor` through ranges (sorted and merged, as from toRanges) that start at or below
 * cursor + 1; returns the new cursor and the ranges still above it (those go to `seq_pending`).
 */
export function advance(cursor: number, ranges: readonly SeqRange[]): { cursor: number; parked: SeqRange[] } {
  let c = cursor;
  const parked: SeqRange[] = [];
  for (const r of ranges) {
    if (r.from <= c + 1) c = Math.max(c, r.to);
    else parked.push(r);
  }
  return { cursor: c, parked };
}

/** Rejects what would corrupt the seq space rather than store it (an edge bug, not a replay). */
export function checkBatch(ref: EdgeRef, seqs: readonly number[], rows: number): void {
  if (seqs.length !== rows) {
    throw new VillageError('STORE_FAILED', `${ref.site}/${ref.edge}: ${seqs.length} seqs for ${rows} rows`, { ...ref });
  }
  for (const s of seqs) checkSeq(ref, s);
}

export function checkSeq(ref: EdgeRef, seq: number): void {
  if (!Number.isSafeInteger(seq) || seq < 1) {
    throw new VillageError('STORE_FAILED', `${ref.site}/${ref.edge}: seq ${seq} is not a positive integer`, { ...ref, seq });
  }
}

export function unknownEdge(ref: EdgeRef): VillageError {
  return new VillageError('STORE_FAILED', `edge ${ref.site}/${ref.edge} is not registered: add it first (village-cloud edge add)`, { ...ref, reason: 'unknown-edge' });
}

export function edgeExists(ref: EdgeRef): VillageError {
  return new VillageError('STORE_FAILED', `edge ${ref.site}/${ref.edge} already exists: rotate its secret instead of adding it again`, { ...ref, reason: 'edge-exists' });
}

/**
 * Whether a retained status replaces the stored one. An older birth is a late message from an
 * earlier session (e.g. its last will delivered after the new birth) and is ignored. For the
 * same birth, offline wins: it is that session's own will; a redelivered online must not undo it.
 */
export function statusApplies(stored: { state: string; birth: number }, incoming: { state: 'online' | 'offline'; birth: number }): boolean {
  if (incoming.birth > stored.birth) return true;
  if (incoming.birth < stored.birth) return false;
  return incoming.state === 'offline' || stored.state === 'unknown';
}
