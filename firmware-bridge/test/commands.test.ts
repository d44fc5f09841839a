import { beforeEach, describe, expect, it } from 'vitest';
import { VillageError } from '@smart-village/shared';
import { CommandSender } from '../src/commands.js';
import { decodeFrame, type AckMessage, type Frame } from '../src/frame.js';
import { ManualClock } from './helpers/manual-clock.js';

let clock: ManualClock;
let wire: Uint8Array[];
let open: boolean;
let sender: CommandSender;

beforeEach(() => {
  clock = new ManualClock();
  wire = [];
  open = true;
  sender = new CommandSender({ device: 'line', path: '/dev/x', clock, write: (b) => (open ? (wire.push(b), true) : false), hostBoot: 0x5c, firstSeq: 0xfffe, ackTimeout: 500, retries: 2 });
});

const sent = (i: number): Frame => {
  const d = decodeFrame(wire[i]!);
  if (!d.ok) throw new Error(d.detail);
  return d.frame;
};
const ack = (seq: number, status: AckMessage['status'] = 'done', relays = 1, node = 7): Frame<AckMessage> => ({ node, boot: 1, seq: 40, message: { type: 'ack', ackSeq: seq, status, relays } });

describe('CommandSender', () => {
  it('numbers host frames from the random start, across the wrap', async () => {
    sender.describe(7);
    const p = sender.command(7, { type: 'command', channel: 0, on: true, durationMs: 1000 });
    expect(sent(0)).toMatchObject({ node: 7, boot: 0x5c, seq: 0xffff, message: { type: 'describe' } });
    expect(sent(1)).toMatchObject({ node: 7, boot: 0x5c, seq: 0, message: { type: 'command', channel: 0, on: true, durationMs: 1000 } });
    sender.cancelAll();
    await expect(p).rejects.toMatchObject({ details: { reason: 'port-closed' } });
  });

  it('resolves on the matching ack', async () => {
    const p = sender.command(7, { type: 'command', channel: 0, on: true, durationMs: 1000 });
    expect(sender.ack(ack(0, 'done', 1, 8))).toBe(false); // another node's ack for that seq
    expect(sender.ack(ack(sent(0).seq))).toBe(true);
    await expect(p).resolves.toEqual({ node: 7, seq: sent(0).seq, relays: 1, attempts: 1 });
    expect(sender.counters()).toMatchObject({ sent: 1, acked: 1, retries: 0, strayAcks: 1 });
  });

  it('resends the identical bytes after each timeout, then gives up', async () => {
    const p = sender.command(7, { type: 'command', channel: 0, on: true, durationMs: 1000 });
    const failed = expect(p).rejects.toMatchObject({ code: 'PORT_UNAVAILABLE', details: { reason: 'node-timeout', attempts: 3 } });
    clock.advance(499);
    expect(wire).toHaveLength(1);
    clock.advance(1);
    expect(wire).toHaveLength(2);
    clock.advance(500);
    expect(wire).toHaveLength(3);
    expect(wire[1]).toEqual(wire[0]);
    expect(wire[2]).toEqual(wire[0]);
    clock.advance(500);
    await failed;
    expect(wire).toHaveLength(3);
    expect(clock.pending()).toBe(0);
    expect(sender.counters()).toMatchObject({ sent: 1, retries: 2, timeouts: 1 });
    // The late ack of a command given up is counted, not taken for another.
    expect(sender.ack(ack(sent(0).seq))).toBe(false);
  });

  it('accepts the ack of a retry', async () => {
    const p = sender.command(7, { type: 'command', channel: 1, on: false, durationMs: 0 });
    clock.advance(500);
    sender.ack(ack(sent(1).seq, 'done', 0));
    await expect(p).resolves.toMatchObject({ attempts: 2, relays: 0 });
  });

  it('rejects when the node refuses', async () => {
    const p = sender.command(7, { type: 'command', channel: 5, on: true, durationMs: 1000 });
    sender.ack(ack(sent(0).seq, 'unknown-channel'));
    await expect(p).rejects.toThrow(/node 7 refused channel 5 ON for 1000 ms: unknown-channel/);
    expect(sender.counters().refused).toBe(1);
  });

  it('a newer command for the same channel supersedes an older one: the old ON is never retried', async () => {
    const on = sender.command(7, { type: 'command', channel: 0, on: true, durationMs: 60_000 });
    const off = sender.command(7, { type: 'command', channel: 0, on: false, durationMs: 0 });
    await expect(on).rejects.toMatchObject({ details: { reason: 'superseded' } });
    clock.advance(500);
    expect(wire.slice(2).map((b) => (decodeFrame(b) as { frame: Frame }).frame.message)).toEqual([{ type: 'command', channel: 0, on: false, durationMs: 0 }]);
    sender.ack(ack(sent(1).seq, 'done', 0));
    await expect(off).resolves.toMatchObject({ relays: 0 });
  });

  it('rejects at once when the port is closed', async () => {
    open = false;
    await expect(sender.command(7, { type: 'command', channel: 0, on: false, durationMs: 0 })).rejects.toSatisfy((e: unknown) => e instanceof VillageError && e.details.reason === 'port-closed');
    expect(clock.pending()).toBe(0);
  });
});
