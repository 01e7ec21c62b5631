import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDirs, makeWritableDir } from '../src/files.js';

test('makeDirs: creates the folder and its parents; an existing folder is fine', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clap-files-'));
  const deep = join(dir, 'a', 'b', 'c');
  makeDirs(deep);
  makeDirs(deep);
  assert.ok(statSync(deep).isDirectory());
});

test('makeDirs: a file in the way is a one-line error naming the path and the option', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clap-files-'));
  const file = join(dir, 'f');
  writeFileSync(file, 'x');
  assert.throws(() => makeDirs(file, '--out'), { name: 'ClapError', message: `${file}: is a file, not a folder: choose another --out` });
  assert.throws(() => makeDirs(join(file, 'sub')), { name: 'ClapError', message: /f[/\\]sub: is a file, not a folder$/ });
});

test('makeDirs: a folder that cannot exist (under /proc) throws instead of looping as Node 20 does', {
  skip: process.platform !== 'linux',
}, () => {
  assert.throws(() => makeDirs('/proc/clap-ts-files-test/x'), {
    name: 'ClapError',
    message: /^\/proc\/clap-ts-files-test\/x: cannot create this folder \(ENOENT\)$/,
  });
});

test('makeWritableDir: a folder that takes no files (/proc/self, even for root) is a one-line error', {
  skip: process.platform !== 'linux',
}, () => {
  assert.throws(() => makeWritableDir('/proc/self'), {
    name: 'ClapError',
    message: /^\/proc\/self: cannot write into this folder \(E[A-Z]+\)$/,
  });
  const dir = join(mkdtempSync(join(tmpdir(), 'clap-files-')), 'out');
  makeWritableDir(dir);
  assert.deepEqual(readdirSync(dir), [], 'the probe file is removed');
});
