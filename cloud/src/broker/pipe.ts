import { Duplex } from 'node:stream';

/**
 * Two connected in-memory streams: what one writes, the other reads. The embedded ingest talks
 * MQTT to its own broker through such a pair, so it needs no port (and no client certificate
 * when the public port demands one).
 */
export function streamPair(): [Duplex, Duplex] {
  const ends: { a?: Duplex; b?: Duplex } = {};
  const make = (peer: () => Duplex): Duplex =>
    new Duplex({
      read() {
        /* pushed by the peer's write */
      },
      write(chunk: Buffer, _enc, done) {
        peer().push(chunk);
        done();
      },
      final(done) {
        peer().push(null);
        done();
      },
      destroy(err, done) {
        const other = peer();
        if (!other.destroyed) other.destroy();
        done(err);
      },
    });
  const a = make(() => ends.b as Duplex);
  const b = make(() => ends.a as Duplex);
  ends.a = a;
  ends.b = b;
  return [a, b];
}
