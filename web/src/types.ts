/**
 * What the HTTP API answers (docs/web-api.md). The control shapes come from the shared zod
 * schemas as types only: `import type` is erased by esbuild, so zod never reaches a phone.
 */
import type { CommandAction, ControlState, Event, OutputState, Quality, Unit, ZoneState } from '@smart-village/shared';

export type { CommandAction, ControlState, Event, OutputState, Quality, Unit, ZoneState };

export type Role = 'admin' | 'operator' | 'farmer' | 'viewer' | 'kiosk';
export type Lang = 'vi' | 'en';

export interface User {
  name: string;
  role: Role;
  site: string;
  /** null: every field of the site. */
  fields: string[] | null;
}

export interface Session {
  user: User;
  csrf: string;
}

export interface SensorNow {
  id: string;
  name?: string;
  quantity?: string;
  unit: Unit;
  value: number | null;
  ts: number;
  quality: Quality;
}

/**
 * Soil-moisture control of a zone as the site config has it (start below `start`, water up to
 * `target`). Not in the contract's overview yet; used for the colour band when present.
 */
export interface ZoneMoisture {
  sensor: string;
  start: number;
  target: number;
}

export type Zone = ZoneState & { moisture?: ZoneMoisture };

export interface Field {
  id: string;
  name: string;
  sensors: SensorNow[];
  zones: Zone[];
}

export interface Tank {
  sensor: string;
  name: string;
  value: number | null;
  unit: Unit;
  ts: number;
}

export interface WeatherValue {
  value: number | null;
  unit: Unit;
  ts: number;
  /** The sensor it comes from, when the server says; lets live readings update it. */
  sensor?: string;
}

export interface Announcement {
  text: string;
  updatedAt: number;
  by: string;
}

import type { Alert } from '@smart-village/shared';
export type { Alert, AlertKind } from '@smart-village/shared';

export type Light = ControlState['lights'][number];

export interface EdgeNow {
  edge: string;
  online: boolean;
  lastSeen: number | null;
}

export interface Overview {
  site: { id: string; name: string; timezone: string; language: Lang; lat: number; lon: number };
  edges: EdgeNow[];
  fields: Field[];
  tanks: Tank[];
  weather: Record<string, WeatherValue>;
  rain24hMm: number | null;
  outputs: OutputState[];
  lights: Light[];
  pausedUntil?: number;
  rainDelayUntil?: number;
  announcement: Announcement | null;
  alerts: Alert[];
  updatedAt: number;
}

export const COMMAND_STATUSES = ['sent', 'accepted', 'rejected', 'done', 'failed', 'expired'] as const;
export type CommandStatus = (typeof COMMAND_STATUSES)[number];

/** One row of the audit trail. */
export interface CommandRow {
  id: string;
  by: string;
  action: CommandAction;
  edge: string;
  issuedAt: number;
  status: CommandStatus;
  reason?: string;
  updatedAt: number;
}

/** One time bucket of a sensor's history. */
export interface Bucket {
  t: number;
  min: number;
  avg: number;
  max: number;
  last: number;
  count: number;
}

export type HistoryRange = 'day' | 'week' | 'season';

export interface History {
  sensor: string;
  unit: Unit;
  from: number;
  to: number;
  bucketMs: number;
  buckets: Bucket[];
}

/** A reading as the stream pushes it. */
export interface LiveReading {
  sensor: string;
  edge: string;
  ts: number;
  value: number | null;
  unit: Unit;
  quality: Quality;
}
