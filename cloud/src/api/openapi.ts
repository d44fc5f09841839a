import { QUANTITY_NAMES, UNITS, QUALITIES, SEVERITIES } from '@smart-village/shared';
import { ALERT_KINDS } from '../alerts/rules.js';
import { COMMAND_STATUSES, USER_ROLES } from '../store/types.js';
import { API_ERRORS } from '@smart-village/shared/server';
import { LIMIT_DEFAULT, LIMIT_MAX, MAX_BUCKETS } from './params.js';

/**
 * The OpenAPI 3.1 description of the API, written by hand (a test checks it lists exactly the
 * routes in routes.ts, with exactly their query parameters). Only the parts of the OpenAPI types
 * we use are declared here.
 */

/** JSON Schema 2020-12, as OpenAPI 3.1 embeds it (the subset used below). */
export interface JsonSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean' | 'null' | ('string' | 'integer' | 'number' | 'boolean' | 'null' | 'object' | 'array')[];
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: readonly (string | number | boolean | null)[];
  const?: string | number | boolean;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  default?: string | number | boolean;
  format?: string;
  oneOf?: JsonSchema[];
  $ref?: string;
  maxLength?: number;
  minLength?: number;
}

export interface OpenApiParameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  description?: string;
  schema: JsonSchema;
}

export interface OpenApiResponse {
  description: string;
  content?: Record<string, { schema: JsonSchema }>;
}

export interface OpenApiOperation {
  operationId: string;
  summary: string;
  description?: string;
  tags?: string[];
  /** Empty: no authentication. Absent: the document's default (a bearer token). */
  security?: Record<string, string[]>[];
  parameters?: OpenApiParameter[];
  requestBody?: { required: true; content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, OpenApiResponse>;
  'x-role'?: 'viewer' | 'farmer' | 'operator' | 'admin';
}

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description?: string };
  servers?: { url: string }[];
  security: Record<string, string[]>[];
  paths: Record<string, { get?: OpenApiOperation; post?: OpenApiOperation; put?: OpenApiOperation; delete?: OpenApiOperation }>;
  components: {
    schemas: Record<string, JsonSchema>;
    securitySchemes: Record<string, { type: 'http'; scheme: 'bearer' } | { type: 'apiKey'; in: 'query' | 'cookie'; name: string }>;
    responses: Record<string, OpenApiResponse>;
  };
}

const ID_PATTERN_TEXT = '^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$';
const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: JsonSchema, description: string): OpenApiResponse => ({ description, content: { 'application/json': { schema } } });
const errorRef = (name: string): OpenApiResponse => ({ $ref: `#/components/responses/${name}` }) as unknown as OpenApiResponse;
const obj = (properties: Record<string, JsonSchema>, description?: string): JsonSchema => ({
  type: 'object',
  ...(description && { description }),
  properties,
  required: Object.keys(properties),
  additionalProperties: false,
});

const epochMs: JsonSchema = { type: 'integer', description: 'epoch milliseconds' };
const time: JsonSchema = { type: 'string', description: 'epoch milliseconds, or ISO 8601 (2024-06-01T06:00:00Z)' };
const id = (description: string): JsonSchema => ({ type: 'string', pattern: ID_PATTERN_TEXT, description });

const jsonBody = (schema: JsonSchema): OpenApiOperation['requestBody'] => ({ required: true, content: { 'application/json': { schema } } });
const nullable = (schema: JsonSchema): JsonSchema => ({ oneOf: [schema, { type: 'null' }] });
const site: OpenApiParameter = { name: 'site', in: 'path', required: true, schema: id('site id') };
const zone: OpenApiParameter = { name: 'zone', in: 'path', required: true, schema: id('zone id') };
/** The default security of the document: a bearer token, or a browser session. */
const TOKEN_OR_SESSION: Record<string, string[]>[] = [{ bearer: [] }, { session: [] }];
const SESSION_ONLY: Record<string, string[]>[] = [{ session: [] }];
const sensor: OpenApiParameter = { name: 'sensor', in: 'path', required: true, schema: id('sensor id') };
const edgeFilter: OpenApiParameter = { name: 'edge', in: 'query', description: 'only this edge (404 if the site has no such edge)', schema: id('edge id') };
const limit: OpenApiParameter = { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: LIMIT_MAX, default: LIMIT_DEFAULT } };

/** The errors every authenticated route can answer. */
const AUTHED = { '400': errorRef('BadRequest'), '401': errorRef('Unauthorized'), '403': errorRef('Forbidden') };
const SITE_AUTHED = { ...AUTHED, '404': errorRef('NotFound') };
/** State-changing routes: also the CSRF refusal and an oversized body. */
const ACTING = { ...SITE_AUTHED, '413': errorRef('PayloadTooLarge') };

export const OPENAPI: OpenApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'smart-village cloud API',
    version: '1',
    description:
      'What the village edges reported (sites, edges and their sync progress, sensors, latest values, history, events, quarantine, a live event stream), ' +
      'what a screen needs in one answer (overview, alerts, why a zone did what it did), commands to the edges with their audit trail, and the site announcement. ' +
      'Every route except /api/health and the login routes needs `Authorization: Bearer <token>` (tokens: `village-cloud token add`) or the `sv_session` cookie of a login (users: `village-cloud user add`). ' +
      'Roles: viewer and kiosk (read), farmer (read and water their own fields only), operator (also commands, announcement, quarantine), admin. ' +
      'With the cookie, POST/PUT/DELETE need `X-CSRF-Token` (from the session answer), `Content-Type: application/json` and a same-origin request (else 403 CSRF); bearer requests need none of that. ' +
      'Unknown query parameters and body fields are refused (400). Times are epoch milliseconds. See docs/web-api.md.',
  },
  security: TOKEN_OR_SESSION,
  paths: {
    '/api/health': {
      get: {
        operationId: 'health',
        summary: 'Liveness and version (no token needed)',
        security: [],
        responses: { '200': json(obj({ ok: { type: 'boolean', const: true }, version: { type: 'string' } }), 'the API is up') },
      },
    },
    '/api/openapi.json': {
      get: {
        operationId: 'openapi',
        summary: 'This document',
        'x-role': 'viewer',
        responses: { '200': json({ type: 'object' }, 'the OpenAPI 3.1 document'), ...AUTHED },
      },
    },
    '/api/sites': {
      get: {
        operationId: 'listSites',
        summary: 'Sites with how many edges they have and how many are online',
        'x-role': 'viewer',
        responses: { '200': json(obj({ sites: { type: 'array', items: ref('Site') } }), 'sites, by id'), ...AUTHED },
      },
    },
    '/api/sites/{site}/edges': {
      get: {
        operationId: 'listEdges',
        summary: 'Edges of a site: state, last seen, sync progress and lag',
        'x-role': 'viewer',
        parameters: [site],
        responses: { '200': json(obj({ site: { type: 'string' }, edges: { type: 'array', items: ref('Edge') } }), 'edges, by id'), ...SITE_AUTHED },
      },
    },
    '/api/sites/{site}/sensors': {
      get: {
        operationId: 'listSensors',
        summary: 'Sensors known from their latest readings, with unit, edge and last value',
        'x-role': 'viewer',
        parameters: [site],
        responses: { '200': json(obj({ site: { type: 'string' }, sensors: { type: 'array', items: ref('Sensor') } }), 'sensors, by id'), ...SITE_AUTHED },
      },
    },
    '/api/sites/{site}/latest': {
      get: {
        operationId: 'latest',
        summary: 'Latest reading per sensor (the newest across edges, or of one edge)',
        'x-role': 'viewer',
        parameters: [site, edgeFilter],
        responses: { '200': json(obj({ site: { type: 'string' }, readings: { type: 'array', items: ref('Reading') } }), 'one reading per sensor'), ...SITE_AUTHED },
      },
    },
    '/api/sites/{site}/sensors/{sensor}/history': {
      get: {
        operationId: 'history',
        summary: 'A sensor over time in buckets (min, avg, max, last, count)',
        description:
          'range=day (5-minute buckets), week (hourly) or season (120 days, daily), ending with the bucket that holds now; or from [and to, default now] with an optional bucket ' +
          `(default by span: up to a day 5 min, up to a week 1 h, else 1 day). At most ${MAX_BUCKETS} buckets. Buckets are multiples of their width from the epoch (UTC); empty buckets are omitted. No parameters: range=day.`,
        'x-role': 'viewer',
        parameters: [
          site,
          sensor,
          { name: 'range', in: 'query', schema: { type: 'string', enum: ['day', 'week', 'season'] } },
          { name: 'from', in: 'query', schema: time },
          { name: 'to', in: 'query', schema: time },
          { name: 'bucket', in: 'query', schema: { type: 'string', description: 'bucket width, at least a minute: 5m, 1h, 1d or milliseconds' } },
        ],
        responses: {
          '200': json(
            obj({ site: { type: 'string' }, sensor: { type: 'string' }, unit: { type: 'string', enum: UNITS }, from: epochMs, to: epochMs, bucketMs: { type: 'integer' }, buckets: { type: 'array', items: ref('Bucket') } }),
            'buckets in [from, to), oldest first',
          ),
          ...SITE_AUTHED,
        },
      },
    },
    '/api/sites/{site}/events': {
      get: {
        operationId: 'events',
        summary: 'Events of a site, newest first',
        'x-role': 'viewer',
        parameters: [
          site,
          edgeFilter,
          { name: 'kind', in: 'query', schema: { type: 'string', pattern: '^[a-z]+(\\.[a-z-]+)+$', description: 'e.g. zone.watered' } },
          { name: 'source', in: 'query', schema: { type: 'string', description: 'device, sensor or zone' } },
          { name: 'since', in: 'query', schema: time },
          limit,
        ],
        responses: { '200': json(obj({ site: { type: 'string' }, events: { type: 'array', items: ref('Event') } }), 'events, newest first'), ...SITE_AUTHED },
      },
    },
    '/api/sites/{site}/stream': {
      get: {
        operationId: 'stream',
        summary: 'Live changes of a site as Server-Sent Events',
        description:
          'event: readings — {site, readings: [Reading]}, the latest values that changed; event: edge — {site, ...Edge}, an edge whose status changed; ' +
          'event: events — {site, edge, events: [Event]}, events just stored (dedupe on edge+seq: a resent batch can repeat some); ' +
          'event: control — {site, edge, control: ControlState}, an edge whose outputs, zones or switches changed; event: command — {site, command: Command}, an audit row that changed; ' +
          'event: alert — {site, alerts: [Alert]}, the whole active set when it changes; event: announcement — {site, announcement: Announcement|null}. ' +
          'A farmer sees only readings, events, zones, commands and alerts of their own fields. ' +
          'A comment line every 15 s keeps the connection open. Subscribe first, then load /latest, to miss nothing. EventSource cannot send headers: pass ?token=.',
        'x-role': 'viewer',
        security: [{ bearer: [] }, { queryToken: [] }, { session: [] }],
        parameters: [site, { name: 'token', in: 'query', description: 'the bearer token, for EventSource', schema: { type: 'string' } }],
        responses: { '200': { description: 'an endless event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, ...SITE_AUTHED },
      },
    },
    '/api/quarantine': {
      get: {
        operationId: 'quarantine',
        summary: 'Payloads that failed validation, newest first (operator or admin)',
        'x-role': 'operator',
        parameters: [{ name: 'site', in: 'query', schema: id('only this site') }, limit],
        responses: { '200': json(obj({ items: { type: 'array', items: ref('QuarantineItem') } }), 'quarantined payloads'), ...AUTHED },
      },
    },

    '/api/session': {
      post: {
        operationId: 'login',
        summary: 'Log in: sets the sv_session cookie (HttpOnly, SameSite=Strict) and answers the user and its CSRF token',
        description: 'Rate-limited per client address (429 with Retry-After). Unknown user and wrong password give the same 401. The request must be same-origin JSON (else 403 CSRF).',
        security: [],
        requestBody: jsonBody(obj({ username: { type: 'string' }, password: { type: 'string' } })),
        responses: { '200': json(ref('Session'), 'logged in; Set-Cookie: sv_session'), '400': errorRef('BadRequest'), '401': errorRef('Unauthorized'), '403': errorRef('Forbidden'), '429': errorRef('TooManyRequests') },
      },
      get: {
        operationId: 'session',
        summary: 'The logged-in user and the CSRF token of the session',
        'x-role': 'viewer',
        security: SESSION_ONLY,
        responses: { '200': json(ref('Session'), 'the session'), '401': errorRef('Unauthorized') },
      },
      delete: {
        operationId: 'logout',
        summary: 'Log out: ends the session and clears the cookie (needs X-CSRF-Token)',
        'x-role': 'viewer',
        security: SESSION_ONLY,
        responses: { '200': json(obj({ ok: { type: 'boolean', const: true } }), 'logged out'), '401': errorRef('Unauthorized'), '403': errorRef('Forbidden') },
      },
    },
    '/api/session/kiosk': {
      post: {
        operationId: 'kiosk',
        summary: 'Exchange a viewer token for a long-lived read-only kiosk session (the hall screen)',
        description: 'site may be omitted when the cloud serves one site. The session ends when the token is rotated or removed. Rate-limited like login.',
        security: [],
        requestBody: jsonBody({ ...obj({ token: { type: 'string' }, site: id('the site the screen shows') }), required: ['token'] }),
        responses: { '200': json(ref('Session'), 'kiosk session; Set-Cookie: sv_session'), '400': errorRef('BadRequest'), '401': errorRef('Unauthorized'), '403': errorRef('Forbidden'), '404': errorRef('NotFound'), '429': errorRef('TooManyRequests') },
      },
    },
    '/api/sites/{site}/overview': {
      get: {
        operationId: 'overview',
        summary: 'Everything a screen needs in one answer: site, edges, fields with sensors and zones, tanks, weather, rain, outputs, lights, announcement, alerts',
        'x-role': 'viewer',
        parameters: [site],
        responses: { '200': json(ref('Overview'), 'the overview (a farmer: their own fields only)'), ...SITE_AUTHED },
      },
    },
    '/api/sites/{site}/zones/{zone}/explain': {
      get: {
        operationId: 'explain',
        summary: 'Why a zone did what it did: the recent events about it, newest first',
        'x-role': 'viewer',
        parameters: [site, zone, { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: LIMIT_MAX, default: 20 } }],
        responses: { '200': json(obj({ zone: { type: 'string' }, events: { type: 'array', items: ref('Event') } }), 'events with source = zone'), ...SITE_AUTHED },
      },
    },
    '/api/sites/{site}/alerts': {
      get: {
        operationId: 'alerts',
        summary: 'The active alerts of a site',
        'x-role': 'viewer',
        parameters: [site],
        responses: { '200': json(obj({ alerts: { type: 'array', items: ref('Alert') } }), 'active alerts, by id'), ...SITE_AUTHED },
      },
    },
    '/api/sites/{site}/commands': {
      get: {
        operationId: 'commands',
        summary: 'The command audit trail, newest first (a farmer: their own commands)',
        'x-role': 'viewer',
        parameters: [site, limit],
        responses: { '200': json(obj({ commands: { type: 'array', items: ref('Command') } }), 'commands, newest first'), ...SITE_AUTHED },
      },
      post: {
        operationId: 'sendCommand',
        summary: 'Send a command to an edge (operator, admin; a farmer: water or stop a zone of their own fields that allows manual runs)',
        description:
          'The cloud fills id, ts, ttl (60 s) and by, keeps an audit row (status sent) and publishes it on sv/v1/{site}/{edge}/cmd (QoS 1, not retained). ' +
          "edge may be omitted when the zone or lighting group names it, or when one edge runs control. The edge's results move the row to accepted, rejected, done or failed; " +
          'no answer within the ttl makes it expired. 503 BROKER_UNAVAILABLE when it could not be handed to the broker (the row is then failed).',
        'x-role': 'farmer',
        parameters: [site],
        requestBody: jsonBody({ ...obj({ edge: id('edge id'), action: ref('CommandAction') }), required: ['action'] }),
        responses: { '202': json(obj({ command: ref('Command') }), 'sent'), ...ACTING, '503': errorRef('Unavailable') },
      },
    },
    '/api/sites/{site}/announcement': {
      get: {
        operationId: 'announcement',
        summary: 'The announcement shown on the hall screen, or null',
        'x-role': 'viewer',
        parameters: [site],
        responses: { '200': json(nullable(ref('Announcement')), 'the announcement or null'), ...SITE_AUTHED },
      },
      put: {
        operationId: 'setAnnouncement',
        summary: 'Set the announcement (operator, admin); an empty text takes it down',
        'x-role': 'operator',
        parameters: [site],
        requestBody: jsonBody(obj({ text: { type: 'string', maxLength: 500 } })),
        responses: { '200': json(obj({ announcement: nullable(ref('Announcement')) }), 'set (null: cleared)'), ...ACTING },
      },
    },
  },
  components: {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer' },
      queryToken: { type: 'apiKey', in: 'query', name: 'token' },
      session: { type: 'apiKey', in: 'cookie', name: 'sv_session' },
    },
    schemas: {
      Error: obj({
        error: {
          type: 'object',
          properties: {
            code: { type: 'string', enum: Object.keys(API_ERRORS) },
            message: { type: 'string' },
            issues: { type: 'array', items: obj({ path: { type: 'string', description: 'e.g. query.limit' }, message: { type: 'string' } }) },
          },
          required: ['code', 'message'],
          additionalProperties: false,
        },
      }),
      Site: obj({ site: { type: 'string' }, edges: { type: 'integer' }, online: { type: 'integer' } }),
      Edge: obj({
        edge: { type: 'string' },
        state: { type: 'string', enum: ['online', 'offline', 'unknown'], description: 'from the retained status; unknown until one arrived' },
        lastSeen: { type: ['integer', 'null'], description: 'epoch ms of the last message, null if never' },
        contiguousSeq: { type: 'integer', description: 'every seq up to this is stored (what the cloud acknowledges)' },
        maxSeq: { type: 'integer', description: 'highest seq seen' },
        lag: obj({ seqs: { type: 'integer', description: 'maxSeq - contiguousSeq' }, seconds: { type: ['integer', 'null'], description: 'seconds since lastSeen' } }),
      }),
      Sensor: obj({
        sensor: { type: 'string' },
        unit: { type: 'string', enum: UNITS },
        edge: { type: 'string' },
        value: { type: ['number', 'null'] },
        ts: epochMs,
        quality: { type: 'string', enum: QUALITIES },
      }),
      Reading: obj({
        edge: { type: 'string' },
        sensor: { type: 'string' },
        ts: epochMs,
        value: { type: ['number', 'null'], description: 'null when the sensor could not be read (quality error)' },
        unit: { type: 'string', enum: UNITS },
        quality: { type: 'string', enum: QUALITIES },
        clockSynced: { type: 'boolean' },
      }),
      Bucket: obj({ t: { ...epochMs, description: 'bucket start, epoch ms' }, min: { type: 'number' }, avg: { type: 'number' }, max: { type: 'number' }, last: { type: 'number' }, count: { type: 'integer' } }),
      Event: obj({
        edge: { type: 'string' },
        seq: { type: 'integer' },
        ts: epochMs,
        clockSynced: { type: 'boolean' },
        kind: { type: 'string' },
        severity: { type: 'string', enum: SEVERITIES },
        source: { type: 'string' },
        message: { type: 'string' },
        data: { type: 'object', description: 'the inputs behind it' },
      }),
      User: obj({
        name: { type: 'string' },
        role: { type: 'string', enum: [...USER_ROLES, 'kiosk'] },
        site: { type: 'string' },
        fields: { type: ['array', 'null'], items: { type: 'string' }, description: 'a farmer\'s fields; null = every field' },
      }),
      Session: obj({ user: ref('User'), csrf: { type: 'string', description: 'send as X-CSRF-Token on POST/PUT/DELETE' } }),
      CommandAction: {
        description: 'commandActionSchema in shared/src/command.ts; durations are milliseconds or text such as "10m"',
        oneOf: [
          { ...obj({ type: { type: 'string', const: 'water' }, zone: id('zone'), duration: { type: ['integer', 'string'] } }) },
          { ...obj({ type: { type: 'string', const: 'stop' }, zone: id('zone; omitted: every zone') }), required: ['type'] },
          { ...obj({ type: { type: 'string', const: 'pause' }, duration: { type: ['integer', 'string'] } }) },
          { ...obj({ type: { type: 'string', const: 'resume' } }) },
          { ...obj({ type: { type: 'string', const: 'rain-delay' }, duration: { type: ['integer', 'string'] } }) },
          { ...obj({ type: { type: 'string', const: 'rain-delay-clear' } }) },
          { ...obj({ type: { type: 'string', const: 'light' }, group: id('lighting group'), on: { type: 'boolean' }, duration: { type: ['integer', 'string'] } }) },
        ],
      },
      Command: {
        ...obj({
          id: { type: 'string' },
          by: { type: 'string', description: 'user name, or token:{name}' },
          action: ref('CommandAction'),
          edge: { type: 'string' },
          issuedAt: epochMs,
          status: { type: 'string', enum: COMMAND_STATUSES },
          reason: { type: 'string', description: 'why it was rejected or failed' },
          updatedAt: epochMs,
        }),
        required: ['id', 'by', 'action', 'edge', 'issuedAt', 'status', 'updatedAt'],
      },
      Alert: obj({
        id: { type: 'string', description: '{kind}:{source}, stable while the condition lasts' },
        kind: { type: 'string', enum: ALERT_KINDS },
        severity: { type: 'string', enum: ['warning', 'alarm'] },
        source: { type: 'string', description: 'the sensor, zone or edge' },
        message: { type: 'string', description: 'English; word it from kind and data' },
        since: epochMs,
        data: { type: 'object', description: 'the numbers behind it; field when it concerns one field; by for a command' },
      }),
      Announcement: obj({ text: { type: 'string' }, updatedAt: epochMs, by: { type: 'string' } }),
      ZoneState: { type: 'object', description: 'zoneStateSchema in shared/src/command.ts' },
      OutputState: { type: 'object', description: 'outputStateSchema in shared/src/command.ts' },
      ControlState: { type: 'object', description: 'controlStateSchema in shared/src/command.ts: outputs, zones, lights, pausedUntil, rainDelayUntil' },
      Overview: {
        type: 'object',
        properties: {
          site: obj({ id: { type: 'string' }, name: { type: 'string' }, timezone: { type: 'string' }, language: { type: 'string', enum: ['vi', 'en'] }, lat: { type: ['number', 'null'] }, lon: { type: ['number', 'null'] } }),
          edges: { type: 'array', items: obj({ edge: { type: 'string' }, online: { type: 'boolean' }, lastSeen: { type: ['integer', 'null'] } }) },
          fields: {
            type: 'array',
            items: obj({
              id: { type: 'string' },
              name: { type: 'string' },
              sensors: {
                type: 'array',
                items: obj({
                  id: { type: 'string' },
                  name: { type: 'string' },
                  quantity: { type: ['string', 'null'], enum: [...QUANTITY_NAMES, null] },
                  unit: { type: 'string', enum: UNITS },
                  value: { type: ['number', 'null'] },
                  ts: { type: ['integer', 'null'] },
                  quality: { type: ['string', 'null'], enum: [...QUALITIES, null] },
                }),
              },
              zones: { type: 'array', items: ref('ZoneState') },
            }),
          },
          tanks: { type: 'array', items: obj({ sensor: { type: 'string' }, name: { type: 'string' }, value: { type: ['number', 'null'] }, unit: { type: 'string' }, ts: { type: ['integer', 'null'] } }) },
          weather: { type: 'object', description: 'quantity -> {value, unit, ts}', additionalProperties: obj({ value: { type: ['number', 'null'] }, unit: { type: 'string' }, ts: epochMs }) },
          rain24hMm: { type: ['number', 'null'] },
          outputs: { type: 'array', items: ref('OutputState') },
          lights: { type: 'array', items: { type: 'object' } },
          pausedUntil: epochMs,
          rainDelayUntil: epochMs,
          announcement: nullable(ref('Announcement')),
          alerts: { type: 'array', items: ref('Alert') },
          updatedAt: epochMs,
        },
        required: ['site', 'edges', 'fields', 'tanks', 'weather', 'rain24hMm', 'outputs', 'lights', 'announcement', 'alerts', 'updatedAt'],
        additionalProperties: false,
      },
      QuarantineItem: {
        type: 'object',
        properties: {
          id: { type: 'integer' },
          at: epochMs,
          site: { type: 'string' },
          edge: { type: 'string' },
          topic: { type: 'string' },
          reason: { type: 'string' },
          payload: { type: 'string', format: 'byte', description: 'the raw payload, base64' },
        },
        required: ['id', 'at', 'topic', 'reason', 'payload'],
        additionalProperties: false,
      },
    },
    responses: {
      BadRequest: json(ref('Error'), 'BAD_REQUEST: a parameter or body field is missing, malformed or unknown; issues name each'),
      Unauthorized: json(ref('Error'), 'UNAUTHORIZED: no token or session, an unknown token, an ended session, or wrong login'),
      Forbidden: json(ref('Error'), "FORBIDDEN: the caller's role, site or fields do not allow this; CSRF: a cookie request without its X-CSRF-Token, JSON body or same origin"),
      NotFound: json(ref('Error'), 'NOT_FOUND: no such site, edge or sensor'),
      PayloadTooLarge: json(ref('Error'), 'PAYLOAD_TOO_LARGE: the body is over 64 KiB'),
      TooManyRequests: json(ref('Error'), 'TOO_MANY_REQUESTS: too many login attempts from this address; see Retry-After'),
      Unavailable: json(ref('Error'), 'BROKER_UNAVAILABLE: the command could not be handed to the broker'),
    },
  },
};
