/**
 * The wire codec for `…/telemetry` and `…/events` payloads, version 1.
 *
 * Why: over 2G/3G one JSON message per reading costs ~100+ bytes of airtime for a few bytes of
 * information. Readings of one edge are highly regular (same sensors, same interval, values
 * that move by one step of the sensor's resolution), so we batch them, lay them out in columns
 * and deflate. A 1-minute batch of 50 sensors polled every 10 s (the demo's interval) comes to
 * ~2-3 bytes a reading; see bench/codec.bench.js for the figures and the data they use.
 * Every batch is self-contained (no state shared between messages), because QoS 1 redelivers
 * and the outbox resends after a reconnect in any order.
 *
 * ## Spec (an implementer in another language should be able to follow this)
 *
 * Integers:
 * - uvarint: unsigned LEB128 (7 bits a byte, least significant group first, high bit = more).
 *   At most 8 bytes, value ≤ 2^53-1, minimal (a multi-byte varint never ends in 0x00).
 * - svarint: sign-magnitude. First byte: bit 7 = more, bit 6 = negative, bits 0-5 = |n| mod 64;
 *   if "more", uvarint(floor(|n| / 64)) follows, which must not be 0. |n| ≤ 2^53-1; "negative
 *   zero" is invalid. (Zigzag would need 2|n|+1, which is not exact in a double above 2^52.)
 *
 * Envelope (both kinds):
 *   0  2 bytes  magic 0x53 0x56 ("SV")
 *   2  1 byte   version = 1
 *   3  1 byte   kind: 0x54 'T' telemetry, 0x45 'E' events
 *   4  1 byte   flags: bit 0 = body is raw deflate (RFC 1951, no zlib/gzip wrapper); bits 1-7 = 0
 *   5  uvarint  body length in bytes before compression, ≤ 16 MiB (bounds zip bombs)
 *   …  uvarint  body length as sent (after compression; equal to the above when stored)
 *   …  4 bytes  CRC-32 (ISO-HDLC, as zlib) of the body as sent, big-endian
 *   …  the body as sent, running exactly to the end of the payload; a deflate stream must
 *      end at its last byte and inflate to exactly the declared length.
 * The encoder stores the body when deflate would not make it smaller (tiny batches).
 * The checksum is there because MQTT hands us bytes from disk queues and bridges, not only
 * from TLS; a corrupted batch must be refused, not stored as plausible wrong values. It covers
 * the bytes as sent so that any flipped bit is caught (even in deflate padding bits, which
 * inflate ignores), and any burst up to 32 bits with certainty. The sent length lets a
 * truncated or extended payload be named as such instead of as a checksum mismatch.
 *
 * Telemetry body (n rows, columns one after the other):
 *   uvarint n; uvarint d
 *   d × series: uvarint len + UTF-8 sensor id; uvarint len + UTF-8 unit; 1 byte decimals (0..6)
 *       — the distinct (sensor, unit) pairs in order of first appearance. Units travel as text
 *       so that changes to the UNITS list never change the meaning of old payloads.
 *   seq:    n>0: uvarint seq[0], then uvarint (seq[i] - seq[i-1] - 1)   (strictly increasing)
 *   series: n × uvarint index into the series (< d)
 *   ts:     n>0: uvarint ts[0], then svarint (ts[i] - ts[i-1])   (clock corrections go back)
 *   status: uvarint runs; runs × (1 byte status, uvarint run length ≥ 1); lengths sum to n.
 *           status bits 0-1 = quality (0 good, 1 out-of-range, 2 stale, 3 error),
 *           bit 2 = clockSynced, bits 3-7 = 0.
 *   raw:    uvarint e; e × uvarint row gap (row[0], then row[j] - row[j-1] - 1);
 *           then e × float64 little-endian — values that are not exact with the series'
 *           decimals (0.1+0.2, -0, huge values). Never on an "error" row.
 *   values: for every row that is neither "error" (value null) nor raw, in row order:
 *           svarint (k - prev[series]), prev starting at 0 for each series, |k| ≤ 2^52-1;
 *           value = k / 10^decimals (a correctly rounded division, which the encoder checked
 *           gives back exactly the original double).
 *   The body must end exactly after the last column. Each decoded reading must pass
 *   readingSchema.
 *
 * Events body: UTF-8 JSON object of columns (events are few; JSON keeps them debuggable):
 *   { seq: [seq0, gap-1…], ts: [ts0, delta…], synced: [0|1…], kinds: [text…], kind: [index…],
 *     severity: [0 info | 1 warning | 2 alarm…], sources: [text…], source: [index…],
 *     message: [text…], data: [object…] }   — all per-event columns of equal length.
 *   Each decoded event must pass eventSchema; `data` must be plain JSON (the encoder refuses
 *   undefined, NaN, -0, Dates… rather than change them silently).
 *
 * Errors: decoders throw VillageError('PAYLOAD_INVALID') saying what is wrong and where;
 * encoders throw the same code ("cannot encode: …") for a batch the format cannot carry exactly,
 * so the edge learns at once instead of sending something the cloud refuses forever.
 */
export { CODEC_VERSION, MAX_BODY_BYTES } from './codec/envelope.js';
export { encodeTelemetry, decodeTelemetry, type TelemetryBatch } from './codec/telemetry.js';
export { encodeEvents, decodeEvents, type EventBatch } from './codec/events.js';
