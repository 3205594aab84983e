// build.mjs: bundles src/ into dist/ with esbuild: dist/index.html and
// dist/assets/app-HASH.js / app-HASH.css (content-hashed, minified, no
// source maps, no timestamps), so the same sources and package-lock.json
// give the same bytes. `make ui` runs it after `npm ci`; ui/embed.py
// compiles dist/ into the strata binary.
import * as esbuild from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, 'dist');
fs.rmSync(dist, { recursive: true, force: true });
fs.mkdirSync(path.join(dist, 'assets'), { recursive: true });

const result = await esbuild.build({
  entryPoints: { app: path.join(here, 'src/main.js') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2020'],
  outdir: path.join(dist, 'assets'),
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  charset: 'utf8',
  logLevel: 'warning',
});

const outs = Object.keys(result.metafile.outputs).map((p) => path.basename(p));
const js = outs.find((f) => f.endsWith('.js'));
const css = outs.find((f) => f.endsWith('.css'));
const html = fs.readFileSync(path.join(here, 'src/index.html'), 'utf8')
  .replace('%CSS%', `/assets/${css}`)
  .replace('%JS%', `/assets/${js}`);
fs.writeFileSync(path.join(dist, 'index.html'), html);
for (const f of outs) {
  const st = fs.statSync(path.join(dist, 'assets', f));
  console.log(`ui: dist/assets/${f} ${st.size} bytes`);
}
