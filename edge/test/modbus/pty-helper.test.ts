import { existsSync, realpathSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { SerialPort } from 'serialport';
import { openPtyPair, type PtyPair } from '../helpers/pty.js';

const open = (path: string): Promise<SerialPort> =>
  new Promise((resolve, reject) => {
    const port = new SerialPort({ path, baudRate: 9600, autoOpen: false });
    port.open((err) => (err ? reject(err) : resolve(port)));
  });
const close = (port: SerialPort): Promise<void> => new Promise((r) => (port.isOpen ? port.close(() => r()) : r()));

describe('openPtyPair (test helper)', () => {
  let pair: PtyPair | undefined;
  afterEach(async () => {
    await pair?.close();
    pair = undefined;
  });

  it('says how to install socat when it is missing', async () => {
    await expect(openPtyPair({ command: '/nonexistent/socat' })).rejects.toThrow(/apt-get install socat/);
  });

  it('joins the two ends and carries bytes both ways', async () => {
    pair = await openPtyPair();
    const [a, b] = await Promise.all([open(pair.a), open(pair.b)]);
    const atB = new Promise<Buffer>((r) => b.once('data', r));
    a.write(Buffer.from([1, 2, 3]));
    expect([...(await atB)]).toEqual([1, 2, 3]);
    const atA = new Promise<Buffer>((r) => a.once('data', r));
    b.write(Buffer.from([4]));
    expect([...(await atA)]).toEqual([4]);
    await Promise.all([close(a), close(b)]);
  });

  it('unplug removes the links, replug brings new ptys back on the same paths', async () => {
    pair = await openPtyPair();
    await pair.unplug();
    expect(existsSync(pair.a) || existsSync(pair.b)).toBe(false);
    await pair.replug();
    expect(existsSync(pair.a) && existsSync(pair.b)).toBe(true);
    expect(realpathSync(pair.a)).toMatch(/^\/dev\/pts\/\d+$/);
    const [a, b] = await Promise.all([open(pair.a), open(pair.b)]);
    const atB = new Promise<Buffer>((r) => b.once('data', r));
    a.write(Buffer.from('ok'));
    expect((await atB).toString()).toBe('ok');
    await Promise.all([close(a), close(b)]);
  });

  it('close() is idempotent and removes the links', async () => {
    pair = await openPtyPair();
    const { a } = pair;
    await pair.close();
    await pair.close();
    expect(existsSync(a)).toBe(false);
  });
});
