import { CHANNELS, ID_PATTERN, TOPIC_ROOT, type Channel } from '@smart-village/shared';

/**
 * Who may publish and subscribe where. Pure: the broker adapter asks, this answers.
 *
 * DESIGN.md "MQTT topics (v1)": an edge publishes only under its own sv/v1/{site}/{edge}/ and
 * subscribes only to its own …/ack and …/cmd; the ingest service reads every edge's up
 * channels and writes …/ack and …/cmd. Everything else is refused.
 */

export type Identity = { kind: 'edge'; site: string; edge: string } | { kind: 'service'; name: string; role: 'ingest' };

export type DenyReason =
  | 'malformed-topic'
  | 'topic-too-long'
  | 'wildcard-in-topic'
  | 'reserved-topic'
  | 'outside-namespace'
  | 'not-own-topic'
  | 'channel-not-allowed'
  | 'retain-not-allowed'
  | 'wildcard-not-allowed'
  | 'shared-not-allowed';

export type Decision = { ok: true } | { ok: false; reason: DenyReason };

/** Channels an edge sends (and the ingest reads). */
export const UP_CHANNELS: readonly Channel[] = ['status', 'telemetry', 'events', 'state', 'cmd-result'];
/** Channels the cloud sends to an edge. */
export const DOWN_CHANNELS: readonly Channel[] = ['ack', 'cmd'];
/** DESIGN.md: only status (also the last will) and state are retained; cmd never is. */
export const RETAINED_CHANNELS: readonly Channel[] = ['status', 'state'];

/**
 * Our longest legal filter is `$share/{group}/sv/v1/{site}/{edge}/cmd-result`: 7 levels and
 * well under 256 characters with 64-character ids. MQTT allows 65535 bytes [MQTT-1.5.3]; we
 * need far less, and long topics only cost memory in the subscription trie.
 */
export const MAX_TOPIC_LENGTH = 256;
export const MAX_TOPIC_LEVELS = 7;

const ALLOW: Decision = { ok: true };
const deny = (reason: DenyReason): Decision => ({ ok: false, reason });

function basicChecks(topic: string): Decision | undefined {
  // [MQTT-4.7.3-1] topics are at least one character; [MQTT-1.5.3-2] no U+0000.
  if (topic.length === 0 || topic.includes('\u0000')) return deny('malformed-topic');
  if (topic.length > MAX_TOPIC_LENGTH || topic.split('/').length > MAX_TOPIC_LEVELS) return deny('topic-too-long');
  return undefined;
}

function isChannel(text: string): text is Channel {
  return (CHANNELS as readonly string[]).includes(text);
}

/** `sv/v1/{site}/{edge}/{channel}` with concrete ids; undefined when it is not one of ours. */
function ourTopic(levels: readonly string[]): { site: string; edge: string; channel: Channel } | undefined {
  if (levels.length !== 5 || `${levels[0]}/${levels[1]}` !== TOPIC_ROOT) return undefined;
  const [, , site, edge, channel] = levels as [string, string, string, string, string];
  if (!ID_PATTERN.test(site) || !ID_PATTERN.test(edge) || !isChannel(channel)) return undefined;
  return { site, edge, channel };
}

export function canPublish(identity: Identity, topic: string, opts: { retain?: boolean } = {}): Decision {
  const basic = basicChecks(topic);
  if (basic) return basic;
  // [MQTT-3.3.2-2] the Topic Name in a PUBLISH MUST NOT contain wildcard characters.
  if (topic.includes('+') || topic.includes('#')) return deny('wildcard-in-topic');
  // [MQTT-4.7.2-1] `$` topics belong to the server ($SYS heartbeats, our $share groups).
  if (topic.startsWith('$')) return deny('reserved-topic');
  const parsed = ourTopic(topic.split('/'));
  if (!parsed) return deny('outside-namespace');
  if (identity.kind === 'edge') {
    if (parsed.site !== identity.site || parsed.edge !== identity.edge) return deny('not-own-topic');
    if (!UP_CHANNELS.includes(parsed.channel)) return deny('channel-not-allowed');
  } else if (!DOWN_CHANNELS.includes(parsed.channel)) {
    return deny('channel-not-allowed');
  }
  // Principle 5: retained messages never actuate, so only status/state may be retained.
  if (opts.retain === true && !RETAINED_CHANNELS.includes(parsed.channel)) return deny('retain-not-allowed');
  return ALLOW;
}

/** `$share/{group}/{filter}` (MQTT 5.0 §4.8.2, also accepted from 3.1.1 clients here). */
export function parseShared(filter: string): { group: string; filter: string } | undefined {
  if (!filter.startsWith('$share/')) return undefined;
  const rest = filter.slice('$share/'.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) return undefined;
  const group = rest.slice(0, slash);
  const inner = rest.slice(slash + 1);
  // MQTT 5.0 §4.8.2: the ShareName MUST NOT contain "/", "+" or "#"; the filter follows it.
  if (group.includes('+') || group.includes('#') || inner.length === 0) return undefined;
  return { group, filter: inner };
}

export function canSubscribe(identity: Identity, topicFilter: string): Decision {
  const basic = basicChecks(topicFilter);
  if (basic) return basic;
  let filter = topicFilter;
  if (filter.startsWith('$share/')) {
    if (identity.kind === 'edge') return deny('shared-not-allowed');
    const shared = parseShared(filter);
    if (!shared || !ID_PATTERN.test(shared.group)) return deny('malformed-topic');
    filter = shared.filter;
  }
  // [MQTT-4.7.2-1] no `$SYS/…` or other server topics for anyone.
  if (filter.startsWith('$')) return deny('reserved-topic');
  const levels = filter.split('/');
  if (identity.kind === 'edge') {
    // Exact topics only: an edge has exactly two things to listen to.
    if (filter.includes('+') || filter.includes('#')) return deny('wildcard-not-allowed');
    const parsed = ourTopic(levels);
    if (!parsed) return deny('outside-namespace');
    if (parsed.site !== identity.site || parsed.edge !== identity.edge) return deny('not-own-topic');
    return DOWN_CHANNELS.includes(parsed.channel) ? ALLOW : deny('channel-not-allowed');
  }
  // The ingest: `+` may stand for a site or an edge ([MQTT-4.7.1-3]: a whole level), the
  // channel must be a concrete up channel, and `#` would reach ack/cmd, so it is refused.
  if (filter.includes('#')) return deny('wildcard-not-allowed');
  if (levels.length !== 5 || `${levels[0]}/${levels[1]}` !== TOPIC_ROOT) return deny('outside-namespace');
  const [, , site, edge, channel] = levels as [string, string, string, string, string];
  for (const level of [site, edge]) {
    if (level !== '+' && !ID_PATTERN.test(level)) return deny(level.includes('+') ? 'wildcard-not-allowed' : 'outside-namespace');
  }
  if (channel === '+') return deny('wildcard-not-allowed');
  if (!isChannel(channel)) return deny('outside-namespace');
  return UP_CHANNELS.includes(channel) ? ALLOW : deny('channel-not-allowed');
}

/** For log lines: never includes a secret. */
export function describeIdentity(identity: Identity): string {
  return identity.kind === 'edge' ? `edge ${identity.site}/${identity.edge}` : `service ${identity.name}`;
}
