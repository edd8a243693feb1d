#!/usr/bin/env node
// Builds the console for a bucket behind a CDN: copies console/src to the output directory
// (default .build/console at the repository's top, `--out DIR` to choose), with every JavaScript
// module and stylesheet renamed after a hash of its content (app.js -> app.3f9c2a1b.js) and every
// reference to it rewritten (index.html, static and dynamic imports, CSS url() and @import).
// A renamed file never changes, so it can be cached for a year (`immutable`); index.html keeps
// its name and must be revalidated (`no-cache`), as must config.json, which each deployment
// writes beside it (it is not part of the build). asset-manifest.json maps source names to
// the hashed ones. A referenced file that does not exist, a bare import (no dependencies here),
// or an import cycle stops the build with the file and reference named.
//
// Node 20, no dependencies: node console/build.mjs [--out DIR]

import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CONSOLE_DIR = path.dirname(fileURLToPath(import.meta.url));
const SRC = path.join(CONSOLE_DIR, 'src');
const DEFAULT_OUT = path.join(CONSOLE_DIR, '..', '.build', 'console');
const HASHED = new Set(['.js', '.css']);
const HASH_LENGTH = 8;

class BuildError extends Error {}

function parseArgs(argv) {
  let out = DEFAULT_OUT;
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--out' && argv[i + 1]) {
      out = path.resolve(argv[i + 1]);
      i += 1;
    } else if (argv[i].startsWith('--out=')) {
      out = path.resolve(argv[i].slice('--out='.length));
    } else if (argv[i] === '--help' || argv[i] === '-h') {
      console.log('usage: node console/build.mjs [--out DIR]   (default: .build/console)');
      process.exit(0);
    } else {
      throw new BuildError(`unknown argument ${argv[i]} (usage: node console/build.mjs [--out DIR])`);
    }
  }
  const relative = path.relative(out, SRC);
  if (out === path.parse(out).root || relative === '' || !relative.startsWith('..')) {
    throw new BuildError(`refusing to write to ${out}: it contains the sources (choose another --out)`);
  }
  return { out };
}

async function listFiles(dir) {
  const found = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...await listFiles(full));
    else if (entry.isFile()) found.push(full);
  }
  return found;
}

const rel = (file) => path.relative(SRC, file).split(path.sep).join('/');

function isExternal(reference) {
  return /^(?:[a-z][a-z0-9+.-]*:|\/\/|#)/i.test(reference);
}

/** The file a reference in `from` names; throws when it is missing or outside the sources. */
function resolveReference(from, reference, files) {
  const clean = reference.split(/[?#]/)[0];
  const target = clean.startsWith('/') ? path.join(SRC, clean) : path.resolve(path.dirname(from), clean);
  if (!target.startsWith(SRC + path.sep) || !files.has(target)) {
    throw new BuildError(`${rel(from)} references "${reference}", which is not a file of console/src`);
  }
  return target;
}

/** Each reference in a file's text: {start, end, reference} (the quoted or url() part only). */
function referencesIn(file, text) {
  const found = [];
  const add = (match, group) => {
    const [start, end] = match.indices[group];
    found.push({ start, end, reference: match[group] });
  };
  const ext = path.extname(file);
  if (ext === '.js') {
    const patterns = [
      /\b(?:import|export)\s+(?:[\w*${}\s,]+?\s+from\s+)?(['"])([^'"\n]+)\1/gd, // import x from '...'; import '...'; export ... from '...'
      /\bimport\s*\(\s*(['"])([^'"\n]+)\1\s*\)/gd, // import('...')
    ];
    for (const pattern of patterns) {
      for (const match of text.matchAll(pattern)) {
        const reference = match[2];
        if (!reference.startsWith('./') && !reference.startsWith('../') && !reference.startsWith('/')) {
          throw new BuildError(`${rel(file)} imports "${reference}": the console has no dependencies, only relative imports`);
        }
        add(match, 2);
      }
    }
  } else if (ext === '.css') {
    for (const match of text.matchAll(/url\(\s*(['"]?)([^'")\s]+)\1\s*\)/gd)) {
      if (!isExternal(match[2])) add(match, 2);
    }
    for (const match of text.matchAll(/@import\s+(['"])([^'"]+)\1/gd)) {
      if (!isExternal(match[2])) add(match, 2);
    }
  } else if (ext === '.html') {
    for (const match of text.matchAll(/\s(?:src|href)\s*=\s*(["'])([^"']+)\1/gd)) {
      if (!isExternal(match[2])) add(match, 2);
    }
  }
  return found.sort((a, b) => a.start - b.start);
}

function hashedName(file, content) {
  const digest = createHash('sha256').update(content).digest('hex').slice(0, HASH_LENGTH);
  const ext = path.extname(file);
  return `${rel(file).slice(0, -ext.length)}.${digest}${ext}`;
}

/** A reference from `fromName` (output path) to `toName` (output path), as written in the file. */
function relativeReference(fromName, toName, original) {
  if (original.startsWith('/')) return `/${toName}`;
  let reference = path.posix.relative(path.posix.dirname(fromName), toName);
  if (!reference.startsWith('.')) reference = `./${reference}`;
  return reference;
}

async function build({ out }) {
  const started = Date.now();
  const files = new Set(await listFiles(SRC));
  const index = path.join(SRC, 'index.html');
  if (!files.has(index)) throw new BuildError('console/src/index.html is missing');
  const texts = new Map();
  for (const file of files) {
    if (HASHED.has(path.extname(file)) || path.extname(file) === '.html') texts.set(file, await readFile(file, 'utf8'));
  }

  const outputName = new Map(); // source file -> output name (relative)
  const outputText = new Map(); // source file -> rewritten text
  const visiting = [];

  function rewrite(file) {
    const text = texts.get(file);
    let result = '';
    let cursor = 0;
    for (const { start, end, reference } of referencesIn(file, text)) {
      const target = resolveReference(file, reference, files);
      const targetName = emit(target);
      result += text.slice(cursor, start) + relativeReference(rel(file), targetName, reference);
      cursor = end;
    }
    return result + text.slice(cursor);
  }

  function emit(file) {
    if (outputName.has(file)) return outputName.get(file);
    if (!HASHED.has(path.extname(file))) {
      outputName.set(file, rel(file));
      return rel(file);
    }
    if (visiting.includes(file)) {
      const cycle = [...visiting.slice(visiting.indexOf(file)), file].map(rel).join(' -> ');
      throw new BuildError(`import cycle (content hashes need an acyclic graph): ${cycle}`);
    }
    visiting.push(file);
    const text = rewrite(file);
    visiting.pop();
    const name = hashedName(file, text);
    outputName.set(file, name);
    outputText.set(file, text);
    return name;
  }

  let html = rewrite(index);
  const modules = [...outputName.entries()].filter(([file]) => path.extname(file) === '.js').map(([, name]) => name);
  const entryModule = /<script[^>]*type=["']module["'][^>]*src=["']\.\/([^"']+)["']/.exec(html)?.[1];
  const preloads = modules.filter((name) => name !== entryModule)
    .map((name) => `<link rel="modulepreload" href="./${name}">`).join('\n');
  if (preloads) html = html.replace(/(<script[^>]*type=["']module["'])/, `${preloads}\n$1`);

  const unreferenced = [...files].filter((file) => HASHED.has(path.extname(file)) && !outputName.has(file));
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  const write = async (name, content) => {
    const target = path.join(out, name);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, content);
  };
  await write('index.html', html);
  for (const [file, text] of outputText) await write(outputName.get(file), text);
  for (const file of files) {
    if (file === index || HASHED.has(path.extname(file))) continue;
    if (path.extname(file) === '.html') await write(rel(file), rewrite(file));
    else await write(rel(file), await readFile(file));
  }
  const manifest = Object.fromEntries([...outputName].map(([file, name]) => [rel(file), name]).sort());
  await write('asset-manifest.json', `${JSON.stringify(manifest, null, 2)}\n`);
  for (const file of unreferenced) console.warn(`warning: ${rel(file)} is referenced by nothing and was left out`);
  console.log(`console built: ${outputText.size} hashed files + index.html in ${path.relative(process.cwd(), out) || out} (${Date.now() - started} ms)`);
}

try {
  await build(parseArgs(process.argv.slice(2)));
} catch (error) {
  if (error instanceof BuildError) {
    console.error(`console build failed: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
