/**
 * Builds the web app into dist/: index.html (farmer view) and hall.html (village-hall screen),
 * each loading one hashed ES module and the shared hashed stylesheet, every file with a .gz
 * sibling (zlib level 9) for servers that send precompressed files, and manifest.json listing
 * each file's raw and gzip size and what each page loads.
 *
 *   node build.mjs [--outdir <dir>]
 */
import { build } from 'esbuild';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants, gzipSync } from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));

/** page (and its template in src/) -> its entry module; both pages share src/style.css. */
const PAGES = {
  'index.html': 'src/farmer/main.tsx',
  'hall.html': 'src/hall/main.tsx',
};
/** Output names: farmer-<hash>.js, hall-<hash>.js, style-<hash>.css. */
const NAMES = { 'src/farmer/main.tsx': 'farmer', 'src/hall/main.tsx': 'hall' };
const STYLE = 'src/style.css';

export async function buildWeb({ outdir = path.join(here, 'dist') } = {}) {
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  const result = await build({
    absWorkingDir: here,
    entryPoints: [...Object.values(PAGES).map((entry) => ({ in: entry, out: NAMES[entry] })), { in: STYLE, out: 'style' }],
    outdir,
    entryNames: '[name]-[hash]',
    bundle: true,
    format: 'esm',
    // Old Android Chrome on cheap phones: esbuild lowers newer syntax to ES2019.
    target: ['es2019'],
    minify: true,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    // Vietnamese messages as UTF-8, not \u escapes (module scripts are always read as UTF-8).
    charset: 'utf8',
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });

  const built = new Map();
  for (const [file, meta] of Object.entries(result.metafile.outputs)) {
    if (meta.entryPoint) built.set(meta.entryPoint, path.basename(file));
  }
  const css = built.get(STYLE);
  const pages = {};
  for (const [page, entry] of Object.entries(PAGES)) {
    const js = built.get(entry);
    if (!js || !css) throw new Error(`esbuild produced no output for ${js ? STYLE : entry}`);
    const template = await readFile(path.join(here, 'src', page), 'utf8');
    await writeFile(path.join(outdir, page), template.replace('%CSS%', css).replace('%JS%', js));
    pages[page] = [page, js, css];
  }

  const files = [];
  for (const name of (await readdir(outdir)).sort()) {
    const raw = await readFile(path.join(outdir, name));
    const gz = gzipSync(raw, { level: constants.Z_BEST_COMPRESSION });
    await writeFile(path.join(outdir, `${name}.gz`), gz);
    // Hashed names never change content: servers may cache them for a year; pages must revalidate.
    files.push({ file: name, bytes: raw.length, gzipBytes: gz.length, immutable: !name.endsWith('.html') });
  }
  const manifest = { files, pages };
  await writeFile(path.join(outdir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** Gzip bytes of everything a page loads. */
export function pageGzipBytes(manifest, page) {
  return manifest.pages[page].reduce((sum, name) => sum + manifest.files.find((f) => f.file === name).gzipBytes, 0);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--outdir');
  const outdir = at > 0 && process.argv[at + 1] ? path.resolve(process.argv[at + 1]) : undefined;
  const manifest = await buildWeb(outdir ? { outdir } : {});
  for (const f of manifest.files) process.stdout.write(`${f.file.padEnd(28)} ${String(f.bytes).padStart(7)} B  ${String(f.gzipBytes).padStart(6)} B gzip\n`);
  for (const page of Object.keys(manifest.pages)) process.stdout.write(`${page}: first load ${pageGzipBytes(manifest, page)} B gzip\n`);
}
