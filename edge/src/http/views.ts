import type { CommandAction } from '@smart-village/shared';
import type { CommandRecord, CommandStatus } from './web-store.js';

/** The edge as `/edges` and the `edge` stream event show it: the cloud's EdgeView (cloud/src/api/views.ts). */
export interface EdgeView {
  edge: string;
  state: 'online' | 'offline' | 'unknown';
  lastSeen: number | null;
  contiguousSeq: number;
  maxSeq: number;
  lag: { seqs: number; seconds: number | null };
}

/**
 * This edge, seen from itself: online while it answers, with everything it committed held (its
 * own store has no gaps to fill).
 */
export function selfView(edge: string, lastSeq: number, now: number, state: EdgeView['state'] = 'online'): EdgeView {
  return { edge, state, lastSeen: now, contiguousSeq: lastSeq, maxSeq: lastSeq, lag: { seqs: 0, seconds: 0 } };
}

/** A row of the audit trail as the API shows it (docs/web-api.md). */
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
