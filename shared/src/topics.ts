import { ID_PATTERN } from './ids.js';

/** MQTT topics v1: sv/v1/{site}/{edge}/{channel}. */
export const TOPIC_ROOT = 'sv/v1';
export const CHANNELS = ['status', 'telemetry', 'events', 'state', 'ack', 'cmd', 'cmd-result'] as const;
export type Channel = (typeof CHANNELS)[number];

export function topic(site: string, edge: string, channel: Channel): string {
  if (!ID_PATTERN.test(site) || !ID_PATTERN.test(edge)) throw new Error(`invalid site or edge id in topic: ${site}/${edge}`);
  return `${TOPIC_ROOT}/${site}/${edge}/${channel}`;
}

export interface TopicParts {
  site: string;
  edge: string;
  channel: Channel;
}

export function parseTopic(text: string): TopicParts | undefined {
  const parts = text.split('/');
  if (parts.length !== 5 || `${parts[0]}/${parts[1]}` !== TOPIC_ROOT) return undefined;
  const [, , site, edge, channel] = parts as [string, string, string, string, string];
  if (!ID_PATTERN.test(site) || !ID_PATTERN.test(edge)) return undefined;
  if (!(CHANNELS as readonly string[]).includes(channel)) return undefined;
  return { site, edge, channel: channel as Channel };
}
