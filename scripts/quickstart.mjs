#!/usr/bin/env node
// Quick start, first command (`npm run quickstart`): installs everything and starts the demo
// village. Works on a fresh machine with Node >= 20 and a C++ toolchain, with or without
// internet access beyond the npm registry.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const PNPM = '12.4.2';
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function run(cmd, args, env = process.env) {
  console.log(`\n$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  if (r.error) throw r.error;
  if (r.status !== 0) process.exit(r.status ?? 1);
}

// The test suite runs against real parts from Debian's packages (socat, mbpoll, PostgreSQL).
const packages = readFileSync(join(root, 'scripts', 'system-packages.txt'), 'utf8')
  .split('\n')
  .map((l) => l.replace(/#.*/, '').trim())
  .filter(Boolean);
const missing = packages.filter((p) => spawnSync('dpkg', ['-s', p], { stdio: 'ignore' }).status !== 0);
if (missing.length > 0) {
  if (process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
    run('apt-get', ['update', '-qq']);
    run('apt-get', ['install', '-y', '-qq', ...missing], { ...process.env, DEBIAN_FRONTEND: 'noninteractive' });
  } else {
    console.log(`\nThe tests also need: ${missing.join(' ')}\n  sudo apt-get install -y ${missing.join(' ')}\n`);
  }
}

let pnpm = ['pnpm'];
const have = spawnSync('pnpm', ['--version'], { encoding: 'utf8' });
if (have.status !== 0 || have.stdout.trim() !== PNPM) {
  console.log(`\n$ npm install --global --save-exact pnpm@${PNPM}`);
  const global = spawnSync('npm', ['install', '--global', '--save-exact', `pnpm@${PNPM}`], { cwd: root, stdio: 'inherit' });
  if (global.status !== 0) {
    // Not allowed to install globally (a distro Node as a normal user): run pnpm through npx.
    pnpm = ['npx', '--yes', `pnpm@${PNPM}`];
    console.log(`\nCould not install pnpm globally; using npx. For the tests run: npx pnpm@${PNPM} test\n`);
  }
}

// Native modules (better-sqlite3, serialport, epoll) fall back to node-gyp when no prebuilt
// binary can be downloaded; node-gyp then wants Node's headers. Every Node install (distro
// package, NodeSource, nvm, official tarball) ships them under <prefix>/include/node, so point
// node-gyp there instead of letting it download them.
const env = { ...process.env };
const prefix = resolve(dirname(process.execPath), '..');
if (!env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node.h'))) env.npm_config_nodedir = prefix;

run(pnpm[0], [...pnpm.slice(1), 'install', '--frozen-lockfile'], env);
run(pnpm[0], [...pnpm.slice(1), 'build'], env);
run('node', ['scripts/demo.mjs'], env);
