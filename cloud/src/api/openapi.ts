import { UNITS, QUALITIES, SEVERITIES } from '@smart-village/shared';
import { API_ERRORS } from './errors.js';
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
  responses: Record<string, OpenApiResponse>;
  'x-role'?: 'viewer' | 'operator' | 'admin';
}

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description?: string };
  servers?: { url: string }[];
  security: Record<string, string[]>[];
  paths: Record<string, { get?: OpenApiOperation }>;
  components: {
    schemas: Record<string, JsonSchema>;
    securitySchemes: Record<string, { type: 'http'; scheme: 'bearer' } | { type: 'apiKey'; in: 'query'; name: string }>;
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

const site: OpenApiParameter = { name: 'site', in: 'path', required: true, schema: id('site id') };
const sensor: OpenApiParameter = { name: 'sensor', in: 'path', required: true, schema: id('sensor id') };
const edgeFilter: OpenApiParameter = { name: 'edge', in: 'query', description: 'only this edge (404 if the site has no such edge)', schema: id('edge id') };
const limit: OpenApiParameter = { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: LIMIT_MAX, default: LIMIT_DEFAULT } };

/** The errors every authenticated route can answer. */
const AUTHED = { '400': errorRef('BadRequest'), '401': errorRef('Unauthorized'), '403': errorRef('Forbidden') };
const SITE_AUTHED = { ...AUTHED, '404': errorRef('NotFound') };

export const OPENAPI: OpenApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'smart-village cloud API',
    version: '1',
    description:
      'Read access to what the village edges reported: sites, edges and their sync progress, sensors, latest values, history, events, quarantine, and a live event stream. ' +
      'Every route except /api/health needs `Authorization: Bearer <token>` (tokens: `village-cloud token add`). Roles: viewer (read), operator (also quarantine), admin. ' +
      'Unknown query parameters are refused (400). Times are epoch milliseconds.',
  },
  security: [{ bearer: [] }],
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
          'event: events — {site, edge, events: [Event]}, events just stored (dedupe on edge+seq: a resent batch can repeat some). ' +
          'A comment line every 15 s keeps the connection open. Subscribe first, then load /latest, to miss nothing. EventSource cannot send headers: pass ?token=.',
        'x-role': 'viewer',
        security: [{ bearer: [] }, { queryToken: [] }],
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
  },
  components: {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer' },
      queryToken: { type: 'apiKey', in: 'query', name: 'token' },
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
      BadRequest: json(ref('Error'), 'BAD_REQUEST: a parameter is missing, malformed or unknown; issues name each'),
      Unauthorized: json(ref('Error'), 'UNAUTHORIZED: no token, or an unknown one'),
      Forbidden: json(ref('Error'), "FORBIDDEN: the token's role may not do this"),
      NotFound: json(ref('Error'), 'NOT_FOUND: no such site, edge or sensor'),
    },
  },
};
