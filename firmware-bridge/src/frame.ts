/**
 * The frames of protocol v1 (PROTOCOL.md): message types, and the pure encoder and decoder of
 * one frame. No I/O, no clock: the deframer (a byte stream) and the sessions (seq, restarts)
 * sit on top.
 */
import { VillageError, type Quantity, type Unit } from '@smart-village/shared';
import { cobsDecodeInto, cobsEncodeInto, cobsMaxLength } from './cobs.js';
import { crc16 } from './crc.js';
import { kindCode, kindOfCode, quantityCode, quantityOfCode, unitCode, unitOfCode, type ActuatorKind } from './codes.js';

export const PROTOCOL_VERSION = 1;
export const HEADER_BYTES = 6;
export const CRC_BYTES = 2;
/** Largest body (header + payload + CRC): small enough for one COBS block and an AVR buffer. */
export const MAX_BODY = 250;
export const MIN_BODY = HEADER_BYTES + CRC_BYTES;
export const MAX_PAYLOAD = MAX_BODY - HEADER_BYTES - CRC_BYTES;
/** Largest COBS block between two delimiters: a body below 254 bytes costs one code byte. */
export const MAX_ENCODED = MAX_BODY + 1;
/** The host's own id (never a node's). */
export const HOST_NODE = 0;
/** Host to node only: every node (DESCRIBE). */
export const BROADCAST = 255;
/** A reading's exponent saying "the sensor could not be read" (value null, quality error). */
export const FAILED_EXP = -128;
export const MAX_EXP = 9;
export const MAX_SENSORS = 16;
export const MAX_ACTUATORS = 8;
export const MAX_READINGS = Math.floor((MAX_PAYLOAD - 3) / 7);
export const MAX_NAME = 16;
export const MAX_FIRMWARE = 24;
export const MAX_TEXT = 48;

export const TYPE_CODES = { hello: 0x01, readings: 0x02, heartbeat: 0x03, ack: 0x04, error: 0x05, describe: 0x81, command: 0x82 } as const;
export type MessageType = keyof typeof TYPE_CODES;
const TYPE_OF = new Map(Object.entries(TYPE_CODES).map(([name, code]) => [code as number, name as MessageType]));

/** One sensor a node declares in its hello; null: a code this edge does not know. */
export interface SensorDecl {
  index: number;
  quantity: Quantity | null;
  unit: Unit | null;
  name: string;
}
export interface ActuatorDecl {
  channel: number;
  kind: ActuatorKind | null;
  /** The node's own cap on one ON, seconds. */
  maxOnS: number;
  name: string;
}
export interface HelloMessage {
  type: 'hello';
  heartbeatS: number;
  firmware: string;
  sensors: SensorDecl[];
  actuators: ActuatorDecl[];
}
/** value = mantissa × 10^exp; exp FAILED_EXP: the sensor failed (mantissa 0). */
export interface WireReading {
  sensor: number;
  unit: Unit | null;
  mantissa: number;
  exp: number;
}
export interface ReadingsMessage {
  type: 'readings';
  /** How long ago the values were measured, tenths of a second (a gateway that buffered them). */
  ageDs: number;
  readings: WireReading[];
}
export interface HeartbeatMessage {
  type: 'heartbeat';
  uptimeS: number;
  /** Bit c: actuator channel c is on. */
  relays: number;
  /** Frames the node received with a bad CRC or framing since it started (saturates at 65535). */
  rxErrors: number;
}
export const ACK_STATUSES = ['done', 'unknown-channel', 'bad-duration', 'unsupported', 'fault'] as const;
export type AckStatus = (typeof ACK_STATUSES)[number];
export interface AckMessage {
  type: 'ack';
  /** The seq of the host frame acknowledged. */
  ackSeq: number;
  status: AckStatus;
  relays: number;
}
export interface ErrorMessage {
  type: 'error';
  code: number;
  detail: number;
  text: string;
}
export interface DescribeMessage {
  type: 'describe';
}
export interface CommandMessage {
  type: 'command';
  channel: number;
  on: boolean;
  /** ON: the node turns the channel off by itself after this; OFF: 0. */
  durationMs: number;
}
export type NodeMessage = HelloMessage | ReadingsMessage | HeartbeatMessage | AckMessage | ErrorMessage;
export type HostMessage = DescribeMessage | CommandMessage;
export type Message = NodeMessage | HostMessage;

/** One frame: `node` is the sender for node messages and the destination for host messages. */
export interface Frame<M extends Message = Message> {
  node: number;
  /** The sender's boot id: changes at every start of the sender. */
  boot: number;
  /** The sender's frame counter (16 bits, wraps). */
  seq: number;
  message: M;
}

/** Node error codes (ERROR message), for logs. */
export const NODE_ERROR_NAMES: Readonly<Record<number, string>> = {
  1: 'bad-frame',
  2: 'version',
  3: 'sensor',
  4: 'actuator',
  5: 'watchdog',
  6: 'overflow',
  255: 'other',
};

export const FRAME_ERRORS = ['oversize', 'cobs', 'short', 'crc', 'version', 'type', 'payload'] as const;
export type FrameError = (typeof FRAME_ERRORS)[number];
export type DecodeResult = { ok: true; frame: Frame } | { ok: false; error: FrameError; detail: string };

export const isNodeMessage = (m: Message): m is NodeMessage => (TYPE_CODES[m.type] & 0x80) === 0;

/** value of a wire reading, exactly as the decimal it encodes (division by 10^k rounds once). */
export function readingValue(r: WireReading): number | null {
  if (r.exp === FAILED_EXP) return null;
  return r.exp < 0 ? r.mantissa / 10 ** -r.exp : r.mantissa * 10 ** r.exp;
}

/** A value as mantissa × 10^-decimals, for encoders (the simulated node, tests). */
export function decimal(value: number, decimals: number): { mantissa: number; exp: number } {
  return { mantissa: Math.round(value * 10 ** decimals), exp: -decimals };
}

// ---- encoder ---------------------------------------------------------------------------------

function invalid(message: string): VillageError {
  return new VillageError('PAYLOAD_INVALID', `cannot encode frame: ${message}`);
}

class Writer {
  readonly buf = new Uint8Array(MAX_BODY);
  private readonly view = new DataView(this.buf.buffer);
  len = 0;

  private room(n: number): number {
    if (this.len + n > MAX_BODY - CRC_BYTES) throw invalid(`payload longer than ${MAX_PAYLOAD} bytes`);
    const at = this.len;
    this.len += n;
    return at;
  }
  u8(v: number, what: string): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw invalid(`${what} ${v} is not 0-255`);
    this.buf[this.room(1)] = v;
  }
  i8(v: number, what: string): void {
    if (!Number.isInteger(v) || v < -128 || v > 127) throw invalid(`${what} ${v} is not -128..127`);
    this.view.setInt8(this.room(1), v);
  }
  u16(v: number, what: string): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw invalid(`${what} ${v} is not 0-65535`);
    this.view.setUint16(this.room(2), v, true);
  }
  u32(v: number, what: string): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw invalid(`${what} ${v} is not 0-4294967295`);
    this.view.setUint32(this.room(4), v, true);
  }
  i32(v: number, what: string): void {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw invalid(`${what} ${v} does not fit 32 bits`);
    this.view.setInt32(this.room(4), v, true);
  }
  str(s: string, max: number, what: string): void {
    if (s.length > max || !/^[\x20-\x7e]*$/.test(s)) throw invalid(`${what} "${s}" is not printable ASCII of at most ${max} characters`);
    this.u8(s.length, what);
    const at = this.room(s.length);
    for (let i = 0; i < s.length; i++) this.buf[at + i] = s.charCodeAt(i);
  }
}

function writePayload(w: Writer, m: Message): void {
  switch (m.type) {
    case 'hello': {
      if (m.sensors.length > MAX_SENSORS) throw invalid(`more than ${MAX_SENSORS} sensors`);
      if (m.actuators.length > MAX_ACTUATORS) throw invalid(`more than ${MAX_ACTUATORS} actuators`);
      w.u16(m.heartbeatS, 'heartbeat');
      w.u8(m.sensors.length, 'sensor count');
      w.u8(m.actuators.length, 'actuator count');
      w.str(m.firmware, MAX_FIRMWARE, 'firmware');
      for (const s of m.sensors) {
        if (s.quantity === null || s.unit === null) throw invalid(`sensor ${s.index} has no quantity or unit`);
        w.u8(s.index, 'sensor index');
        w.u8(quantityCode(s.quantity), 'quantity');
        w.u8(unitCode(s.unit), 'unit');
        w.str(s.name, MAX_NAME, 'sensor name');
      }
      for (const a of m.actuators) {
        if (a.kind === null) throw invalid(`actuator ${a.channel} has no kind`);
        w.u8(a.channel, 'channel');
        w.u8(kindCode(a.kind), 'kind');
        w.u16(a.maxOnS, 'maxOnS');
        w.str(a.name, MAX_NAME, 'actuator name');
      }
      return;
    }
    case 'readings':
      if (m.readings.length < 1 || m.readings.length > MAX_READINGS) throw invalid(`readings count ${m.readings.length} is not 1-${MAX_READINGS}`);
      w.u16(m.ageDs, 'age');
      w.u8(m.readings.length, 'readings count');
      for (const r of m.readings) {
        if (r.unit === null) throw invalid(`reading of sensor ${r.sensor} has no unit`);
        if (r.exp !== FAILED_EXP && Math.abs(r.exp) > MAX_EXP) throw invalid(`exponent ${r.exp} is not -9..9`);
        w.u8(r.sensor, 'sensor index');
        w.u8(unitCode(r.unit), 'unit');
        w.i8(r.exp, 'exponent');
        w.i32(r.exp === FAILED_EXP ? 0 : r.mantissa, 'value');
      }
      return;
    case 'heartbeat':
      w.u32(m.uptimeS, 'uptime');
      w.u8(m.relays, 'relays');
      w.u16(m.rxErrors, 'rxErrors');
      return;
    case 'ack':
      w.u16(m.ackSeq, 'ackSeq');
      w.u8(ACK_STATUSES.indexOf(m.status), 'status');
      w.u8(m.relays, 'relays');
      return;
    case 'error':
      w.u8(m.code, 'code');
      w.u8(m.detail, 'detail');
      w.str(m.text, MAX_TEXT, 'text');
      return;
    case 'describe':
      return;
    case 'command':
      w.u8(m.channel, 'channel');
      w.u8(m.on ? 1 : 0, 'action');
      w.u32(m.durationMs, 'duration');
      return;
  }
}

/** The body of a frame: header, payload, CRC (little-endian), before COBS. */
export function encodeBody(frame: Frame): Uint8Array {
  const w = new Writer();
  w.u8(PROTOCOL_VERSION, 'version');
  w.u8(TYPE_CODES[frame.message.type], 'type');
  w.u8(frame.node, 'node');
  w.u8(frame.boot, 'boot');
  w.u16(frame.seq, 'seq');
  writePayload(w, frame.message);
  const crc = crc16(w.buf, 0, w.len);
  w.buf[w.len] = crc & 0xff;
  w.buf[w.len + 1] = crc >> 8;
  return w.buf.slice(0, w.len + CRC_BYTES);
}

/** The bytes on the wire: 0x00, COBS(body), 0x00. */
export function wrapBody(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(cobsMaxLength(body.length) + 2);
  const end = cobsEncodeInto(body, out, 1);
  out[end] = 0;
  return out.slice(0, end + 1);
}

export function encodeFrame(frame: Frame): Uint8Array {
  return wrapBody(encodeBody(frame));
}

// ---- decoder ---------------------------------------------------------------------------------

class PayloadError extends Error {}

class Reader {
  private readonly view: DataView;
  pos: number;
  constructor(
    private readonly buf: Uint8Array,
    start: number,
    private readonly end: number,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = start;
  }
  private take(n: number, what: string): number {
    if (this.pos + n > this.end) throw new PayloadError(`payload ends inside ${what}`);
    const at = this.pos;
    this.pos += n;
    return at;
  }
  u8(what: string): number {
    return this.buf[this.take(1, what)] as number;
  }
  i8(what: string): number {
    return this.view.getInt8(this.take(1, what));
  }
  u16(what: string): number {
    return this.view.getUint16(this.take(2, what), true);
  }
  u32(what: string): number {
    return this.view.getUint32(this.take(4, what), true);
  }
  i32(what: string): number {
    return this.view.getInt32(this.take(4, what), true);
  }
  str(max: number, what: string): string {
    const n = this.u8(`${what} length`);
    if (n > max) throw new PayloadError(`${what} longer than ${max}`);
    const at = this.take(n, what);
    let s = '';
    for (let i = at; i < at + n; i++) {
      const c = this.buf[i] as number;
      if (c < 0x20 || c > 0x7e) throw new PayloadError(`${what} is not printable ASCII`);
      s += String.fromCharCode(c);
    }
    return s;
  }
  done(): void {
    if (this.pos !== this.end) throw new PayloadError(`${this.end - this.pos} bytes after the payload`);
  }
}

function readPayload(type: MessageType, r: Reader): Message {
  switch (type) {
    case 'hello': {
      const heartbeatS = r.u16('heartbeat');
      const ns = r.u8('sensor count');
      const na = r.u8('actuator count');
      if (ns > MAX_SENSORS || na > MAX_ACTUATORS) throw new PayloadError(`${ns} sensors / ${na} actuators: at most ${MAX_SENSORS} / ${MAX_ACTUATORS}`);
      const firmware = r.str(MAX_FIRMWARE, 'firmware');
      const sensors: SensorDecl[] = [];
      for (let i = 0; i < ns; i++) {
        const index = r.u8('sensor index');
        const quantity = quantityOfCode(r.u8('quantity'));
        const unit = unitOfCode(r.u8('unit'));
        sensors.push({ index, quantity, unit, name: r.str(MAX_NAME, 'sensor name') });
      }
      const actuators: ActuatorDecl[] = [];
      for (let i = 0; i < na; i++) {
        const channel = r.u8('channel');
        const kind = kindOfCode(r.u8('kind'));
        const maxOnS = r.u16('maxOnS');
        actuators.push({ channel, kind, maxOnS, name: r.str(MAX_NAME, 'actuator name') });
      }
      return { type, heartbeatS, firmware, sensors, actuators };
    }
    case 'readings': {
      const ageDs = r.u16('age');
      const n = r.u8('readings count');
      if (n < 1 || n > MAX_READINGS) throw new PayloadError(`readings count ${n} is not 1-${MAX_READINGS}`);
      const readings: WireReading[] = [];
      for (let i = 0; i < n; i++) {
        const sensor = r.u8('sensor index');
        const unit = unitOfCode(r.u8('unit'));
        const exp = r.i8('exponent');
        const mantissa = r.i32('value');
        if (exp !== FAILED_EXP && Math.abs(exp) > MAX_EXP) throw new PayloadError(`exponent ${exp} is not -9..9`);
        readings.push({ sensor, unit, mantissa: exp === FAILED_EXP ? 0 : mantissa, exp });
      }
      return { type, ageDs, readings };
    }
    case 'heartbeat':
      return { type, uptimeS: r.u32('uptime'), relays: r.u8('relays'), rxErrors: r.u16('rxErrors') };
    case 'ack': {
      const ackSeq = r.u16('ackSeq');
      const code = r.u8('status');
      const status = ACK_STATUSES[code];
      if (status === undefined) throw new PayloadError(`unknown ack status ${code}`);
      return { type, ackSeq, status, relays: r.u8('relays') };
    }
    case 'error':
      return { type, code: r.u8('code'), detail: r.u8('detail'), text: r.str(MAX_TEXT, 'text') };
    case 'describe':
      return { type };
    case 'command': {
      const channel = r.u8('channel');
      const action = r.u8('action');
      if (action > 1) throw new PayloadError(`unknown action ${action}`);
      return { type, channel, on: action === 1, durationMs: r.u32('duration') };
    }
  }
}

/** Decodes a body (COBS already removed): CRC, version, header, payload. */
export function decodeBody(body: Uint8Array, start = 0, end = body.length): DecodeResult {
  const len = end - start;
  if (len < MIN_BODY) return { ok: false, error: 'short', detail: `${len} bytes, a frame has at least ${MIN_BODY}` };
  if (len > MAX_BODY) return { ok: false, error: 'oversize', detail: `${len} bytes, at most ${MAX_BODY}` };
  const want = (body[end - 2] as number) | ((body[end - 1] as number) << 8);
  const got = crc16(body, start, end - 2);
  if (want !== got) return { ok: false, error: 'crc', detail: `CRC ${hex16(want)} in the frame, ${hex16(got)} computed` };
  const version = body[start] as number;
  if (version !== PROTOCOL_VERSION) return { ok: false, error: 'version', detail: `protocol version ${version}, this edge speaks ${PROTOCOL_VERSION}` };
  const typeCode = body[start + 1] as number;
  const type = TYPE_OF.get(typeCode);
  if (type === undefined) return { ok: false, error: 'type', detail: `unknown message type 0x${typeCode.toString(16).padStart(2, '0')}` };
  const node = body[start + 2] as number;
  const boot = body[start + 3] as number;
  const seq = (body[start + 4] as number) | ((body[start + 5] as number) << 8);
  const r = new Reader(body, start + HEADER_BYTES, end - CRC_BYTES);
  try {
    const message = readPayload(type, r);
    r.done();
    return { ok: true, frame: { node, boot, seq, message } };
  } catch (err) {
    if (err instanceof PayloadError) return { ok: false, error: 'payload', detail: `${type} from node ${node}: ${err.message}` };
    throw err;
  }
}

/** Decodes one frame as on the wire (delimiters optional). For streams, use the Deframer. */
export function decodeFrame(wire: Uint8Array): DecodeResult {
  let start = 0;
  let end = wire.length;
  while (start < end && wire[start] === 0) start++;
  while (end > start && wire[end - 1] === 0) end--;
  if (end - start > MAX_ENCODED) return { ok: false, error: 'oversize', detail: `${end - start} bytes between delimiters, at most ${MAX_ENCODED}` };
  const body = new Uint8Array(end - start);
  const n = cobsDecodeInto(wire, start, end, body);
  if (n < 0) return { ok: false, error: 'cobs', detail: 'not a valid COBS block' };
  return decodeBody(body, 0, n);
}

const hex16 = (n: number): string => `0x${n.toString(16).padStart(4, '0')}`;

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(clean)) throw new Error(`not hex: ${hex}`);
  return new Uint8Array(Buffer.from(clean, 'hex'));
}
