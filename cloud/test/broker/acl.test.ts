import { describe, expect, it } from 'vitest';
import { canPublish, canSubscribe, parseShared, type DenyReason, type Identity } from '../../src/broker/acl.js';

const e1: Identity = { kind: 'edge', site: 's1', edge: 'e1' };
const ingest: Identity = { kind: 'service', name: 'ingest', role: 'ingest' };

type Row = [string, Identity, string, boolean, true | DenyReason];

describe('canPublish', () => {
  const rows: Row[] = [
    ['edge: own telemetry', e1, 'sv/v1/s1/e1/telemetry', false, true],
    ['edge: own status, retained', e1, 'sv/v1/s1/e1/status', true, true],
    ['edge: own state, retained', e1, 'sv/v1/s1/e1/state', true, true],
    ['edge: own events', e1, 'sv/v1/s1/e1/events', false, true],
    ['edge: own cmd-result', e1, 'sv/v1/s1/e1/cmd-result', false, true],
    ['edge: retained telemetry', e1, 'sv/v1/s1/e1/telemetry', true, 'retain-not-allowed'],
    ['edge: own ack (down channel)', e1, 'sv/v1/s1/e1/ack', false, 'channel-not-allowed'],
    ['edge: own cmd (down channel)', e1, 'sv/v1/s1/e1/cmd', false, 'channel-not-allowed'],
    ['edge: other edge', e1, 'sv/v1/s1/e2/telemetry', false, 'not-own-topic'],
    ['edge: other site', e1, 'sv/v1/s2/e1/telemetry', false, 'not-own-topic'],
    ['edge: other edge cmd', e1, 'sv/v1/s1/e2/cmd', false, 'not-own-topic'],
    ['edge: unknown channel', e1, 'sv/v1/s1/e1/firmware', false, 'outside-namespace'],
    ['edge: extra level', e1, 'sv/v1/s1/e1/telemetry/x', false, 'outside-namespace'],
    ['edge: other root', e1, 'sv/v2/s1/e1/telemetry', false, 'outside-namespace'],
    ['edge: $SYS', e1, '$SYS/broker/x', false, 'reserved-topic'],
    // [MQTT-3.3.2-2] no wildcards in a PUBLISH topic name
    ['edge: + in topic', e1, 'sv/v1/s1/+/telemetry', false, 'wildcard-in-topic'],
    ['edge: # in topic', e1, 'sv/v1/s1/e1/#', false, 'wildcard-in-topic'],
    ['edge: empty', e1, '', false, 'malformed-topic'],
    ['edge: NUL', e1, 'sv/v1/s1/e1/telemetry\u0000', false, 'malformed-topic'],
    ['edge: too long', e1, `sv/v1/s1/e1/${'x'.repeat(300)}`, false, 'topic-too-long'],
    ['edge: too deep', e1, 'a/b/c/d/e/f/g/h', false, 'topic-too-long'],
    ['ingest: ack', ingest, 'sv/v1/s1/e1/ack', false, true],
    ['ingest: cmd', ingest, 'sv/v1/s2/e9/cmd', false, true],
    ['ingest: retained cmd', ingest, 'sv/v1/s1/e1/cmd', true, 'retain-not-allowed'],
    ['ingest: telemetry', ingest, 'sv/v1/s1/e1/telemetry', false, 'channel-not-allowed'],
    ['ingest: status', ingest, 'sv/v1/s1/e1/status', false, 'channel-not-allowed'],
    ['ingest: $SYS', ingest, '$SYS/x/heartbeat', false, 'reserved-topic'],
    ['ingest: outside', ingest, 'other/topic', false, 'outside-namespace'],
  ];
  it.each(rows)('%s', (_name, identity, topic, retain, expected) => {
    const decision = canPublish(identity, topic, { retain });
    expect(decision.ok ? true : decision.reason).toBe(expected);
  });
});

describe('canSubscribe', () => {
  const rows: [string, Identity, string, true | DenyReason][] = [
    ['edge: own ack', e1, 'sv/v1/s1/e1/ack', true],
    ['edge: own cmd', e1, 'sv/v1/s1/e1/cmd', true],
    ['edge: own telemetry', e1, 'sv/v1/s1/e1/telemetry', 'channel-not-allowed'],
    ['edge: other edge cmd', e1, 'sv/v1/s1/e2/cmd', 'not-own-topic'],
    ['edge: other site ack', e1, 'sv/v1/s2/e1/ack', 'not-own-topic'],
    ['edge: wildcard +', e1, 'sv/v1/s1/+/cmd', 'wildcard-not-allowed'],
    ['edge: wildcard #', e1, '#', 'wildcard-not-allowed'],
    ['edge: own # ', e1, 'sv/v1/s1/e1/#', 'wildcard-not-allowed'],
    ['edge: $SYS', e1, '$SYS/#', 'reserved-topic'],
    ['edge: shared', e1, '$share/g/sv/v1/s1/e1/cmd', 'shared-not-allowed'],
    ['ingest: all telemetry', ingest, 'sv/v1/+/+/telemetry', true],
    ['ingest: one site events', ingest, 'sv/v1/s1/+/events', true],
    ['ingest: one edge status', ingest, 'sv/v1/s1/e1/status', true],
    ['ingest: cmd-result', ingest, 'sv/v1/+/+/cmd-result', true],
    ['ingest: state', ingest, 'sv/v1/+/+/state', true],
    ['ingest: shared telemetry', ingest, '$share/ingest/sv/v1/+/+/telemetry', true],
    ['ingest: shared status', ingest, '$share/ingest/sv/v1/+/+/status', true],
    ['ingest: ack (down)', ingest, 'sv/v1/+/+/ack', 'channel-not-allowed'],
    ['ingest: cmd (down)', ingest, 'sv/v1/+/+/cmd', 'channel-not-allowed'],
    ['ingest: channel +', ingest, 'sv/v1/+/+/+', 'wildcard-not-allowed'],
    ['ingest: #', ingest, 'sv/v1/#', 'wildcard-not-allowed'],
    ['ingest: everything', ingest, '#', 'wildcard-not-allowed'],
    ['ingest: partial-level +', ingest, 'sv/v1/s+/+/telemetry', 'wildcard-not-allowed'],
    ['ingest: $SYS', ingest, '$SYS/#', 'reserved-topic'],
    ['ingest: shared $SYS', ingest, '$share/g/$SYS/x', 'reserved-topic'],
    ['ingest: shared without filter', ingest, '$share/g/', 'malformed-topic'],
    ['ingest: shared bad group', ingest, '$share/G+/sv/v1/+/+/telemetry', 'malformed-topic'],
    ['ingest: outside', ingest, 'foo/bar', 'outside-namespace'],
    ['ingest: too long', ingest, `sv/v1/${'a'.repeat(300)}/+/telemetry`, 'topic-too-long'],
  ];
  it.each(rows)('%s', (_name, identity, filter, expected) => {
    const decision = canSubscribe(identity, filter);
    expect(decision.ok ? true : decision.reason).toBe(expected);
  });
});

describe('parseShared', () => {
  it.each([
    ['$share/ingest/sv/v1/+/+/telemetry', { group: 'ingest', filter: 'sv/v1/+/+/telemetry' }],
    ['$share/ingest', undefined],
    ['$share//sv/v1', undefined],
    ['sv/v1/+/+/telemetry', undefined],
  ])('%s', (text, expected) => {
    expect(parseShared(text)).toEqual(expected);
  });
});
