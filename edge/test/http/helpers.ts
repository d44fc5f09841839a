/**
 * What the web app tests share: a demo-like simulated village with the local page on a free
 * port, a small HTTP client that keeps the session cookie and CSRF value like the browser app
 * does, and a Server-Sent Events reader on node:http.
 */
import { request } from 'node:http';

/**
 * The demo village, shortened for tests: devices read every second, two fields with a valve each
 * (ruong-1 open to its farmer, ruong-2 not), a pump on the tank, street lights, a rain gauge.
 * No program and no moisture-driven watering, so only the tests open valves.
 */
export const VILLAGE = `
version: 1
site: { id: my-hoa, name: "Ấp Mỹ Hòa", timezone: Asia/Ho_Chi_Minh, lat: 10.03, lon: 105.78, language: vi }
edge: { id: pi-ruong-1, gpio: { driver: simulated }, http: { port: 0 } }
buses:
  - { id: rs485-1, type: simulated, baud: 19200, timeout: 500ms }
  - { id: rs485-2, type: simulated, baud: 19200, timeout: 500ms }
devices:
  - { id: soil-1, bus: rs485-1, profile: soil-th-ec-rs485, slave: 1, interval: 1s, stagger: 0 }
  - { id: soil-2, bus: rs485-1, profile: soil-th-ec-rs485, slave: 2, interval: 1s, stagger: 0 }
  - { id: rain, bus: rs485-1, profile: rain-gauge-rs485, slave: 10, interval: 1s, stagger: 0 }
  - id: tank
    bus: rs485-2
    profile: level-ultrasonic-dyp-a02
    slave: 1
    interval: 1s
    stagger: 0
    overrides:
      level: { quantity: water-fill, scale: -0.05, offset: 100, max: 100 }
  - { id: weather, bus: rs485-2, profile: weather-station-rs485, slave: 2, interval: 1s, stagger: 0 }
sensors:
  - { id: ruong-1-do-am, source: soil-1/moisture, name: "Ruộng 1 — độ ẩm đất", field: ruong-1 }
  - { id: ruong-2-do-am, source: soil-2/moisture, name: "Ruộng 2 — độ ẩm đất", field: ruong-2 }
  - { id: bon-nuoc-muc, source: tank/level, name: "Bồn nước — mực nước" }
actuators:
  - { id: van-ruong-1, kind: valve, name: "Van ruộng 1", output: { driver: gpio, pin: 5 }, activeLow: true, field: ruong-1, maxRuntime: 45m }
  - { id: van-ruong-2, kind: valve, name: "Van ruộng 2", output: { driver: gpio, pin: 6 }, activeLow: true, field: ruong-2, maxRuntime: 45m }
  - { id: bom, kind: pump, name: "Bơm bồn nước", output: { driver: gpio, pin: 19 }, activeLow: true, maxRuntime: 2h }
  - { id: den-duong-1, kind: light, name: "Đèn đường 1", output: { driver: gpio, pin: 20 }, activeLow: true }
zones:
  - { id: ruong-1, name: "Ruộng 1", field: ruong-1, valve: van-ruong-1, pump: bom, tank: bon-nuoc-muc, flowLpm: 20 }
  - id: ruong-2
    name: "Ruộng 2"
    field: ruong-2
    valve: van-ruong-2
    manualAllowed: false
    # Limits the app colours the moisture band with; far below any simulated soil, so it never waters.
    moisture: { sensor: ruong-2-do-am, start: 1, target: 2 }
irrigation:
  rain: { gaugeSensor: rain-rain-total }
lighting:
  - { id: den-duong, name: "Đèn đường", lights: [den-duong-1] }
store: { commitInterval: 200ms }
simulation: { seed: 7 }
`;

export interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

/** One browser: the session cookie it was given, the CSRF value, and its Origin. */
export class Browser {
  cookie: string | undefined;
  csrf: string | undefined;

  constructor(readonly base: string) {}

  async call(method: string, path: string, body?: unknown, extra: Record<string, string> = {}): Promise<Answer> {
    const headers: Record<string, string> = { accept: 'application/json', ...(this.cookie && { cookie: this.cookie }) };
    if (method !== 'GET') {
      headers.origin = this.base;
      headers['content-type'] = 'application/json';
      if (this.csrf) headers['x-csrf-token'] = this.csrf;
    }
    const res = await fetch(this.base + path, { method, headers: { ...headers, ...extra }, ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
    const setCookie = res.headers.get('set-cookie');
    if (setCookie) {
      const value = /^sv_session=([^;]*)/.exec(setCookie)?.[1] ?? '';
      this.cookie = value === '' ? undefined : `sv_session=${value}`;
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  }

  get(path: string, extra?: Record<string, string>): Promise<Answer> {
    return this.call('GET', path, undefined, extra);
  }

  async login(username: string, password: string): Promise<Answer> {
    const a = await this.call('POST', '/api/session', { username, password });
    if (a.status === 200) this.csrf = (a.body as { csrf: string }).csrf;
    return a;
  }

  async kiosk(token: string): Promise<Answer> {
    const a = await this.call('POST', '/api/session/kiosk', { token });
    if (a.status === 200) this.csrf = (a.body as { csrf: string }).csrf;
    return a;
  }
}

export interface SseEvent {
  event: string;
  data: unknown;
}

export interface Stream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  events: SseEvent[];
  /** Resolves with the first event (of that name, matching `where`) received from now or already held and not yet taken. */
  next(name: string, where?: (data: unknown) => boolean, withinMs?: number): Promise<SseEvent>;
  ended: Promise<void>;
  close(): void;
}

/** Opens an event stream and parses it as WHATWG HTML §9.2.6 says: fields per line, events end at a blank line. */
export function openStream(url: string, headers: Record<string, string> = {}): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const events: SseEvent[] = [];
      const taken = new Set<SseEvent>();
      const wakers = new Set<() => void>();
      let pending = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        pending += chunk;
        let end: number;
        while ((end = pending.indexOf('\n\n')) >= 0) {
          const block = pending.slice(0, end);
          pending = pending.slice(end + 2);
          const name = /^event: (.*)$/m.exec(block)?.[1];
          const data = block
            .split('\n')
            .filter((l) => l.startsWith('data: '))
            .map((l) => l.slice(6));
          if (name !== undefined && data.length > 0) events.push({ event: name, data: JSON.parse(data.join('\n')) as unknown });
        }
        for (const wake of wakers) wake();
      });
      const ended = new Promise<void>((done) => res.on('close', () => done()));
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        ended,
        next(name, where = () => true, withinMs = 8000) {
          return new Promise((ok, fail) => {
            const look = (): boolean => {
              const found = events.find((e) => !taken.has(e) && e.event === name && where(e.data));
              if (!found) return false;
              taken.add(found);
              wakers.delete(look);
              clearTimeout(timer);
              ok(found);
              return true;
            };
            const timer = setTimeout(() => {
              wakers.delete(look);
              fail(new Error(`no "${name}" event within ${withinMs} ms (got: ${events.map((e) => e.event).join(', ') || 'none'})`));
            }, withinMs);
            if (!look()) wakers.add(look);
          });
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Polls `done` until it holds; throws naming `what` after `withinMs`. */
export async function until(what: string, done: () => boolean | Promise<boolean>, withinMs = 10_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${withinMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
