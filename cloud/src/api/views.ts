import type { CommandAction } from '@smart-village/shared';
import type { CommandRecord, CommandStatus, EdgeRecord } from '../store/types.js';

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

/** A command of the audit trail as the API shows it (docs/web-api.md). */
export interface CommandView {
  id: string;
  by: string;
  action: CommandAction;
  edge: string;
  issuedAt: number;
  status: CommandStatus;
  reason?: string;
  updatedAt: number;
}

export function commandView(c: CommandRecord): CommandView {
  return { id: c.id, by: c.by, action: c.action, edge: c.edge, issuedAt: c.issuedAt, status: c.status, ...(c.reason !== undefined && { reason: c.reason }), updatedAt: c.updatedAt };
}
