/**
 * A Modbus slave on TCP, in two framings:
 * - 'tcp': Modbus TCP, an MBAP header before each PDU (Modbus Messaging on TCP/IP
 *   Implementation Guide v1.0b §3.1.3), as a TCP device or a proper gateway speaks it;
 * - 'rtu-over-tcp': raw RTU frames (unit + PDU + CRC) over the stream, as cheap RS-485-to-
 *   Ethernet converters in "transparent" mode pass them through.
 */
import net from 'node:net';
import { VillageError } from '@smart-village/shared';
import { corruptCrc, encodeRtu, RtuRequestSplitter } from './rtu-frame.js';
import { EXCEPTION, exceptionPdu, SlaveUnits, type RegisterBank, type SlaveFault, type SlaveReply } from './slave.js';

export type TcpSlaveMode = 'tcp' | 'rtu-over-tcp';

export interface TcpSlaveServerOptions {
  units: ReadonlyMap<number, RegisterBank>;
  /** Default 'tcp' (MBAP). */
  mode?: TcpSlaveMode;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port); read the bound one from `port`. */
  port?: number;
}

/** Implementation Guide v1.0b §3.1.3: transaction id(2), protocol id(2) = 0, length(2), unit id(1). */
const MBAP_HEADER = 7;
/** The MBAP length field counts unit id + PDU; a PDU is at most 253 bytes (MBAP v1.1b3 §4.1). */
const MBAP_MAX_LENGTH = 254;

export class TcpSlaveServer {
  private server: net.Server | undefined;
  private boundPort: number | undefined;
  private readonly sockets = new Set<net.Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly slaves: SlaveUnits;
  private starting: Promise<void> | undefined;
  private framing = 0;

  constructor(private readonly options: TcpSlaveServerOptions) {
    this.slaves = new SlaveUnits(options.units);
  }

  get mode(): TcpSlaveMode {
    return this.options.mode ?? 'tcp';
  }

  get host(): string {
    return this.options.host ?? '127.0.0.1';
  }

  /** The bound port. After stop() a new start() binds the same port again (a gateway reboot). */
  get port(): number {
    if (this.boundPort === undefined) throw new VillageError('PORT_UNAVAILABLE', 'TCP slave has not been started');
    return this.boundPort;
  }

  /** Open client connections. */
  get connections(): number {
    return this.sockets.size;
  }

  /** Connections closed because their bytes were not Modbus TCP (bad protocol id or length). */
  get framingErrors(): number {
    return this.framing;
  }

  setFault(unit: number, fault: SlaveFault): void {
    this.slaves.setFault(unit, fault);
  }

  requestsServed(unit: number): number {
    return this.slaves.requestsServed(unit);
  }

  /** Listens. Idempotent; rejects with PORT_UNAVAILABLE (e.g. the port is taken). */
  start(): Promise<void> {
    if (this.server) return Promise.resolve();
    this.starting ??= this.listen().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  /** Closes every connection and the listener. Idempotent. */
  async stop(): Promise<void> {
    await this.starting?.catch(() => undefined);
    const server = this.server;
    this.server = undefined;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.dropConnections();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Drops every open connection but keeps listening, as a gateway that resets its sockets. */
  dropConnections(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  private async listen(): Promise<void> {
    const server = net.createServer((socket) => this.accept(socket));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.boundPort ?? this.options.port ?? 0, this.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      throw new VillageError('PORT_UNAVAILABLE', `cannot listen on ${this.host}: ${err instanceof Error ? err.message : String(err)}`, { host: this.host }, { cause: err });
    }
    server.on('error', () => undefined);
    const address = server.address();
    this.boundPort = typeof address === 'object' && address ? address.port : undefined;
    this.server = server;
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.on('close', () => this.sockets.delete(socket));
    if (this.mode === 'rtu-over-tcp') {
      const splitter = new RtuRequestSplitter();
      socket.on('data', (chunk: Buffer) => {
        for (const adu of splitter.push(chunk)) {
          const reply = this.slaves.serve(adu.unit, adu.pdu);
          if (!reply) continue;
          const frame = encodeRtu(reply.unit, reply.pdu);
          this.send(socket, reply, reply.corrupt ? corruptCrc(frame) : frame);
        }
      });
      return;
    }
    let buffer: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
      while (buffer.length >= MBAP_HEADER) {
        const transaction = buffer.readUInt16BE(0);
        const protocol = buffer.readUInt16BE(2);
        const length = buffer.readUInt16BE(4);
        // §3.1.3: protocol id 0 is Modbus; a TCP stream cannot be resynchronised, so hang up.
        if (protocol !== 0 || length < 2 || length > MBAP_MAX_LENGTH) {
          this.framing++;
          socket.destroy();
          return;
        }
        if (buffer.length < 6 + length) break;
        const unit = buffer[6] ?? 0;
        const pdu = buffer.subarray(MBAP_HEADER, 6 + length);
        buffer = buffer.subarray(6 + length);
        this.answerMbap(socket, transaction, unit, pdu);
      }
    });
  }

  private answerMbap(socket: net.Socket, transaction: number, unit: number, pdu: Buffer): void {
    let reply: SlaveReply | undefined;
    if (unit !== 0 && !this.slaves.has(unit)) {
      // MBAP v1.1b3 §7, code 0x0B: a gateway whose target device does not answer says so,
      // rather than leaving the client to time out.
      reply = { unit, pdu: exceptionPdu(pdu[0] ?? 0, EXCEPTION.GATEWAY_TARGET_FAILED), corrupt: false, delayMs: 0 };
    } else {
      reply = this.slaves.serve(unit, pdu);
    }
    if (!reply) return;
    // No CRC on TCP: a gateway that got a corrupted frame from its serial side answers 0x0B.
    const body = reply.corrupt ? exceptionPdu(pdu[0] ?? 0, EXCEPTION.GATEWAY_TARGET_FAILED) : reply.pdu;
    const adu = Buffer.alloc(MBAP_HEADER + body.length);
    adu.writeUInt16BE(transaction, 0);
    adu.writeUInt16BE(0, 2);
    adu.writeUInt16BE(1 + body.length, 4);
    adu[6] = reply.unit;
    body.copy(adu, MBAP_HEADER);
    this.send(socket, reply, adu);
  }

  private send(socket: net.Socket, reply: SlaveReply, bytes: Buffer): void {
    const write = (): void => {
      if (!socket.destroyed && socket.writable) socket.write(bytes);
    };
    if (reply.delayMs <= 0) return write();
    const t = setTimeout(() => {
      this.timers.delete(t);
      write();
    }, reply.delayMs);
    this.timers.add(t);
  }
}
