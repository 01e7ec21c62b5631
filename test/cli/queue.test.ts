/**
 * Distributed indexing end to end: a real redis-server, `clap index add --queue` as walker and committer,
 * three `clap worker`s and one on other weights, all spawned from bin/clap.js over a library of 300+
 * files. Through a worker killed mid-batch, the committer killed and restarted, and Redis restarted, the
 * index ends up with every readable file exactly once and answers searches as a local index does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { ClapIndex } from '../../src/tasks/clap-index.js';
import { saveSafetensors } from '../../src/weights/safetensors.js';
import { loadWeights } from '../../src/weights/index.js';
import { type ClapProcess, clapCli, commits, until } from '../helpers/cli.js';
import { fixturePath } from '../helpers/fixtures.js';
import { startRedis } from '../helpers/redis.js';
import { writeClips } from '../store/audio-helpers.js';

// Short job locks: a killed worker's batch goes back to the queue within ~2 s; it is listed as gone 3 s after it stopped reporting.
const cli = clapCli({ ...process.env, CLAP_THREADS: '1', CLAP_QUEUE_LOCK_MS: '1500', CLAP_QUEUE_HEARTBEAT_MS: '1000' });
const { ok } = cli;
const CONFIG = ['--config', fixturePath('config.json')];
const W = ['--weights', fixturePath('clap.pth'), ...CONFIG];

async function indexedPaths(db: string): Promise<string[]> {
  const index = await ClapIndex.open(db);
  try {
    const paths = (await index.files()).map((f) => f.path).sort();
    assert.equal((await index.stats()).files, paths.length);
    return paths;
  } finally {
    await index.close();
  }
}

const QUEUE_TEST =
  'clap index add --queue with 3 workers: worker kill -9, committer kill -9 + restart, Redis restart, wrong weights, unreadable files';
test(QUEUE_TEST, async () => {
  const root = mkdtempSync(join(tmpdir(), 'clap-queue-'));
  const redis = await startRedis();
  const procs: ClapProcess[] = [];
  try {
    // The library as the indexing machine sees it, and as the workers see it (--path-map): one file missing there.
    const lib = join(root, 'lib');
    const mirror = join(root, 'mirror');
    writeClips(lib, 300);
    writeClips(lib, 1, 'gone');
    writeFileSync(join(lib, 'garbage.wav'), 'RIFF not really a wav');
    writeFileSync(join(lib, 'empty.wav'), '');
    mkdirSync(mirror);
    for (const name of readdirSync(lib)) if (name !== 'gone000.wav') linkSync(join(lib, name), join(mirror, name));
    // Weights of another model: one tensor changed.
    const weights = await loadWeights(fixturePath('clap.pth'));
    const [name, t] = [...weights.entries()].find(([k]) => k.includes('projection'))!;
    const data = (t.data as Float32Array).slice();
    data[0] += 0.5;
    const wrong = join(root, 'wrong.safetensors');
    await saveSafetensors(wrong, new Map(weights).set(name, { ...t, data }));

    const local = JSON.parse(await ok('index', 'add', lib, '--db', join(root, 'local'), ...W, '--json'));
    assert.deepEqual([local.files, local.skipped.length], [301, 2]);

    const worker = (w: string[]): ClapProcess => {
      const p = cli.spawn('worker', '--queue', redis.url, ...w, '--path-map', `${lib}=${mirror}`, '--decode-threads', '1', '--json');
      procs.push(p);
      return p;
    };
    const [a, b, c] = [worker(W), worker(W), worker(W)];
    const other = worker(['--weights', wrong, ...CONFIG]);
    await until('workers ready', () => [a, b, c, other].every((p) => p.events().some((e) => e.type === 'ready')), [a, b, c, other]);

    const db = join(root, 'db');
    const versions = (): number => commits(db);
    const committerArgs = ['index', 'add', lib, '--db', db, ...W, '--queue', redis.url, '--job-files', '4', '--json'];
    const first = cli.spawn(...committerArgs);
    procs.push(first);

    // A worker killed while it holds a batch: the batch goes to another worker.
    await until('a few commits', () => versions() >= 3, [first]);
    const taken = a.events().filter((e) => e.type === 'taken').length;
    await until('worker A takes a batch', () => a.events().filter((e) => e.type === 'taken').length > taken, [a, first]);
    a.child.kill('SIGKILL');

    // The committer killed mid-run, and started again with the same command.
    await until('more commits', () => versions() >= 25, [first]);
    first.child.kill('SIGKILL');
    assert.equal((await first.exited).signal, 'SIGKILL', 'the committer finished before it could be killed');
    const committed = (await indexedPaths(db)).length;
    assert.ok(committed < 301, `committed before the kill: ${committed}`);
    const second = cli.spawn(...committerArgs);
    procs.push(second);

    // Redis restarted (SIGTERM: it saves its snapshot) while the run goes on.
    const before = versions();
    await until('commits after the restart of the committer', () => versions() >= before + 5, [second]);
    await redis.restart();

    const { code } = await second.exited;
    assert.equal(code, 0, second.err);
    const report = JSON.parse(second.out) as { files: number; skipped: { path: string; reason: string }[] };
    assert.equal(report.files, 300);
    const reasons = new Map(report.skipped.map((s) => [s.path, s.reason]));
    assert.deepEqual([...reasons.keys()].sort(), [join(lib, 'empty.wav'), join(lib, 'garbage.wav'), join(lib, 'gone000.wav')]);
    assert.match(reasons.get(join(lib, 'gone000.wav'))!, /cannot read \(ENOENT\).*read as .*mirror\/gone000\.wav/);

    // Exactly once: every readable file, no duplicates, and nothing else.
    const localPaths = await indexedPaths(join(root, 'local'));
    assert.deepEqual(
      await indexedPaths(db),
      localPaths.filter((p) => !p.endsWith('gone000.wav')),
    );
    // The worker on other weights refused, and the committer said so.
    const refusals = other.events().filter((e) => e.type === 'refused') as unknown as { reason: string }[];
    assert.ok(refusals.length > 0);
    assert.match(refusals[0].reason, /has another model \(weights [0-9a-f]{12}… ≠ indexed [0-9a-f]{12}…\); it never mixes models/);
    assert.equal(other.events().filter((e) => e.type === 'batch').length, 0);
    assert.match(first.err + second.err, /note: worker refused this index's batches: .*another model/);

    // The same search results as the local index (its unreachable file aside).
    for (const q of ['a low hum', 'a high whistle', 'noise']) {
      const [dist, ref] = await Promise.all(
        [db, join(root, 'local')].map(async (d) => JSON.parse(await ok('search', q, '--db', d, '--top', '12', '--exact', '--json'))),
      );
      const expected = (ref as { path: string; score: number }[]).filter((h) => !h.path.endsWith('gone000.wav')).slice(0, 10);
      assert.deepEqual(
        (dist as { path: string }[]).slice(0, 10).map((h) => h.path),
        expected.map((h) => h.path),
      );
      for (let i = 0; i < 10; i++) assert.ok(Math.abs(dist[i].score - expected[i].score) < 1e-5, `${q} #${i}`);
    }

    // queue stats: batches by state and the workers' figures. The killed worker is listed as gone once it has
    // missed three heartbeats (the run may end sooner than that); the others with their work.
    type Stats = { workers: { pid: number; alive: boolean; files: number; refused: number }[] } & Record<string, number>;
    let stats: Stats;
    const byPid = (p: ClapProcess) => stats.workers.find((w) => w.pid === p.child.pid)!;
    for (const deadline = Date.now() + 30_000; ; await new Promise((r) => setTimeout(r, 200))) {
      stats = JSON.parse(await ok('queue', 'stats', '--queue', redis.url, '--json'));
      if (!byPid(a).alive) break;
      assert.ok(Date.now() < deadline, 'the killed worker is still listed as alive after 30 s');
    }
    assert.deepEqual(Object.keys(stats), ['waiting', 'active', 'delayed', 'done', 'failed', 'workers']);
    assert.deepEqual([stats.waiting, stats.active, stats.failed], [0, 0, 0]);
    assert.ok(stats.done >= 76, `done: ${stats.done}`);
    assert.deepEqual(
      [a, b, c, other].map((p) => byPid(p).alive),
      [false, true, true, true],
    );
    assert.ok(byPid(other).refused > 0 && byPid(other).files === 0);
    assert.ok(byPid(b).files + byPid(c).files >= 300 - byPid(a).files, JSON.stringify(stats.workers));

    // retry-failed: a batch that fails on every attempt is put back, and fails again.
    const queue = new Queue('embed', { connection: { url: redis.url, maxRetriesPerRequest: null }, prefix: 'clap' });
    try {
      const job = await queue.add('embed', { index: 'none', files: null }, { attempts: 1, removeOnFail: false });
      const failedAgain = async (attempts: number): Promise<void> => {
        for (const deadline = Date.now() + 30_000; ; await new Promise((r) => setTimeout(r, 50))) {
          const j = await queue.getJob(job.id!);
          if ((await j?.getState()) === 'failed' && j!.attemptsStarted >= attempts) return;
          assert.ok(Date.now() < deadline, 'the broken batch never failed');
        }
      };
      await failedAgain(1);
      assert.equal(JSON.parse(await ok('queue', 'stats', '--queue', redis.url, '--json')).failed, 1);
      assert.deepEqual(JSON.parse(await ok('queue', 'retry-failed', '--queue', redis.url, '--json')), { retried: 1 });
      await failedAgain(2);
    } finally {
      await queue.close();
    }

    // Workers stop cleanly on Ctrl-C.
    for (const p of [b, c, other]) p.child.kill('SIGINT');
    for (const p of [b, c, other]) {
      assert.equal((await p.exited).code, 0, p.err);
    }
  } finally {
    for (const p of procs) if (!p.done) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await redis.stop();
    rmSync(root, { recursive: true, force: true });
  }
});
