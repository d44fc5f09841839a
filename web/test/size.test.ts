import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** What a farmer's phone downloads on first load over 3G: html, js (messages included) and css. */
const FIRST_LOAD_BUDGET = 150 * 1024;

interface Manifest {
  files: { file: string; bytes: number; gzipBytes: number; immutable: boolean }[];
  pages: Record<string, string[]>;
}

const WEB = fileURLToPath(new URL('..', import.meta.url));
let out: string;
let manifest: Manifest;

beforeAll(async () => {
  out = await mkdtemp(path.join(tmpdir(), 'sv-web-'));
  await promisify(execFile)(process.execPath, [path.join(WEB, 'build.mjs'), '--outdir', out], { cwd: WEB });
  manifest = JSON.parse(await readFile(path.join(out, 'manifest.json'), 'utf8')) as Manifest;
}, 60_000);

afterAll(async () => {
  if (out) await rm(out, { recursive: true, force: true });
});

const gzipOf = (name: string) => manifest.files.find((f) => f.file === name)?.gzipBytes ?? Number.NaN;

describe('web build', () => {
  it(`keeps the farmer view's first load within ${FIRST_LOAD_BUDGET} bytes gzipped`, () => {
    const loads = manifest.pages['index.html'] ?? [];
    expect(loads).toHaveLength(3);
    const total = loads.reduce((sum, name) => sum + gzipOf(name), 0);
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThanOrEqual(FIRST_LOAD_BUDGET);
  });

  it('makes each page load exactly the hashed files it names', async () => {
    for (const [page, loads] of Object.entries(manifest.pages)) {
      const html = await readFile(path.join(out, page), 'utf8');
      const named = [...html.matchAll(/(?:src|href)="\.\/([^"]+)"/g)].map((m) => m[1]);
      expect(named.sort(), page).toEqual(loads.filter((f) => f !== page).sort());
      for (const name of named) expect(name).toMatch(/^(farmer|hall|style)-[A-Z0-9]{8}\.(js|css)$/);
    }
  });

  it('writes a .gz sibling of every file, matching the sizes in the manifest', async () => {
    expect(manifest.files.map((f) => f.file).sort()).toEqual(expect.arrayContaining(['hall.html', 'index.html']));
    for (const f of manifest.files) {
      const raw = await readFile(path.join(out, f.file));
      const gz = await readFile(path.join(out, `${f.file}.gz`));
      expect(raw.length, f.file).toBe(f.bytes);
      expect(gz.length, f.file).toBe(f.gzipBytes);
      expect(gunzipSync(gz).equals(raw), f.file).toBe(true);
      expect(f.immutable).toBe(!f.file.endsWith('.html'));
    }
  });

  it('emits ES2019 modules without zod or other server code', async () => {
    const js = manifest.files.filter((f) => f.file.endsWith('.js'));
    expect(js.map((f) => f.file.split('-')[0]).sort()).toEqual(['farmer', 'hall']);
    for (const f of js) {
      const code = await readFile(path.join(out, f.file), 'utf8');
      // Lowered syntax: no optional chaining, nullish coalescing or logical assignment left.
      expect(code).not.toMatch(/\?\.[a-zA-Z_$[(]|\?\?=?|\|\|=|&&=/);
      expect(code).not.toContain('ZodError');
    }
  });
});
