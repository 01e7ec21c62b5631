/** Running the real `bin/clap.js` in tests: one-shot commands, and long-running ones watched while they work. */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/clap.js', import.meta.url));

/** A spawned clap with its output collected and its exit awaited. */
export class ClapProcess {
  readonly child: ChildProcess;
  out = '';
  err = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** `detached`: in a process group of its own, as a shell's foreground job (`process.kill(-pid, 'SIGINT')` is Ctrl-C). */
  constructor(args: readonly string[], env: NodeJS.ProcessEnv, options: { detached?: boolean } = {}) {
    this.child = spawn(process.execPath, [BIN, ...args], { env, detached: options.detached });
    this.child.stdout!.on('data', (d: Buffer) => {
      this.out += d;
    });
    this.child.stderr!.on('data', (d: Buffer) => {
      this.err += d;
    });
    this.exited = new Promise((resolve) => this.child.on('close', (code, signal) => resolve({ code, signal })));
  }
  get done(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }
  /** JSON lines printed so far (e.g. a worker's --json events). */
  events(): { type: string; batch?: string }[] {
    return this.out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
  }
}

/** `clap` with environment `env`: run to the end (`run`, `ok` = must succeed, returns stdout) or `spawn`. */
export function clapCli(env: NodeJS.ProcessEnv) {
  const run = (...args: string[]): Promise<{ code: number; out: string; err: string }> =>
    new Promise((resolve) => {
      execFile(process.execPath, [BIN, ...args], { maxBuffer: 64 << 20, env }, (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out: stdout, err: stderr });
      });
    });
  return {
    run,
    async ok(...args: string[]): Promise<string> {
      const r = await run(...args);
      assert.equal(r.code, 0, `clap ${args.join(' ')}: ${r.err}`);
      return r.out;
    },
    spawn: (...args: string[]): ClapProcess => new ClapProcess(args, env),
    /** As `spawn`, in its own process group, as a shell runs a command: for Ctrl-C to the whole group. */
    spawnJob: (...args: string[]): ClapProcess => new ClapProcess(args, env, { detached: true }),
    /** Runs with stdout a pipe whose reader is gone before the command writes (as `clap ... | head` once head has quit). */
    async closedStdout(...args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; err: string }> {
      const p = new ClapProcess(args, env);
      p.child.stdout!.destroy();
      const { code, signal } = await p.exited;
      return { code, signal, err: p.err };
    },
  };
}

/** Commits an index has seen so far (each store commit is a new table version). */
export function commits(db: string): number {
  const versions = join(db, 'entries.lance', '_versions');
  return existsSync(versions) ? readdirSync(versions).length : 0;
}

/** Waits for `cond`, failing when one of `procs` ends first or after `timeoutMs`. */
export async function until(what: string, cond: () => boolean, procs: ClapProcess[] = [], timeoutMs = 240_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    for (const p of procs) if (p.done) throw new Error(`waiting for ${what}: a process ended: ${p.err}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
