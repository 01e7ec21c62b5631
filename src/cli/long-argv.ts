/**
 * Long command lines (thousands of labels or texts) are handed to a second process in a file.
 *
 * onnxruntime reads /proc/self/cmdline when it starts its environment and recurses over it: a command line
 * of ~28 KB overflows the main thread's stack and the process dies of SIGSEGV before any output. Setting
 * process.title does not help (the kernel still returns the whole argument area). So bin/clap.js, before it
 * loads anything else, relaunches itself with the arguments in a private temporary file when they are long;
 * the child's command line is short and it reads its arguments from the file.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';

/** The environment variable naming the file a relaunched process reads its arguments from. */
export const ARGV_FILE_ENV = 'CLAP_ARGV_FILE';

/** Command lines longer than this (bytes, as the kernel stores them) are relaunched; ~28 KB crashed. */
export const ARGV_BYTES_LIMIT = 8 * 1024;

/** The arguments the CLI runs with: those of this process, or those in the file its launcher wrote (the launcher removes it). */
export function cliArguments(): string[] {
  const file = process.env[ARGV_FILE_ENV];
  if (file === undefined) return process.argv.slice(2);
  delete process.env[ARGV_FILE_ENV];
  const args: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) throw new Error(`${file}: not a list of arguments`);
  return args;
}

/** Whether this process's command line is long enough to crash onnxruntime's start-up. */
export function commandLineTooLong(): boolean {
  return process.argv.reduce((n, a) => n + Buffer.byteLength(a) + 1, 0) > ARGV_BYTES_LIMIT;
}

/**
 * Runs `script` again in a child process with `args` passed through a file readable only by this user, and
 * resolves to the exit status to leave with. The terminal's Ctrl-C reaches the child directly (same process
 * group), so this process ignores SIGINT; SIGTERM and SIGHUP sent to it are passed on. A child killed by a
 * signal is reported as 128 + its number, as shells do.
 */
export function relaunchWithArgumentFile(script: string, args: readonly string[]): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'clap-argv-'));
  const file = join(dir, 'argv.json');
  writeFileSync(file, JSON.stringify(args), { mode: 0o600 });
  const child = spawn(process.execPath, [...process.execArgv, script], {
    stdio: 'inherit',
    env: { ...process.env, [ARGV_FILE_ENV]: file },
  });
  const pass = (signal: NodeJS.Signals) => () => child.kill(signal);
  const handlers = { SIGINT: () => {}, SIGTERM: pass('SIGTERM'), SIGHUP: pass('SIGHUP') } as const;
  for (const [signal, handler] of Object.entries(handlers)) process.on(signal, handler);
  return new Promise((resolve) => {
    const finish = (status: number) => {
      for (const [signal, handler] of Object.entries(handlers)) process.off(signal, handler);
      rmSync(dir, { recursive: true, force: true });
      resolve(status);
    };
    child.on('error', (e) => {
      process.stderr.write(`clap: cannot start a process for the long command line: ${e.message}\n`);
      finish(1);
    });
    child.on('exit', (code, signal) => finish(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  });
}
