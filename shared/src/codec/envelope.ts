import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { ByteReader, ByteWriter, crc32, payloadError, type PayloadKind } from './bytes.js';

export const CODEC_VERSION = 1;

/** "SV": lets the cloud tell a codec payload from a stray JSON message on the same topic. */
const MAGIC_0 = 0x53;
const MAGIC_1 = 0x56;
const KIND_BYTE: Record<PayloadKind, number> = { telemetry: 0x54 /* 'T' */, events: 0x45 /* 'E' */ };
const FLAG_DEFLATE = 0x01;
const KNOWN_FLAGS = FLAG_DEFLATE;

/**
 * Cap on the uncompressed body. A 1-hour backlog of 50 sensors every 10 s is ~0.1 MiB, so
 * 16 MiB is far above any real batch yet bounds what a zip bomb can make us allocate.
 */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

/** The bytes before the body: magic(2) version(1) kind(1) flags(1) rawLength(uvarint) sentLength(uvarint) crc32(4). */
function header(kind: PayloadKind, flags: number, rawLength: number, sent: Uint8Array): Uint8Array {
  const w = new ByteWriter(24);
  w.u8(MAGIC_0);
  w.u8(MAGIC_1);
  w.u8(CODEC_VERSION);
  w.u8(KIND_BYTE[kind]);
  w.u8(flags);
  w.uvarint(rawLength);
  w.uvarint(sent.length);
  const crc = crc32(sent);
  w.u8(crc >>> 24);
  w.u8((crc >>> 16) & 0xff);
  w.u8((crc >>> 8) & 0xff);
  w.u8(crc & 0xff);
  return w.finish();
}

/** Wraps a body: deflated when that is smaller (it is for all but the tiniest batches), else stored. */
export function seal(kind: PayloadKind, body: Uint8Array): Buffer {
  if (body.length > MAX_BODY_BYTES) {
    throw payloadError(kind, `cannot encode: body of ${body.length} bytes exceeds the ${MAX_BODY_BYTES}-byte cap; send smaller batches`);
  }
  // Level 9: batches are a few KiB, so the extra CPU is microseconds and every byte saved is 2G airtime.
  const deflated = deflateRawSync(body, { level: constants.Z_BEST_COMPRESSION, memLevel: 9 });
  const useDeflate = deflated.length < body.length;
  const sent = useDeflate ? deflated : body;
  return Buffer.concat([header(kind, useDeflate ? FLAG_DEFLATE : 0, body.length, sent), sent]);
}

/** What inflateRawSync returns with `info: true`; @types/node types the call as returning a Buffer only. */
interface InflateInfo {
  buffer: Buffer;
  engine: { bytesWritten: number };
}

/** Checks the envelope of an untrusted payload and returns its verified, uncompressed body. */
export function open(kind: PayloadKind, payload: Uint8Array): Uint8Array {
  if (!(payload instanceof Uint8Array)) throw payloadError(kind, `expected bytes, got ${payload === null ? 'null' : typeof payload}`);
  const r = new ByteReader(payload, kind, 'header');
  if (payload.length === 0) r.fail('empty');
  if (r.u8('magic') !== MAGIC_0 || r.u8('magic') !== MAGIC_1) r.fail('bad magic, not a smart-village codec payload');
  const version = r.u8('version');
  if (version !== CODEC_VERSION) r.fail(`codec version ${version}, this build reads version ${CODEC_VERSION}`);
  const kindByte = r.u8('kind');
  if (kindByte !== KIND_BYTE[kind]) {
    const other = (Object.keys(KIND_BYTE) as PayloadKind[]).find((k) => KIND_BYTE[k] === kindByte);
    r.fail(other ? `this is a ${other} payload, not ${kind}` : `unknown payload kind 0x${kindByte.toString(16)}`);
  }
  const flags = r.u8('flags');
  if ((flags & ~KNOWN_FLAGS) !== 0) r.fail(`unknown flags 0x${flags.toString(16)}`);
  const rawLength = r.uvarint('body length');
  if (rawLength > MAX_BODY_BYTES) r.fail(`declares a ${rawLength}-byte body, more than the ${MAX_BODY_BYTES}-byte cap`);
  const sentLength = r.uvarint('sent body length');
  const crcBytes = r.bytes(4, 'checksum');
  const expectedCrc = (((crcBytes[0] as number) << 24) | ((crcBytes[1] as number) << 16) | ((crcBytes[2] as number) << 8) | (crcBytes[3] as number)) >>> 0;
  const sent = payload.subarray(r.offset);
  if (sent.length < sentLength) throw payloadError(kind, `truncated: body has ${sent.length} of ${sentLength} bytes`);
  if (sent.length > sentLength) throw payloadError(kind, `${sent.length - sentLength} trailing bytes after the body`);
  // Over the bytes as sent, not as inflated: then every flipped bit, even in a deflate
  // stream's padding, is caught, and bursts up to 32 bits are caught with certainty.
  const crc = crc32(sent);
  if (crc !== expectedCrc) throw payloadError(kind, `checksum mismatch (body crc32 ${hex(crc)}, header says ${hex(expectedCrc)}): corrupted in transit or storage`);

  if (!(flags & FLAG_DEFLATE)) {
    if (sentLength !== rawLength) throw payloadError(kind, `stored body is ${sentLength} bytes, header declares ${rawLength}`);
    return sent;
  }
  let inflated: InflateInfo;
  try {
    // maxOutputLength stops a zip bomb at the declared size instead of after it has eaten memory.
    inflated = inflateRawSync(sent, { info: true, maxOutputLength: Math.max(1, rawLength) }) as unknown as InflateInfo;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') throw payloadError(kind, `body inflates to more than the declared ${rawLength} bytes`, {}, err);
    throw payloadError(kind, `deflate body is corrupt or truncated: ${(err as Error).message}`, {}, err);
  }
  // zlib stops at the end of the deflate stream and silently ignores what follows.
  if (inflated.engine.bytesWritten !== sent.length) {
    throw payloadError(kind, `${sent.length - inflated.engine.bytesWritten} trailing bytes after the deflate stream`);
  }
  if (inflated.buffer.length !== rawLength) throw payloadError(kind, `body inflates to ${inflated.buffer.length} bytes, header declares ${rawLength}`);
  return inflated.buffer;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
