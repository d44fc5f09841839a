#!/usr/bin/env node
// Runs the benchmarks in bench/*.bench.js: `pnpm bench` runs all, `pnpm bench NAME` one.
// Each benchmark returns figures {bench, metric, value, unit, peer?, ratio?}; every figure is
// printed as one JSON line, then a short table.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const all = readdirSync(here)
  .filter((f) => f.endsWith('.bench.js'))
  .map((f) => f.slice(0, -'.bench.js'.length))
  .sort();
const unknown = wanted.filter((w) => !all.includes(w));
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(', ')} (have: ${all.join(', ')})`);
  process.exit(2);
}
const figures = [];
for (const name of wanted.length ? wanted : all) {
  const mod = await import(pathToFileURL(join(here, `${name}.bench.js`)).href);
  const out = await mod.default();
  for (const f of out) {
    console.log(JSON.stringify(f));
    figures.push(f);
  }
}
const rows = figures.map((f) => [
  f.bench,
  f.metric,
  typeof f.value === 'number' ? fmt(f.value) : String(f.value),
  f.unit,
  f.peer === undefined ? '' : `${fmt(f.peer)}`,
  f.ratio === undefined ? '' : fmt(f.ratio),
]);
const head = ['bench', 'metric', 'value', 'unit', 'peer', 'ratio'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r) => r.map((c, i) => (i >= 2 && i !== 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
console.log('');
console.log(line(head));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));

function fmt(n) {
  if (Number.isInteger(n)) return n.toLocaleString('en-US');
  return Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(3);
}
