#!/usr/bin/env node
// `pnpm demo`: the demo village with its cloud. Starts `village-cloud run` (embedded broker,
// ingest, SQLite) on loopback, registers the demo edge, and runs `village-edge demo` syncing to
// it. Ctrl-C stops both. Data goes to ./data (edge outbox) and ./data/cloud (cloud store).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = resolve(process.env.VILLAGE_DATA_DIR ?? join(root, 'data'));
const cloudDb = join(dataDir, 'cloud', 'cloud.sqlite');
const mqttPort = process.env.VILLAGE_MQTT_PORT ?? '18830';
mkdirSync(join(dataDir, 'cloud'), { recursive: true });

const cloudCli = join(root, 'cloud', 'dist', 'cli.js');
const edgeCli = join(root, 'edge', 'dist', 'cli.js');

// A fresh secret each start: the old one stops working, as after a rotation.
const add = spawnSync(process.execPath, [cloudCli, 'edge', 'add', '--site', 'my-hoa', '--edge', 'pi-ruong-1', '--db', cloudDb], { encoding: 'utf8' });
if (add.status !== 0) {
  process.stderr.write(add.stderr);
  process.exit(1);
}
const secret = /secret:\s+(\S+)/.exec(add.stdout)?.[1];
if (!secret) throw new Error('village-cloud edge add printed no secret');

// A read-only token for trying the HTTP API (and, later, the hall screen).
const httpPort = process.env.VILLAGE_HTTP_PORT ?? '8080';
const tok = spawnSync(process.execPath, [cloudCli, 'token', 'add', '--name', 'demo-viewer', '--role', 'viewer', '--db', cloudDb], { encoding: 'utf8' });
const token = /\b(svt_\S+)/.exec(tok.stdout)?.[1];

// Demo accounts: an operator and two farmers with their own fields. Fresh passwords each start.
const accounts = [];
for (const [name, role, fields] of [
  ['van-hanh', 'operator', undefined],
  ['nong-dan-lan', 'farmer', 'ruong-1,vuon-rau'],
  ['nong-dan-minh', 'farmer', 'ruong-2,ruong-3'],
]) {
  spawnSync(process.execPath, [cloudCli, 'user', 'remove', name, '--db', cloudDb], { encoding: 'utf8' });
  const r = spawnSync(process.execPath, [cloudCli, 'user', 'add', name, '--site', 'my-hoa', '--role', role, ...(fields ? ['--fields', fields] : []), '--db', cloudDb], { encoding: 'utf8' });
  const password = /Password[^\n]*\n\s+(\S+)/.exec(r.stdout)?.[1];
  if (!password) continue;
  accounts.push(`  ${name.padEnd(14)} ${role.padEnd(9)} ${password}${fields ? `   (fields ${fields})` : ''}`);
  // The same account on the edge's own page (it must work without the cloud, so it keeps its own).
  const pwFile = join(dataDir, '.demo-password');
  writeFileSync(pwFile, password, { mode: 0o600 });
  const demoConfig = join(root, 'examples', 'demo-village.yaml');
  spawnSync(process.execPath, [edgeCli, 'user', 'remove', name, '--config', demoConfig, '--data-dir', dataDir], { encoding: 'utf8' });
  spawnSync(process.execPath, [edgeCli, 'user', 'add', name, '--config', demoConfig, '--data-dir', dataDir, '--role', role, ...(fields ? ['--fields', fields] : []), '--password-file', pwFile], { encoding: 'utf8' });
  rmSync(pwFile, { force: true });
}
const hall = spawnSync(process.execPath, [cloudCli, 'token', 'add', '--name', `hall-${Date.now()}`, '--role', 'viewer', '--db', cloudDb], { encoding: 'utf8' });
const hallToken = /\b(svt_\S+)/.exec(hall.stdout)?.[1];

const children = [];
function start(name, args, env) {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = (stream, out) =>
    stream.on('data', (chunk) => {
      for (const line of chunk.toString().split('\n')) if (line) out.write(`[${name}] ${line}\n`);
    });
  prefix(child.stdout, process.stdout);
  prefix(child.stderr, process.stderr);
  child.on('exit', (code, signal) => {
    console.log(`[${name}] exited ${signal ?? code}`);
    stopAll();
  });
  children.push(child);
  return child;
}

let stopping = false;
function stopAll() {
  if (stopping) return;
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
}
process.on('SIGINT', stopAll);
process.on('SIGTERM', stopAll);

// The garden's firmware node: a simulated node on one end of a socat pty pair, the edge on the
// other (the port named in examples/demo-village.yaml).
const simNode = join(root, 'firmware-bridge', 'dist', 'sim-node-cli.js');
const ttyEdge = join(root, 'data', 'tty-vuon-rau');
const ttyNode = `${ttyEdge}-node`;
mkdirSync(join(root, 'data'), { recursive: true });
if (spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0) {
  const socat = spawn('socat', [`pty,raw,echo=0,link=${ttyEdge}`, `pty,raw,echo=0,link=${ttyNode}`], { stdio: 'ignore' });
  children.push(socat);
  setTimeout(() => start('node', [simNode, '--port', ttyNode, '--interval', '10s', '--sensors', 'moisture:soil-moisture,temperature:soil-temperature,battery:battery:2']), 500);
} else {
  console.log('socat not found (apt-get install socat): the demo runs without its firmware node');
}

start('cloud', [cloudCli, 'run', '--db', cloudDb, '--host', '127.0.0.1', '--mqtt-port', mqttPort, '--http-port', httpPort]);
// Give the broker a moment; the edge reconnects by itself anyway.
setTimeout(() => {
  start('edge', [edgeCli, 'demo', '--data-dir', dataDir], { VILLAGE_CLOUD_SECRET: secret, VILLAGE_CLOUD_URL: `mqtt://127.0.0.1:${mqttPort}` });
  console.log(
    [
      '',
      'Demo village running.',
      `  farmer view:  http://127.0.0.1:${httpPort}/   sign in as:`,
      ...accounts,
      hallToken ? `  hall screen:  http://127.0.0.1:${httpPort}/hall#token=${hallToken}` : '',
      '  the edge\'s own page (village LAN, works without the cloud; same accounts): http://127.0.0.1:8081/',
      'In another terminal:',
      `  pnpm edge status --config examples/demo-village.yaml --data-dir ${dataDir}`,
      `  node cloud/dist/cli.js edge list --db ${cloudDb}`,
      token ? `  curl -H 'Authorization: Bearer ${token}' http://127.0.0.1:${httpPort}/api/sites/my-hoa/latest` : '',
      '',
    ].join('\n'),
  );
}, 1000);
