/**
 * README's "first ten minutes" runs as shown: every `$ ` line of its console block is executed in one bash
 * session (in a fresh folder, with the fixtures' path and bin/clap.js made absolute, on generated sounds), and
 * what each prints must have the shape shown under it. `clap serve` is started, its address read and asked
 * for a search, then stopped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { synthWav } from '../src/audio/index.js';
import { BIN } from './helpers/cli.js';
import { FIXTURES_ROOT } from './helpers/fixtures.js';

const root = fileURLToPath(new URL('..', import.meta.url));
/** Where the README's walk-through pretends to be (the checkout); the test's folder stands in for it. */
const SHOWN_CHECKOUT = '/home/you/clap-ts';

interface Step {
  command: string;
  shown: string[];
}

/** The console block under "## The first ten minutes": commands (`$ `), what they print, `#` comments. */
function walkthrough(): Step[] {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const section = readme.slice(readme.indexOf('\n## The first ten minutes\n'));
  const block = section.match(/```console\n([\s\S]*?)```/);
  assert.ok(block, 'README has a console block under "## The first ten minutes"');
  const steps: Step[] = [];
  for (const line of block[1].split('\n')) {
    if (line.startsWith('$ ')) steps.push({ command: line.slice(2), shown: [] });
    else if (line.trim() !== '' && !line.startsWith('# ')) steps.at(-1)!.shown.push(line.trimEnd());
  }
  return steps;
}

/** A shown line as a pattern: numbers, hex tokens, bars and `…` stand for any such. */
function shapeOf(line: string): RegExp {
  const parts = line.split(/(-?\d+(?:\.\d+)?|[0-9a-f]{16,}|█+|…)/);
  const pattern = parts
    .map((p, i) => {
      if (i % 2 === 0) return p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      if (p === '…') return '.*';
      if (p.startsWith('█')) return '█*';
      if (/^[0-9a-f]{16,}$/.test(p) && /[a-f]/.test(p)) return '[0-9a-f]+';
      return '-?\\d+(?:\\.\\d+)?(?:e[-+]?\\d+)?';
    })
    .join('');
  return new RegExp(`^${pattern}$`);
}

/** Progress lines on a stderr that is not a terminal (their count depends on timing), left out of the README. */
const PROGRESS = /^[a-z ]+: \d+\/\d+ /;

/** Every shown line matches an output line, in order; the output lines left over are progress lines. */
function assertShape(step: Step, output: string, checkout: string): void {
  const lines = output.split('\n').map((l) => l.trimEnd().replaceAll(checkout, SHOWN_CHECKOUT));
  let k = 0;
  for (const line of lines) {
    if (k < step.shown.length && shapeOf(step.shown[k]).test(line)) k++;
    else if (line !== '' && !PROGRESS.test(line))
      assert.fail(`$ ${step.command}\nprinted a line the README does not show:\n${line}\n--- all it printed:\n${output}`);
  }
  assert.equal(k, step.shown.length, `$ ${step.command}\ndid not print: ${step.shown[k]}\n--- all it printed:\n${output}`);
}

/** A README command as this test runs it: the checkout's files by absolute path. */
const local = (command: string): string =>
  command.replaceAll('$PWD/bin/clap.js', BIN).replaceAll('../shared/fixtures/', `${FIXTURES_ROOT}/`);

test('README: the first ten minutes run as shown', { timeout: 600_000 }, async () => {
  const steps = walkthrough();
  const serveAt = steps.findIndex((s) => /^clap serve /.test(s.command));
  assert.equal(serveAt, steps.length - 1, 'the walk-through ends with clap serve');
  const dir = mkdtempSync(join(tmpdir(), 'clap-readme-'));
  try {
    mkdirSync(join(dir, 'tmp', 'sounds'), { recursive: true });
    writeFileSync(join(dir, 'tmp', 'sounds', 'dog.wav'), synthWav(44100, 3));
    writeFileSync(join(dir, 'tmp', 'sounds', 'rain.wav'), synthWav(48000, 9, 2));
    const env = { ...process.env, CLAP_THREADS: '1', CLAP_CACHE_DIR: join(dir, 'cache') };
    const mark = '@@clap-readme-step@@';
    const script = [
      'shopt -s expand_aliases',
      'exec 2>&1',
      ...steps.slice(0, serveAt).flatMap((s) => [`echo ${mark}`, local(s.command), `echo "${mark} $?"`]),
    ].join('\n');
    const out = await new Promise<string>((resolve) =>
      execFile('bash', ['-c', script], { cwd: dir, env, maxBuffer: 16 << 20 }, (_e, stdout) => resolve(stdout)),
    );
    const outputs = out.split(`${mark}\n`).slice(1);
    assert.equal(outputs.length, serveAt, `every command ran:\n${out}`);
    steps.slice(0, serveAt).forEach((step, i) => {
      const [printed, status] = outputs[i].split(`${mark} `);
      assert.equal(status?.trim(), '0', `$ ${step.command} exited with ${status}:\n${printed}`);
      assertShape(step, printed, dir);
    });

    // clap serve: its first lines, then a search through the address it printed
    const prelude = steps.slice(0, serveAt).filter((s) => /^(alias|[A-Z]+=)/.test(s.command));
    const serve = spawn(
      'bash',
      ['-c', ['shopt -s expand_aliases', ...prelude.map((s) => local(s.command)), local(steps[serveAt].command)].join('\n')],
      {
        cwd: dir,
        env,
        detached: true,
      },
    );
    try {
      let printed = '';
      serve.stdout!.on('data', (d: Buffer) => {
        printed += d;
      });
      serve.stderr!.on('data', (d: Buffer) => {
        printed += d;
      });
      const shown = steps[serveAt].shown.length;
      const deadline = Date.now() + 240_000;
      while (printed.split('\n').length <= shown) {
        assert.ok(serve.exitCode === null && Date.now() < deadline, `clap serve printed only:\n${printed}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      assertShape(steps[serveAt], printed.split('\n').slice(0, shown).join('\n'), dir);
      const address = printed.split('\n')[0];
      const hits = (await (await fetch(new URL('api/search?q=a%20dog%20barking&top=2', address))).json()) as { path: string }[];
      assert.equal(hits.length, 2);
    } finally {
      stop(serve);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Ends a detached bash and the clap it started (their process group). */
function stop(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}
