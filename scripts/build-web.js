#!/usr/bin/env node
// Builds the operator console (web/ → web/dist/) with Vite, but only when web/dist/index.html is
// missing or older than a source: anything under web/src, web/public, shared/, web/index.html,
// web/tsconfig.json or vite.config.ts. Prints one line either way; exits non-zero on failure.
import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const output = join(repo, 'web', 'dist', 'index.html');
const sources = ['web/src', 'web/public', 'shared', 'web/index.html', 'web/tsconfig.json', 'vite.config.ts'].map((p) => join(repo, p));

/** The newest modification time (ms) under `path`, and the file that has it. */
function newest(path) {
  if (!existsSync(path)) return { mtime: 0, file: null };
  const st = statSync(path);
  if (!st.isDirectory()) return { mtime: st.mtimeMs, file: path };
  let best = { mtime: 0, file: null };
  for (const entry of readdirSync(path)) {
    const n = newest(join(path, entry));
    if (n.mtime > best.mtime) best = n;
  }
  return best;
}

function newestSource() {
  let best = { mtime: 0, file: null };
  for (const s of sources) {
    const n = newest(s);
    if (n.mtime > best.mtime) best = n;
  }
  return best;
}

/** The first error of a Vite/Rolldown build failure as "file:line:col message", else its first line. */
function describeError(err) {
  const first = err && Array.isArray(err.errors) ? err.errors[0] : undefined;
  if (first && typeof first.message === 'string') {
    // eslint-disable-next-line no-control-regex -- stripping the terminal colours of the message
    const text = first.message.replace(/\u001b\[[0-9;]*m/g, '').split('\n')[0];
    const where = first.id ? `${relative(repo, first.id)}${first.loc ? `:${first.loc.line}:${first.loc.column}` : ''} ` : '';
    return `${where}${text}`;
  }
  return err instanceof Error ? err.message.split('\n')[0] : String(err);
}

const builtAt = existsSync(output) ? statSync(output).mtimeMs : 0;
const src = newestSource();
if (builtAt > 0 && builtAt >= src.mtime) {
  console.log('web: web/dist is up to date');
  process.exit(0);
}

const why = builtAt === 0 ? 'web/dist/index.html is missing' : `${relative(repo, src.file ?? '')} changed`;
const started = performance.now();
// Build beside web/dist and swap it in, so a running console never sees a half-written folder.
const dist = join(repo, 'web', 'dist');
const next = join(repo, 'web', `.dist-${process.pid}`);
const old = join(repo, 'web', `.dist-old-${process.pid}`);
try {
  const { build } = await import('vite');
  // Silent: this script prints its own line; the error's details are printed below on failure.
  await build({ configFile: join(repo, 'vite.config.ts'), logLevel: 'silent', mode: 'production', build: { outDir: next, emptyOutDir: true } });
  if (existsSync(dist)) renameSync(dist, old);
  renameSync(next, dist);
  rmSync(old, { recursive: true, force: true });
} catch (err) {
  rmSync(next, { recursive: true, force: true });
  console.error(`web: build failed (${why}): ${describeError(err)}`);
  if (err instanceof Error) console.error(err.message);
  process.exit(1);
}
console.log(`web: built web/dist in ${((performance.now() - started) / 1000).toFixed(1)} s (${why})`);
