/**
 * A real redis-server (the Debian package) for queue tests: started on a free loopback port with its
 * data in a temporary folder and Redis's default persistence (RDB snapshots, written on shutdown), so a
 * restart on the same folder is a restart as `systemctl restart redis-server` does it.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestRedis {
  url: string;
  port: number;
  /** SIGTERM (Redis saves its snapshot and exits), then the same server again on the same port and folder. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  /** CPU seconds the running server has used (user + system, from /proc). */
  cpuSeconds(): number;
}

function redisServerPath(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('redis-server is not installed (apt-get install redis-server; .ci/run does it)');
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function waitReady(child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!log().includes('Ready to accept connections')) {
    if (child.exitCode !== null) throw new Error(`redis-server exited: ${log()}`);
    if (Date.now() > deadline) throw new Error(`redis-server did not start: ${log()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function startRedis(): Promise<TestRedis> {
  const bin = redisServerPath();
  const dir = mkdtempSync(join(tmpdir(), 'clap-redis-'));
  const port = await freePort();
  let child: ChildProcess;
  let out = '';
  const launch = async (): Promise<void> => {
    out = '';
    child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no', '--protected-mode', 'yes'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
    });
    child.stderr!.on('data', (d: Buffer) => {
      out += d;
    });
    await waitReady(child, () => out);
  };
  const terminate = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async restart() {
      await terminate();
      await launch();
    },
    async stop() {
      await terminate();
      rmSync(dir, { recursive: true, force: true });
    },
    cpuSeconds() {
      // Fields after the command name: utime and stime are the 12th and 13th, in clock ticks (100 per second on Linux).
      const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    },
  };
}
