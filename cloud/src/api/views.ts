import type { EdgeRecord } from '../store/types.js';

/** An edge as the API shows it: progress of its outbox and how long it has been quiet. */
export interface EdgeView {
  edge: string;
  /** From its retained status; `unknown` until it sent one. */
  state: EdgeRecord['state'];
  /** Epoch ms of the last message from it, null if never. */
  lastSeen: number | null;
  contiguousSeq: number;
  maxSeq: number;
  lag: {
    /** Seqs seen but not yet contiguous (a gap the edge is still filling). */
    seqs: number;
    /** Seconds since lastSeen, null if never seen. */
    seconds: number | null;
  };
}

export function edgeView(e: EdgeRecord, now: number): EdgeView {
  return {
    edge: e.edge,
    state: e.state,
    lastSeen: e.lastSeen > 0 ? e.lastSeen : null,
    contiguousSeq: e.contiguousSeq,
    maxSeq: e.maxSeq,
    lag: {
      seqs: Math.max(0, e.maxSeq - e.contiguousSeq),
      seconds: e.lastSeen > 0 ? Math.max(0, Math.floor((now - e.lastSeen) / 1000)) : null,
    },
  };
}
