#!/usr/bin/env node
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { VillageError, toVillageError } from '@smart-village/shared';
import { EdgeApp, OUTBOX_FILE, SNAPSHOT_FILE, type EdgeSnapshot } from './app.js';
import { systemClock } from './clock.js';
import { loadConfigFile, type EdgeConfig } from './config.js';
import { createLogger } from './log.js';
import { ModbusSerialLink, describe } from './modbus/link.js';
import { planReads, decodeResponse } from './modbus/registers.js';
import { createSimulatedField } from './sim/devices.js';
import { SqliteOutbox } from './store/sqlite-outbox.js';
import { systemClockSynced } from './timesync.js';
import { parseDuration, type CommandAction, type CommandResult } from '@smart-village/shared';
import { applySafeStates, formatSafeStateReport } from './outputs/safe-state.js';
import { CONTROL_FILE, SqliteControlStore, runsToCsv } from './control/store.js';
import { SiteCalendar } from './control/calendar.js';
import { readLocalToken } from './http/local-token.js';
import { addToken, addUser, generatePassword } from './http/accounts.js';
import { siteView } from './http/site.js';
import { TOKEN_ROLES, USER_ROLES, WEB_FILE, WebStore, type TokenRole, type UserRole } from './http/web-store.js';

const USAGE = `village-edge — the smart-village edge service

usage:
  village-edge run --config FILE [--data-dir DIR]     run the service
  village-edge demo [--data-dir DIR] [--config FILE]  run the simulated demo village
  village-edge check-config FILE                      validate a site config (exit 1 if bad)
  village-edge scan --port PATH [--baud N] [--parity none|even|odd] [--from 1] [--to 247] [--timeout MS]
                                                      find the slave ids answering on an RS-485 bus
  village-edge read --config FILE --device ID         read one device once: values and raw registers
  village-edge status --config FILE [--data-dir DIR]  device health, outbox depth, last readings, zones

local control (sent to the running service):
  village-edge water --config FILE --zone ID --for 10m   water a zone now for a while
  village-edge stop --config FILE [--zone ID]            stop one zone, or all
  village-edge pause --config FILE --for 2h | resume     pause all irrigation / resume
  village-edge rain-delay --config FILE --for 2d | --clear
  village-edge light --config FILE --group ID --on|--off --for 1h
  village-edge explain --config FILE --zone ID [--limit 20]   why a zone did or did not water
  village-edge log --config FILE [--zone ID] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--csv]
                                                      the irrigation log (CSV for farm records)
  village-edge safe-outputs --config FILE             put every output in its safe state (systemd ExecStopPost)

the web app on the village LAN (accounts kept in DIR/web.sqlite; no internet needed):
  village-edge user add NAME --config FILE --role admin|operator|farmer|viewer [--fields a,b] [--password-file F]
                                                      add a user; prints a generated password once without --password-file
  village-edge user list | user remove NAME           list users / remove one (their sessions end)
  village-edge token add --role viewer [--name hall-screen] [--config FILE]
                                                      a token for the hall screen (hall#token=…), printed once
  village-edge token list | token remove NAME

DIR defaults to $VILLAGE_DATA_DIR or ./data.`;

export const DEMO_CONFIG = fileURLToPath(new URL('../../examples/demo-village.yaml', import.meta.url));

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      'data-dir': { type: 'string' },
      device: { type: 'string' },
      port: { type: 'string' },
      baud: { type: 'string' },
      parity: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      timeout: { type: 'string' },
      zone: { type: 'string' },
      group: { type: 'string' },
      for: { type: 'string' },
      on: { type: 'boolean' },
      off: { type: 'boolean' },
      clear: { type: 'boolean' },
      limit: { type: 'string' },
      csv: { type: 'boolean' },
      role: { type: 'string' },
      fields: { type: 'string' },
      'password-file': { type: 'string' },
      name: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const dataDir = resolve(values['data-dir'] ?? process.env.VILLAGE_DATA_DIR ?? 'data');
  switch (command) {
    case 'run':
      return runService(loadConfigFile(need(values.config, '--config FILE')), dataDir, false);
    case 'demo':
      return runService(withCloudFromEnv(loadConfigFile(values.config ?? DEMO_CONFIG)), dataDir, true);
    case 'check-config': {
      const file = need(positionals[0] ?? values.config, 'FILE');
      const cfg = loadConfigFile(file);
      const points = cfg.modbus.reduce((n, d) => n + d.points.length, 0);
      console.log(`${file}: ok — site ${cfg.site.site.id}, edge ${cfg.site.edge.id}, ${cfg.site.buses.length} buses, ${cfg.modbus.length} Modbus devices (${points} points), ${cfg.gpio.length} GPIO inputs`);
      return 0;
    }
    case 'scan':
      return scan(need(values.port, '--port PATH'), Number(values.baud ?? 9600), (values.parity ?? 'none') as 'none', Number(values.from ?? 1), Number(values.to ?? 247), Number(values.timeout ?? 200));
    case 'read':
      return readOnce(loadConfigFile(need(values.config, '--config FILE')), need(values.device, '--device ID'));
    case 'status':
      return status(loadConfigFile(need(values.config, '--config FILE')), dataDir);
    case 'water':
      return sendCommand(dataDir, { type: 'water', zone: need(values.zone, '--zone ID'), duration: durationArg(values.for) });
    case 'stop':
      return sendCommand(dataDir, { type: 'stop', ...(values.zone !== undefined && { zone: values.zone }) });
    case 'pause':
      return sendCommand(dataDir, { type: 'pause', duration: durationArg(values.for) });
    case 'resume':
      return sendCommand(dataDir, { type: 'resume' });
    case 'rain-delay':
      return sendCommand(dataDir, values.clear ? { type: 'rain-delay-clear' } : { type: 'rain-delay', duration: durationArg(values.for) });
    case 'light':
      if (values.on === values.off) throw new VillageError('CONFIG_INVALID', 'give --on or --off');
      return sendCommand(dataDir, { type: 'light', group: need(values.group, '--group ID'), on: values.on === true, duration: durationArg(values.for) });
    case 'explain':
      return explain(loadConfigFile(need(values.config, '--config FILE')), dataDir, need(values.zone, '--zone ID'), Number(values.limit ?? 20));
    case 'log':
      return irrigationLog(loadConfigFile(need(values.config, '--config FILE')), dataDir, values);
    case 'user':
      return userCommand(dataDir, positionals, values);
    case 'token':
      return tokenCommand(dataDir, positionals, values);
    case 'safe-outputs': {
      const cfg = loadConfigFile(need(values.config, '--config FILE'));
      const results = await applySafeStates(cfg, { clock: systemClock, log: createLogger({ level: 'warn' }) });
      console.log(formatSafeStateReport(results));
      return results.some((r) => r.status === 'failed') ? 1 : 0;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return 0;
    default:
      console.error(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

/** `pnpm demo` points the demo edge at the demo cloud through VILLAGE_CLOUD_URL. */
function withCloudFromEnv(config: EdgeConfig): EdgeConfig {
  const url = process.env.VILLAGE_CLOUD_URL;
  if (!url || config.site.cloud) return config;
  return { ...config, site: { ...config.site, cloud: { url, bytesPerSecond: 0, batchRows: 500, ackTimeout: 20_000 } } };
}

function need(v: string | undefined, what: string): string {
  if (!v) throw new VillageError('CONFIG_INVALID', `missing ${what}\n\n${USAGE}`);
  return v;
}

async function runService(config: EdgeConfig, dataDir: string, demo: boolean): Promise<number> {
  const log = createLogger();
  const clock = systemClock;
  const simulated = demo || config.site.buses.some((b) => b.type === 'simulated') || config.site.edge.gpio.driver === 'simulated';
  const field = simulated ? createSimulatedField(config, clock, log.child({ module: 'sim' })) : undefined;
  const app = new EdgeApp({ config, clock, log, dataDir, ...(field ? { field } : {}), clockSynced: demo ? () => true : systemClockSynced() });
  let stopping: Promise<void> | undefined;
  const stop = (why: string, code: number): void => {
    if (stopping) return;
    log.info({ why }, 'stopping');
    stopping = app.stop().finally(() => process.exit(code));
  };
  process.on('SIGTERM', () => stop('SIGTERM', 0));
  process.on('SIGINT', () => stop('SIGINT', 0));
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught error');
    stop('uncaught error', 1);
  });
  process.on('unhandledRejection', (err) => {
    log.fatal({ err }, 'unhandled rejection');
    stop('unhandled rejection', 1);
  });
  await app.start();
  if (demo) {
    log.info(
      { config: config.file, dataDir },
      `demo village running — in another terminal: pnpm edge status --config ${config.file ?? DEMO_CONFIG} --data-dir ${dataDir}`,
    );
  }
  return new Promise<number>(() => {
    /* runs until a signal */
  });
}

async function scan(port: string, baud: number, parity: 'none' | 'even' | 'odd', from: number, to: number, timeout: number): Promise<number> {
  const bus = { type: 'rtu' as const, id: 'scan', port, baud, parity, dataBits: 8 as const, stopBits: 1 as const, timeout, retries: 0, coalesceGap: 0, queueLimit: 1, backoffMin: 0, backoffMax: 0 };
  const link = new ModbusSerialLink(bus);
  await link.open();
  console.log(`scanning ${describe(bus)}, slave ids ${from}-${to}, ${timeout} ms each`);
  const found: number[] = [];
  for (let id = from; id <= to; id++) {
    try {
      await link.read(id, 'holding', 0, 1, timeout);
      found.push(id);
      console.log(`  slave ${id}: answers`);
    } catch (err) {
      const e = toVillageError(err);
      // An exception is still an answer: someone is at that address.
      if (e.code === 'MODBUS_EXCEPTION') {
        found.push(id);
        console.log(`  slave ${id}: answers (exception ${String(e.details.exception)} for holding 0)`);
      } else if (e.code === 'PORT_UNAVAILABLE') {
        throw e;
      }
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await link.close();
  console.log(found.length ? `found ${found.length}: ${found.join(', ')}` : 'no slave answered (check A/B wiring, baud rate and parity)');
  return found.length ? 0 : 1;
}

async function readOnce(config: EdgeConfig, deviceId: string): Promise<number> {
  const dev = config.modbus.find((d) => d.config.id === deviceId);
  if (!dev) {
    console.error(`no Modbus device "${deviceId}" in the config (devices: ${config.modbus.map((d) => d.config.id).join(', ')})`);
    return 1;
  }
  const field = dev.bus.type === 'simulated' ? createSimulatedField(config, systemClock, createLogger({ level: 'warn' })) : undefined;
  field?.start();
  const link = new ModbusSerialLink(dev.bus, field ? () => field.portFor(dev.bus.id) : undefined);
  await link.open();
  let failed = 0;
  console.log(`${dev.config.id}: slave ${dev.config.slave} on ${describe(dev.bus)}`);
  for (const req of planReads(dev.points, dev.bus.coalesceGap)) {
    const fc = { holding: 3, input: 4, coil: 1, discrete: 2 }[req.table];
    try {
      const data = await link.read(dev.config.slave, req.table, req.address, req.length, dev.bus.timeout);
      console.log(`  FC${fc} ${req.table} ${req.address}+${req.length}: [${data.map(hex).join(' ')}]`);
      for (const v of decodeResponse(req, data)) {
        const p = dev.points.find((x) => x.name === v.point);
        console.log(`    ${v.point.padEnd(14)} ${String(v.value).padStart(10)} ${v.unit.padEnd(6)} ${v.quality.padEnd(12)} raw [${v.raw.map(hex).join(' ')}] ${p?.type} ${p?.order} x${p?.scale}${p?.offset ? ` +${p.offset}` : ''}`);
      }
    } catch (err) {
      failed++;
      const e = toVillageError(err);
      console.log(`  FC${fc} ${req.table} ${req.address}+${req.length}: ${e.code} ${e.message}`);
    }
  }
  await link.close();
  field?.stop();
  return failed ? 1 : 0;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(4, '0')}`;
}

async function status(config: EdgeConfig, dataDir: string): Promise<number> {
  const dbFile = join(dataDir, OUTBOX_FILE);
  if (!existsSync(dbFile)) {
    console.error(`no outbox at ${dbFile}: is the edge running with --data-dir ${dataDir}?`);
    return 1;
  }
  let snap: EdgeSnapshot | undefined;
  try {
    snap = JSON.parse(readFileSync(join(dataDir, SNAPSHOT_FILE), 'utf8')) as EdgeSnapshot;
  } catch {
    snap = undefined;
  }
  const log = createLogger({ level: 'warn' });
  const outbox = new SqliteOutbox({ path: dbFile, clock: systemClock, log, readonly: true });
  const stats = outbox.stats();
  const latest = outbox.latest();
  const events = outbox.recentEvents(200);
  outbox.stop();
  const age = (ts: number): string => {
    const s = Math.round((Date.now() - ts) / 1000);
    return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
  };
  console.log(`site ${config.site.site.id} (${config.site.site.name}), edge ${config.site.edge.id}`);
  if (snap) console.log(`service: snapshot ${age(snap.at)}, up since ${new Date(snap.startedAt).toISOString()}`);
  else console.log('service: no snapshot (not running?)');
  console.log(`outbox: ${stats.depth} unsent of ${stats.lastSeq} committed (acked up to ${stats.ackedSeq}), ${(stats.bytes / 1024).toFixed(0)} KiB on disk, ${stats.droppedUnsent} dropped unsent`);
  console.log('\ndevices:');
  for (const d of config.modbus) {
    const live = snap?.devices.find((x) => x.id === d.config.id);
    const lastEvent = events.find((e) => e.source === d.config.id && e.kind.startsWith('device.'));
    const health = live?.health ?? lastEvent?.kind.slice('device.'.length) ?? 'unknown';
    const extra = live ? `requests ${live.requests}, failures ${live.failures}${live.lastError ? `, last error: ${live.lastError}` : ''}` : '';
    console.log(`  ${d.config.id.padEnd(12)} ${health.padEnd(8)} slave ${String(d.config.slave).padEnd(3)} ${d.bus.id.padEnd(10)} ${extra}`);
  }
  for (const g of config.gpio) console.log(`  ${g.id.padEnd(12)} gpio     GPIO${g.pin} ${g.mode}`);
  if (snap) {
    console.log('\nbuses:');
    for (const b of snap.buses) console.log(`  ${b.id.padEnd(10)} ${b.open ? 'open  ' : 'closed'} ${b.describe}, queue ${b.depth}, served ${b.served}, dropped ${b.dropped}, reconnects ${b.reconnects}`);
  }
  if (snap?.control) {
    const local = localTimeFormatter(config);
    console.log('\nzones:');
    for (const z of snap.control.zones) console.log(`  ${z.id.padEnd(12)} ${z.state.padEnd(8)} ${z.reason ?? ''}${z.until ? ` until ${local(z.until)}` : ''}${z.next ? `; next ${local(z.next.at)} (${z.next.program})` : ''}`);
    console.log('outputs:');
    for (const o of snap.control.outputs) console.log(`  ${o.id.padEnd(12)} ${o.on ? 'ON ' : 'off'} ${o.kind.padEnd(12)} ${o.fault ? `FAULT: ${o.fault}` : (o.reason ?? '')}`);
  }
  console.log('\nlast readings:');
  for (const r of latest.sort((a, b) => a.sensor.localeCompare(b.sensor))) {
    console.log(`  ${r.sensor.padEnd(24)} ${String(r.value ?? '—').padStart(10)} ${r.unit.padEnd(6)} ${r.quality.padEnd(12)} ${age(r.ts)}`);
  }
  return 0;
}

function durationArg(text: string | undefined): number {
  const ms = text === undefined ? undefined : parseDuration(text);
  if (ms === undefined) throw new VillageError('CONFIG_INVALID', `give --for with a duration, e.g. --for 10m (got ${text ?? 'nothing'})`);
  return ms;
}

function readSnapshot(dataDir: string): EdgeSnapshot | undefined {
  try {
    return JSON.parse(readFileSync(join(dataDir, SNAPSHOT_FILE), 'utf8')) as EdgeSnapshot;
  } catch {
    return undefined;
  }
}

/** Sends a command to the running service through its local API and prints the answer. */
async function sendCommand(dataDir: string, action: CommandAction): Promise<number> {
  const snap = readSnapshot(dataDir);
  if (!snap?.http) {
    console.error(`the edge service does not seem to run with --data-dir ${dataDir} (no status.json with its local port)`);
    return 1;
  }
  let token: string;
  try {
    token = readLocalToken(dataDir);
  } catch (err) {
    console.error(`cannot read the local token in ${dataDir}: ${(err as Error).message} (run as the service user, e.g. sudo -u village)`);
    return 1;
  }
  const host = snap.http.host === '0.0.0.0' ? '127.0.0.1' : snap.http.host === '::' ? '::1' : snap.http.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${snap.http.port}/api/local/commands`;
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ action, by: `cli:${process.env.USER ?? 'local'}` }), signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    console.error(`cannot reach the edge service at ${url}: ${(err as Error).message}`);
    return 1;
  }
  const body = (await res.json()) as CommandResult | { error: { message: string } };
  if ('error' in body) {
    console.error(`refused: ${body.error.message}`);
    return 1;
  }
  console.log(`${body.status}${body.reason ? `: ${body.reason}` : ''}`);
  return body.status === 'rejected' || body.status === 'failed' ? 1 : 0;
}

function localTimeFormatter(config: EdgeConfig): (ms: number) => string {
  const cal = new SiteCalendar({ timezone: config.site.site.timezone, lat: config.site.site.lat, lon: config.site.site.lon });
  return (ms) => {
    const m = cal.localParts(ms).minutes;
    return `${cal.localDate(ms)} ${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
  };
}

/** `explain --zone`: the zone's recent decisions, newest first, from the outbox. */
async function explain(config: EdgeConfig, dataDir: string, zone: string, limit: number): Promise<number> {
  const z = config.site.zones.find((x) => x.id === zone);
  if (!z) {
    console.error(`no zone "${zone}" (zones: ${config.site.zones.map((x) => x.id).join(', ') || 'none'})`);
    return 1;
  }
  const dbFile = join(dataDir, OUTBOX_FILE);
  if (!existsSync(dbFile)) {
    console.error(`no outbox at ${dbFile}: is the edge running with --data-dir ${dataDir}?`);
    return 1;
  }
  const local = localTimeFormatter(config);
  const outbox = new SqliteOutbox({ path: dbFile, clock: systemClock, log: createLogger({ level: 'warn' }), readonly: true });
  const events = outbox.recentEvents(limit, { source: zone });
  outbox.stop();
  const state = readSnapshot(dataDir)?.control?.zones.find((x) => x.id === zone);
  console.log(`zone ${zone}${z.name ? ` (${z.name})` : ''}`);
  if (state) {
    console.log(`  now: ${state.state}${state.reason ? ` — ${state.reason}` : ''}${state.until ? ` until ${local(state.until)}` : ''}`);
    if (state.next) console.log(`  next: ${local(state.next.at)} (program ${state.next.program})`);
  }
  if (events.length === 0) console.log('  no decisions recorded yet');
  for (const e of events) console.log(`  ${local(e.ts)}  ${e.message}`);
  return 0;
}

/** `log`: the irrigation log, as a table or CSV. */
async function irrigationLog(config: EdgeConfig, dataDir: string, v: { zone?: string | undefined; from?: string | undefined; to?: string | undefined; csv?: boolean | undefined }): Promise<number> {
  const file = join(dataDir, CONTROL_FILE);
  if (!existsSync(file)) {
    console.error(`no control store at ${file}: has the edge run local control with --data-dir ${dataDir}?`);
    return 1;
  }
  const cal = new SiteCalendar({ timezone: config.site.site.timezone, lat: config.site.site.lat, lon: config.site.site.lon });
  const day = (text: string | undefined, flag: string): number | undefined => {
    if (text === undefined) return undefined;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) throw new VillageError('CONFIG_INVALID', `${flag} wants a date like 2026-11-01`);
    return cal.at(text, 0);
  };
  const from = day(v.from, '--from');
  const toDay = v.to !== undefined ? cal.addDays(v.to, 1) : undefined;
  const store = new SqliteControlStore(file, { readonly: true });
  const runs = store.runs({ ...(v.zone !== undefined && { zone: v.zone }), ...(from !== undefined && { from }), ...(toDay !== undefined && { to: day(toDay, '--to') as number }) });
  store.close();
  const local = localTimeFormatter(config);
  if (v.csv) {
    process.stdout.write(runsToCsv(runs, local));
    return 0;
  }
  if (runs.length === 0) console.log('no runs recorded');
  for (const r of runs) {
    const minutes = ((r.end - r.start) / 60_000).toFixed(1);
    console.log(`${local(r.start)}  ${r.zone.padEnd(12)} ${minutes.padStart(6)} min ${r.litres !== undefined ? `${String(r.litres).padStart(8)} L${r.metered ? ' ' : '~'}` : '          '} ${r.outcome.padEnd(11)} ${r.reason}${r.endReason ? ` — ${r.endReason}` : ''}`);
  }
  return 0;
}

/** Opens the accounts file of a data directory, saying what to do when it cannot. */
function openWebStore(dataDir: string): WebStore | undefined {
  try {
    return new WebStore(dataDir);
  } catch (err) {
    console.error(`${toVillageError(err).message}\n(the edge keeps users in ${join(dataDir, WEB_FILE)}; give --data-dir of the running service)`);
    return undefined;
  }
}

/** `user add|list|remove`: the people who may use the web app on this edge. */
async function userCommand(dataDir: string, positionals: string[], v: { config?: string | undefined; role?: string | undefined; fields?: string | undefined; 'password-file'?: string | undefined }): Promise<number> {
  const [sub, name, ...extra] = positionals;
  if (sub === 'add') {
    if (!name || extra.length > 0 || !v.role || !(USER_ROLES as readonly string[]).includes(v.role)) {
      console.error(`user add needs NAME, --config FILE and --role ${USER_ROLES.join('|')} (farmers also --fields a,b)`);
      return 2;
    }
    // The config says which fields exist, so a typo in --fields is caught here.
    const config = loadConfigFile(need(v.config, '--config FILE'));
    const generated = v['password-file'] === undefined;
    const password = generated ? generatePassword() : readFileSync(v['password-file'] as string, 'utf8').replace(/\r?\n$/, '');
    const fields = v.fields?.split(',').map((f) => f.trim()).filter(Boolean);
    const store = openWebStore(dataDir);
    if (!store) return 1;
    try {
      await addUser(store, { name, role: v.role as UserRole, ...(fields && { fields }) }, password, siteView(config).fields, Date.now());
    } catch (err) {
      const e = toVillageError(err);
      if (e.code !== 'CONFIG_INVALID') throw err;
      console.error(e.message);
      return 2;
    } finally {
      store.close();
    }
    console.log(`user "${name}" (${v.role}${fields ? ` of ${fields.join(', ')}` : ''}) added at site ${config.site.site.id}.`);
    if (generated) {
      console.log('Password (shown once, only a hash is kept):');
      console.log(`  ${password}`);
    }
    return 0;
  }
  if (sub === 'list' || sub === 'remove') {
    if (sub === 'remove' && (!name || extra.length > 0)) {
      console.error('user remove needs NAME');
      return 2;
    }
    const store = openWebStore(dataDir);
    if (!store) return 1;
    try {
      if (sub === 'list') {
        const users = store.listUsers();
        if (users.length === 0) console.log('no users yet (village-edge user add NAME --config FILE --role …)');
        for (const u of users) console.log(`${u.name.padEnd(24)} ${u.role.padEnd(9)} ${u.fields ? u.fields.join(',') : 'all fields'}  created ${new Date(u.createdAt).toISOString()}`);
        return 0;
      }
      if (!store.removeUser(name as string)) {
        console.error(`no user "${name}"`);
        return 1;
      }
      console.log(`user "${name}" removed; their sessions have ended.`);
      return 0;
    } finally {
      store.close();
    }
  }
  console.error(USAGE);
  return 2;
}

/** `token add|list|remove`: tokens for screens (a viewer token is the hall screen's key). */
async function tokenCommand(dataDir: string, positionals: string[], v: { config?: string | undefined; role?: string | undefined; name?: string | undefined }): Promise<number> {
  const [sub, name, ...extra] = positionals;
  if (sub === 'add') {
    if (!v.role || !(TOKEN_ROLES as readonly string[]).includes(v.role) || positionals.length > 1) {
      console.error(`token add needs --role ${TOKEN_ROLES.join('|')} (viewer for a hall screen), and optionally --name and --config (for the hall screen's address)`);
      return 2;
    }
    const config = v.config === undefined ? undefined : loadConfigFile(v.config);
    const tokenName = v.name ?? 'hall-screen';
    const store = openWebStore(dataDir);
    if (!store) return 1;
    let token: string;
    try {
      token = addToken(store, tokenName, v.role as TokenRole, Date.now());
    } catch (err) {
      const e = toVillageError(err);
      if (e.code !== 'CONFIG_INVALID') throw err;
      console.error(e.message);
      return 2;
    } finally {
      store.close();
    }
    console.log(`token "${tokenName}" (${v.role}) created (an earlier one of that name no longer works). Shown once, only a hash is kept:`);
    console.log(`  ${token}`);
    if (v.role === 'viewer') {
      const http = config?.site.edge.http;
      const loopback = http !== undefined && ['127.0.0.1', '::1', 'localhost'].includes(http.host);
      console.log(`hall screen: open http://${loopback ? '127.0.0.1' : "<this Pi's address>"}:${http?.port ?? '<edge.http.port>'}/hall#token=${token}`);
      if (loopback) console.log('  (edge.http.host is loopback: set it to 0.0.0.0 to serve the village LAN)');
    }
    return 0;
  }
  if (sub === 'list' || sub === 'remove') {
    if (sub === 'remove' && (!name || extra.length > 0)) {
      console.error('token remove needs NAME');
      return 2;
    }
    const store = openWebStore(dataDir);
    if (!store) return 1;
    try {
      if (sub === 'list') {
        for (const t of store.listTokens()) console.log(`${t.name.padEnd(32)} ${t.role.padEnd(9)} created ${new Date(t.createdAt).toISOString()}`);
        return 0;
      }
      if (!store.removeToken(name as string)) {
        console.error(`no token "${name}"`);
        return 1;
      }
      console.log(`token "${name}" removed; screens using it are signed out.`);
      return 0;
    } finally {
      store.close();
    }
  }
  console.error(USAGE);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0 || !['run', 'demo'].includes(process.argv[2] ?? '')) process.exitCode = code;
  },
  (err: unknown) => {
    const e = toVillageError(err);
    console.error(e.code === 'INTERNAL' ? (err as Error).stack ?? e.message : e.message);
    // Exit now: a half-started service (a port in use) must not linger.
    process.exit(e.code === 'CONFIG_INVALID' || e.code === 'CONFIG_UNREADABLE' ? 1 : 2);
  },
);
