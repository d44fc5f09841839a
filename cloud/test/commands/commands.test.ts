import { connectAsync, type MqttClient } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commandSchema, topic, type Command, type EdgeState } from '@smart-village/shared';
import { addEdge } from '../../src/app.js';
import { addUser } from '../../src/auth/users.js';
import { call, login } from '../api/fixture.js';
import { openSse, type SseClient } from '../api/sse.js';
import { connectEdge, publishState, startCloud, until, type TestCloud } from '../helpers/cloud.js';

const EDGE = 'village-a/pump-house';
const CMD = topic('village-a', 'pump-house', 'cmd');
const RESULT = topic('village-a', 'pump-house', 'cmd-result');

function state(ts: number): EdgeState {
  return {
    ts,
    readings: [],
    control: {
      outputs: [{ id: 'valve-1', kind: 'valve', on: false }],
      zones: [{ id: 'zone-1', field: 'ruong-lan', state: 'idle', manualAllowed: true }],
      lights: [],
    },
    meta: { site: { name: 'Thôn Đông', timezone: 'Asia/Ho_Chi_Minh', language: 'vi', lat: 21, lon: 105.8 }, sensors: [] },
  };
}

let cloud: TestCloud;
let edge: MqttClient;
let sse: SseClient;
/** Commands as the edge received them, with the packet's retain flag and QoS. */
const received: { command: Command; retain: boolean; qos: number }[] = [];

beforeEach(async () => {
  received.length = 0;
  cloud = await startCloud({ edges: [EDGE], options: { commandTtlMs: 30_000 } });
  await addUser(cloud.app.store, { name: 'lan', role: 'farmer', site: 'village-a', fields: ['ruong-lan'] }, 'lan-password', cloud.clock.t);
  edge = await connectEdge(cloud, EDGE);
  edge.on('message', (t, payload, packet) => {
    if (t === CMD) received.push({ command: commandSchema.parse(JSON.parse(payload.toString('utf8'))), retain: packet.retain, qos: packet.qos });
  });
  await edge.subscribeAsync(CMD, { qos: 1 });
  sse = await openSse(`${cloud.base}/api/sites/village-a/stream?token=${cloud.viewer}`);
  await publishState(edge, EDGE, state(cloud.clock.t));
  expect((await sse.next('control')).data).toMatchObject({ site: 'village-a', edge: 'pump-house', control: { zones: [{ id: 'zone-1' }] } });
});
afterEach(async () => {
  sse?.close();
  await edge?.endAsync(true).catch(() => undefined);
  await cloud?.close();
});

const result = (id: string, status: string, reason?: string) => edge.publishAsync(RESULT, JSON.stringify({ id, status, ts: Date.now(), ...(reason && { reason }) }), { qos: 1 });

describe('commands end to end, through the embedded broker', () => {
  it('the edge receives the command once (QoS 1, not retained); its results update the audit row and the stream', async () => {
    const r = await call(cloud.base, '/api/sites/village-a/commands', { token: cloud.operator, body: { action: { type: 'water', zone: 'zone-1', duration: '5m' } } });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const id = (r.body as { command: { id: string } }).command.id;
    expect((await sse.next('command')).data).toMatchObject({ site: 'village-a', command: { id, status: 'sent', edge: 'pump-house' } });

    await until('the edge has the command', () => received.length === 1);
    expect(received[0]).toEqual({
      command: { id, ts: cloud.clock.t, ttl: 30_000, by: expect.stringMatching(/^token:technician-/), action: { type: 'water', zone: 'zone-1', duration: 300_000 } },
      retain: false,
      qos: 1,
    });

    await result(id, 'accepted');
    expect((await sse.next('command')).data).toMatchObject({ command: { id, status: 'accepted' } });
    await result(id, 'done');
    expect((await sse.next('command')).data).toMatchObject({ command: { id, status: 'done' } });
    // A repeat changes nothing and is not pushed again.
    await result(id, 'accepted');
    const trail = await call(cloud.base, '/api/sites/village-a/commands', { token: cloud.viewer });
    expect((trail.body as { commands: unknown[] }).commands).toEqual([
      { id, by: expect.stringMatching(/^token:technician-/), action: { type: 'water', zone: 'zone-1', duration: 300_000 }, edge: 'pump-house', issuedAt: cloud.clock.t, status: 'done', updatedAt: cloud.clock.t },
    ]);

    // Not retained: an edge that subscribes later gets nothing.
    const late = await connectEdge(cloud, EDGE, 'late');
    const lateGot: string[] = [];
    late.on('message', (t) => lateGot.push(t));
    await late.subscribeAsync(CMD, { qos: 1 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(lateGot).toEqual([]);
    await late.endAsync(true);
    expect(received).toHaveLength(1);
    expect(cloud.app.broker?.stats().publishDenied).toBe(0);
  });

  it('a rejection carries the reason into the row and a command-failed alert', async () => {
    const r = await call(cloud.base, '/api/sites/village-a/commands', { token: cloud.operator, body: { action: { type: 'water', zone: 'zone-1', duration: 60_000 } } });
    const id = (r.body as { command: { id: string } }).command.id;
    await until('the edge has the command', () => received.length === 1);
    await result(id, 'rejected', 'tank below 15 %: bon-nuoc is at 9 %');
    await sse.next('command');
    expect((await sse.next('command')).data).toMatchObject({ command: { id, status: 'rejected', reason: 'tank below 15 %: bon-nuoc is at 9 %' } });
    const alerts = (await call(cloud.base, '/api/sites/village-a/alerts', { token: cloud.viewer })).body as { alerts: { kind: string; source: string; data: Record<string, unknown> }[] };
    expect(alerts.alerts).toContainEqual(expect.objectContaining({ id: `command-failed:${id}`, kind: 'command-failed', source: 'zone-1', data: expect.objectContaining({ status: 'rejected', reason: 'tank below 15 %: bon-nuoc is at 9 %' }) }));
  });

  it('a command with no answer within its ttl becomes expired (pushed on the stream); a late answer still counts', async () => {
    const r = await call(cloud.base, '/api/sites/village-a/commands', { token: cloud.operator, body: { action: { type: 'stop', zone: 'zone-1' } } });
    const id = (r.body as { command: { id: string } }).command.id;
    await sse.next('command');
    const api = cloud.app.api?.api;
    if (!api) throw new Error('no api');
    cloud.clock.t += 29_999;
    await api.sweepCommands();
    expect((await cloud.app.store.listCommands('village-a', { limit: 1 }))[0]?.status).toBe('sent');
    cloud.clock.t += 1;
    await api.sweepCommands();
    expect((await sse.next('command')).data).toMatchObject({ command: { id, status: 'expired', updatedAt: cloud.clock.t } });
    expect((await call(cloud.base, '/api/sites/village-a/alerts', { token: cloud.viewer })).body).toMatchObject({ alerts: [{ id: `command-failed:${id}`, data: { status: 'expired' } }] });
    await result(id, 'done');
    expect((await sse.next('command')).data).toMatchObject({ command: { id, status: 'done' } });
  });

  it('a farmer waters their zone from the web app (cookie + CSRF); the edge sees who asked', async () => {
    const lan = await login(cloud.base, 'lan');
    const r = await call(cloud.base, '/api/sites/village-a/commands', { session: lan, body: { action: { type: 'water', zone: 'zone-1', duration: '10m' } }, headers: { origin: cloud.base } });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    await until('the edge has the command', () => received.length === 1);
    expect(received[0]?.command).toMatchObject({ by: 'lan', action: { type: 'water', zone: 'zone-1', duration: 600_000 } });
    // Without the CSRF header nothing is sent.
    const forged = await call(cloud.base, '/api/sites/village-a/commands', { session: lan, csrf: null, body: { action: { type: 'water', zone: 'zone-1', duration: '10m' } } });
    expect(forged.status).toBe(403);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(received).toHaveLength(1);
  });

  it('results from another edge, unknown ids and malformed results change nothing (the malformed one is quarantined)', async () => {
    const r = await call(cloud.base, '/api/sites/village-a/commands', { token: cloud.operator, body: { action: { type: 'resume' } } });
    const id = (r.body as { command: { id: string } }).command.id;
    // Another edge of the site answering for it (a bug or a forgery) does not move it.
    const otherSecret = await addEdge(cloud.app.store, 'village-a', 'field-north', cloud.clock.t);
    const other = await connectAsync(cloud.mqttUrl, { username: 'village-a/field-north', password: otherSecret, clientId: 'village-a/field-north', reconnectPeriod: 0 });
    await other.publishAsync(topic('village-a', 'field-north', 'cmd-result'), JSON.stringify({ id, status: 'done', ts: Date.now() }), { qos: 1 });
    await other.endAsync();
    await result('local-cli-1', 'done');
    await edge.publishAsync(RESULT, '{"id": 5}', { qos: 1 });
    await until('quarantined', async () => (await cloud.app.store.listQuarantine(10, 'village-a')).length === 1);
    await until('both results handled', () => (cloud.app.ingest?.stats().results ?? 0) >= 2);
    expect((await cloud.app.store.listQuarantine(10, 'village-a'))[0]?.reason).toMatch(/^invalid command result: id: /);
    expect((await cloud.app.store.listCommands('village-a', { limit: 5 })).map((c) => [c.id, c.status])).toEqual([[id, 'sent']]);
  });
});
