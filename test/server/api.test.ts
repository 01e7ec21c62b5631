/** The `clap serve` API in-process: the contract endpoints, every route, hostile input, access control, concurrency. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeWav } from '../../src/audio/index.js';
import { ClapCap } from '../../src/tasks/clapcap.js';
import { clapCli } from '../helpers/cli.js';
import { fixturePath } from '../helpers/fixtures.js';
import { tone, writeClips, writeWav } from '../store/audio-helpers.js';
import { flacBomb } from '../audio/flac-bomb.js';
import { form, rawGet, serveLibrary } from './helpers.js';

const { ok: cli } = clapCli({ ...process.env, CLAP_THREADS: '1' });

const close = (a: number, b: number, tol = 1e-6): boolean => Math.abs(a - b) <= tol;

test('contract: /api/search and /api/stats answer what clap search --json and clap index stats --json print', async () => {
  const s = await serveLibrary(5);
  try {
    const search = await s.json<{ path: string; score: number }[]>('/api/search?q=a%20dog%20barking&top=3');
    assert.equal(search.status, 200);
    const cliHits = JSON.parse(await cli('search', 'a dog barking', '--db', s.db, '--top', '3', '--json')) as typeof search.body;
    assert.deepEqual(
      search.body.map((h) => h.path),
      cliHits.map((h) => h.path),
    );
    for (const [i, h] of search.body.entries()) {
      assert.deepEqual(Object.keys(h), ['path', 'score']);
      assert.ok(close(h.score, cliHits[i].score), `${h.score} vs ${cliHits[i].score}`);
    }
    const stats = await s.json('/api/stats');
    assert.equal(stats.status, 200);
    assert.deepEqual(stats.body, JSON.parse(await cli('index', 'stats', '--db', s.db, '--json')));

    // The default is 10 hits; filters as in clap search.
    assert.equal((await s.json<unknown[]>('/api/search?q=rain')).body.length, 5);
    const named = await s.json<{ path: string }[]>(`/api/search?q=rain&glob=${encodeURIComponent('clip00[12].wav')}`);
    assert.deepEqual(named.body.map((h) => h.path).sort(), [join(s.lib, 'clip001.wav'), join(s.lib, 'clip002.wav')]);
    assert.deepEqual((await s.json<unknown[]>('/api/search?q=rain&min-duration=2')).body, []);
    const like = await s.json<{ path: string }[]>(`/api/search?like=${encodeURIComponent(join(s.lib, 'clip000.wav'))}&exact=true`);
    assert.equal(like.status, 200);
    assert.equal(like.body.length, 4);
    assert.ok(!like.body.some((h) => h.path === join(s.lib, 'clip000.wav')));

    for (const [query, message] of [
      ['', "give a search text ('q') or a library file to sound like ('like')"],
      ['?q=a&like=/x', "give a search text ('q') or a library file to sound like ('like')"],
      ['?q=%20', 'the search text is empty'],
      ['?q=a&top=0', "parameter 'top' must be >= 1"],
      ['?q=a&top=ten', "parameter 'top' must be integer"],
      ['?q=a&level=window', 'this index has no per-window vectors (it was not built with sliding windows)'],
    ]) {
      const r = await s.json(`/api/search${query}`);
      assert.deepEqual(r, { status: 400, body: { error: message } }, query);
    }
  } finally {
    await s.close();
  }
});

test('contract: POST /api/classify gives {"scores"} as clap classify --json; captions and "find similar" for uploads', async () => {
  const s = await serveLibrary(4);
  const cap = await ClapCap.load({ weights: fixturePath('clapcap.pth'), config: fixturePath('config.json'), threads: 1 });
  s.server.context.captioner = cap;
  try {
    const file = join(s.lib, 'clip002.wav');
    const r = await s.json<{ scores: Record<string, number> }>('/api/classify', {
      method: 'POST',
      body: form(readFileSync(file), { labels: 'dog barking, rain ,speech' }),
    });
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body), ['scores']);
    const [want] = JSON.parse(
      await cli('classify', file, '--labels', 'dog barking,rain,speech', '--weights', fixturePath('clap.pth'), '--json'),
    ) as {
      scores: Record<string, number>;
    }[];
    assert.deepEqual(Object.keys(r.body.scores), Object.keys(want.scores));
    for (const k of Object.keys(want.scores)) assert.ok(close(r.body.scores[k], want.scores[k]), k);
    const multi = await s.json<{ scores: Record<string, number> }>('/api/classify', {
      method: 'POST',
      body: form(readFileSync(file), { labels: 'a,b', 'multi-label': 'true' }),
    });
    const single = await s.json<{ scores: Record<string, number> }>('/api/classify', {
      method: 'POST',
      body: form(readFileSync(file), { labels: 'a,b' }),
    });
    assert.ok(close(single.body.scores.a + single.body.scores.b, 1), 'a softmax sums to 1');
    assert.ok(!close(multi.body.scores.a + multi.body.scores.b, 1, 1e-3), 'a sigmoid per label does not');

    const caption = await s.json<{ caption: string }>('/api/caption', { method: 'POST', body: form(readFileSync(file)) });
    assert.equal(caption.status, 200);
    assert.equal(caption.body.caption, (await cap.caption([file]))[0].caption);

    const similar = await s.json<{ path: string; score: number }[]>('/api/similar', {
      method: 'POST',
      body: form(readFileSync(file), { top: '2' }),
    });
    assert.equal(similar.status, 200);
    assert.equal(similar.body.length, 2);
    assert.equal(similar.body[0].path, file, 'an upload of a library file finds that file first');
    assert.ok(close(similar.body[0].score, 1, 1e-5));
    s.server.context.captioner = undefined;
    const off = await s.json('/api/caption', { method: 'POST', body: form(readFileSync(file)) });
    assert.deepEqual(off, { status: 501, body: { error: 'captioning is off: start clap serve with --caption-weights clapcap.pth' } });
  } finally {
    await cap.release();
    await s.close();
  }
});

test('uploads: oversized, malformed, not audio, bombs, extra files and missing fields get a 4xx with one line', async () => {
  const s = await serveLibrary(1, { uploads: { bytes: 100_000, seconds: 5 } });
  try {
    const wav = readFileSync(join(s.lib, 'clip000.wav'));
    const post = (body: BodyInit, path = '/api/classify') => s.json<{ error: string }>(path, { method: 'POST', body });
    const cases: [string, BodyInit, number, RegExp][] = [
      ['too large', form(new Uint8Array(200_000), { labels: 'a' }), 413, /^the upload is too large$/],
      [
        'not audio',
        form(new TextEncoder().encode('hello, world'), { labels: 'a' }, 'x.wav'),
        415,
        /^x\.wav: not a recognised audio format/,
      ],
      ['empty', form(new Uint8Array(0), { labels: 'a' }), 400, /^clip\.wav: the file is empty$/],
      ['truncated WAV', form(wav.subarray(0, 2000), { labels: 'a' }), 422, /^clip\.wav: truncated WAV file/],
      ['too long', form(encodeWav([new Float32Array(8000 * 6)], 8000, 'pcm16'), { labels: 'a' }), 422, /6\.0 s long, over the 5 s limit/],
      ['FLAC bomb', form(flacBomb(2000), { labels: 'a' }, 'bomb.flac'), 422, /^bomb\.flac: FLAC audio is longer than the 5 s limit$/],
      ['no labels', form(wav), 400, /^give the labels/],
      ['duplicate labels', form(wav, { labels: 'a,b,a' }), 400, /^label 'a' is given twice$/],
      ['no file', form(null, { labels: 'a' }), 400, /^no "file" field/],
      ['not multipart', JSON.stringify({ labels: 'a' }), 415, /multipart\/form-data/],
    ];
    const twoFiles = form(wav, { labels: 'a' });
    twoFiles.append('file', new Blob([wav]), 'second.wav');
    cases.push(['two files', twoFiles, 413, /^too many files/]);
    const m4a = readFileSync(fileURLToPath(new URL('../audio/data/tone_stereo_44k.m4a', import.meta.url)));
    cases.push(['a format needing ffmpeg', form(m4a, { labels: 'a' }, 'x.m4a'), 415, /^x\.m4a: MP4\/M4A is not accepted/]);
    for (const [what, body, status, message] of cases) {
      const r = await post(body);
      assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error, message, what);
      assert.ok(!r.body.error.includes('\n'), what);
    }
    // The server is still healthy.
    assert.equal((await post(form(wav, { labels: 'a,b' }))).status, 200);
  } finally {
    await s.close();
  }
});

test('files: only inside the indexed roots and --allow roots; .., encoded .., symlinks out, relative paths refused', async () => {
  const s = await serveLibrary(2);
  try {
    const outside = join(s.root, 'secret.wav');
    writeWav(outside, tone(300, 1, 8000), 8000);
    symlinkSync(outside, join(s.lib, 'link-out.wav'));
    symlinkSync(s.root, join(s.lib, 'dir-out'));
    const enc = encodeURIComponent;
    const refused: [string, number, RegExp][] = [
      [outside, 403, /is outside the library/],
      [`${s.lib}/../secret.wav`, 403, /is outside the library/],
      [`${s.lib}/%2e%2e/secret.wav`, 404, /no such file/], // a literal '%2e%2e' folder after one decoding
      [join(s.lib, 'link-out.wav'), 403, /link-out\.wav is outside the library/],
      [join(s.lib, 'dir-out', 'secret.wav'), 403, /is outside the library/],
      ['/etc/passwd', 403, /is outside the library/],
      ['lib/clip000.wav', 400, /must be an absolute path/],
      [join(s.lib, 'missing.wav'), 404, /no such file/],
      [s.lib, 400, /is not a file/],
      [`${s.lib}/clip000.wav\0.txt`, 400, /NUL/],
    ];
    for (const [path, status, message] of refused) {
      for (const route of ['/api/audio', '/api/peaks']) {
        const r = await s.json<{ error: string }>(`${route}?path=${enc(path)}`);
        assert.equal(r.status, status, `${route} ${path}: ${JSON.stringify(r.body)}`);
        assert.match(r.body.error, message);
      }
    }
    // Doubly encoded dots arrive as one decoding: '..' — refused like the plain form.
    const r = await s.get(`/api/audio?path=${s.lib}/%252e%252e/secret.wav`);
    assert.equal(r.status, 404);
    const like = await s.json(`/api/search?like=${enc(outside)}`);
    assert.equal(like.status, 403);

    // --allow widens what may be read: another server allowed this test's root reads secret.wav.
    const allowed = await serveLibrary(1, { allow: [s.root] });
    try {
      assert.equal((await allowed.get(`/api/peaks?path=${enc(outside)}`)).status, 200);
      assert.equal((await allowed.get(`/api/peaks?path=${enc(join(allowed.root, 'other.wav'))}`)).status, 403);
    } finally {
      await allowed.close();
    }
  } finally {
    await s.close();
  }
});

test('audio: streamed as it is with range requests; other formats and windows decoded to WAV; peaks', async () => {
  const s = await serveLibrary(1, { indexed: false, allowRoot: true });
  try {
    const wavPath = join(s.lib, 'clip000.wav');
    const bytes = readFileSync(wavPath);
    const enc = encodeURIComponent;
    const whole = await s.get(`/api/audio?path=${enc(wavPath)}`);
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get('content-type'), 'audio/wav');
    assert.equal(whole.headers.get('accept-ranges'), 'bytes');
    assert.deepEqual(new Uint8Array(await whole.arrayBuffer()), new Uint8Array(bytes));
    const part = await s.get(`/api/audio?path=${enc(wavPath)}`, { headers: { range: 'bytes=100-199' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 100-199/${bytes.length}`);
    assert.deepEqual(new Uint8Array(await part.arrayBuffer()), new Uint8Array(bytes.subarray(100, 200)));
    assert.equal((await s.get(`/api/audio?path=${enc(wavPath)}`, { headers: { range: `bytes=${bytes.length + 10}-` } })).status, 416);

    // A window decoded to 16-bit WAV: [0.25, 0.75) s of a 16 kHz file is 8000 frames.
    const win = await s.get(`/api/audio?path=${enc(wavPath)}&start=0.25&end=0.75`);
    assert.equal(win.status, 200);
    assert.equal(win.headers.get('content-type'), 'audio/wav');
    const winBytes = new Uint8Array(await win.arrayBuffer());
    assert.equal(winBytes.length, 44 + 8000 * 2);
    assert.equal((await s.json(`/api/audio?path=${enc(wavPath)}&start=5`)).status, 416);
    assert.equal((await s.json(`/api/audio?path=${enc(wavPath)}&start=0.5&end=0.2`)).status, 400);

    // float64 WAV is not played by browsers: decoded to 16-bit WAV.
    const f64 = join(s.lib, 'f64.wav');
    writeFileSync(f64, encodeWav([tone(440, 0.5, 8000)], 8000, 'float64'));
    const conv = await s.get(`/api/audio?path=${enc(f64)}`);
    assert.equal(conv.headers.get('content-type'), 'audio/wav');
    assert.equal((await conv.arrayBuffer()).byteLength, 44 + 4000 * 2);

    const peaks = await s.json<{
      duration: number;
      sampleRate: number;
      channels: number;
      format: string;
      streamable: boolean;
      peaks: number[];
    }>(`/api/peaks?path=${enc(wavPath)}&n=50`);
    assert.equal(peaks.status, 200);
    assert.deepEqual(
      { ...peaks.body, peaks: peaks.body.peaks.length },
      { duration: 1, sampleRate: 16000, channels: 1, format: 'wav', streamable: true, peaks: 50 },
    );
    for (const p of peaks.body.peaks) assert.ok(p > 0.35 && p <= 0.5, `peak ${p} of a 0.4-amplitude tone`);
    assert.equal((await s.json<{ streamable: boolean }>(`/api/peaks?path=${enc(f64)}`)).body.streamable, false);
    const broken = join(s.lib, 'broken.wav');
    writeFileSync(broken, 'RIFF garbage');
    const bad = await s.json<{ error: string }>(`/api/peaks?path=${enc(broken)}`);
    assert.equal(bad.status, 422);
    assert.match(bad.body.error, /^\/.*broken\.wav: /);
  } finally {
    await s.close();
  }
});

test('library: add (under an allowed root), progress events, sync, remove; changes need the token', async () => {
  const s = await serveLibrary(2);
  try {
    const more = join(s.root, 'more');
    writeClips(more, 3, 'more');
    writeFileSync(join(more, 'broken.wav'), 'RIFF garbage');
    const body = (path: string) => JSON.stringify({ path });
    const headers = { 'content-type': 'application/json', 'x-clap-token': s.server.token! };
    const noToken = await s.json('/api/library/add', { method: 'POST', body: body(more), headers: { 'content-type': 'application/json' } });
    assert.deepEqual(noToken, {
      status: 401,
      body: { error: "this request changes the library: send the server's token (header x-clap-token)" },
    });
    const wrong = await s.json('/api/library/sync', { method: 'POST', headers: { 'x-clap-token': 'nope' } });
    assert.equal(wrong.status, 401);
    const notAllowed = await s.json<{ error: string }>('/api/library/add', { method: 'POST', body: body(more), headers });
    assert.equal(notAllowed.status, 403, 'not under an indexed or --allow root');

    const wide = await serveLibrary(0, { allowRoot: true, indexed: false });
    try {
      const more = join(wide.root, 'more');
      writeClips(more, 3, 'more');
      writeFileSync(join(more, 'broken.wav'), 'RIFF garbage');
      const events: { event: string; data: { state?: string; done?: number } }[] = [];
      const stream = await wide.get('/api/library/events');
      assert.equal(stream.headers.get('content-type'), 'text/event-stream; charset=utf-8');
      const reader = stream.body!.getReader();
      const reading = (async () => {
        let text = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          text += new TextDecoder().decode(value);
          let cut: number;
          while ((cut = text.indexOf('\n\n')) >= 0) {
            const block = text.slice(0, cut);
            text = text.slice(cut + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (event && data) events.push({ event, data: JSON.parse(data) });
            if (events.some((e) => e.data.state === 'done')) return;
          }
        }
      })();
      const headersWide = { ...headers, 'x-clap-token': wide.server.token! };
      const added = await wide.json<{ id: number; state: string }>('/api/library/add', {
        method: 'POST',
        body: body(more),
        headers: headersWide,
      });
      assert.equal(added.status, 202);
      assert.equal(added.body.state, 'queued');
      await reading;
      await reader.cancel();
      assert.equal(events[0].event, 'jobs');
      const states = events.filter((e) => e.event === 'job').map((e) => e.data.state);
      assert.deepEqual([states[0], states[1], states.at(-1)], ['queued', 'running', 'done']);
      const [job] = (
        await wide.json<{ state: string; report: Record<string, number>; failures: { path: string; reason: string }[] }[]>(
          '/api/library/jobs',
        )
      ).body;
      assert.equal(job.state, 'done');
      assert.deepEqual([job.report.added, job.report.skipped, job.report.files], [3, 1, 3]);
      assert.equal(job.failures[0].path, join(more, 'broken.wav'));
      assert.ok(job.failures[0].reason.length > 0);
      assert.deepEqual((await wide.json<{ roots: string[] }>('/api/library')).body.roots, [more]);

      writeClips(more, 4, 'more'); // one new file
      await wide.json('/api/library/sync', { method: 'POST', headers: { 'x-clap-token': wide.server.token! } });
      await wide.server.context.library.idle();
      assert.equal((await wide.json<{ files: number }>('/api/stats')).body.files, 4);
      const outside = await wide.json('/api/library/remove', { method: 'POST', body: body('/etc'), headers: headersWide });
      assert.equal(outside.status, 400);
      await wide.json('/api/library/remove', { method: 'POST', body: body(join(more, 'more000.wav')), headers: headersWide });
      await wide.server.context.library.idle();
      assert.equal((await wide.json<{ files: number }>('/api/stats')).body.files, 3);
      const bad = await wide.json('/api/library/add', { method: 'POST', body: '{"folder": "/x"}', headers: headersWide });
      assert.deepEqual(bad, { status: 400, body: { error: "missing field 'path'" } });
      const malformed = await wide.json('/api/library/add', { method: 'POST', body: '{', headers: headersWide });
      assert.deepEqual(malformed, { status: 400, body: { error: 'the body is not valid JSON' } });
    } finally {
      await wide.close();
    }
  } finally {
    await s.close();
  }
});

test('concurrent searches while indexing: every one answers, and the file count only grows', async () => {
  const s = await serveLibrary(0, { indexed: false, allowRoot: true, indexing: { decodeThreads: 0, batchSize: 2 } });
  try {
    const lib = join(s.root, 'big');
    writeClips(lib, 30);
    const headers = { 'content-type': 'application/json', 'x-clap-token': s.server.token! };
    assert.equal((await s.json('/api/library/add', { method: 'POST', body: JSON.stringify({ path: lib }), headers })).status, 202);
    let duringRun = 0;
    let lastCount = 0;
    for (;;) {
      const running = (await s.json<{ state: string }[]>('/api/library/jobs')).body[0].state !== 'done';
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) => s.json<{ path: string }[]>(`/api/search?q=sound%20${i}&top=50`)),
      );
      for (const a of answers) {
        assert.equal(a.status, 200, JSON.stringify(a.body));
        assert.ok(a.body.length >= lastCount, 'no committed file disappears');
      }
      lastCount = Math.max(...answers.map((a) => a.body.length));
      if (!running) break;
      if (lastCount > 0 && lastCount < 30) duringRun++;
    }
    assert.ok(duringRun > 0, 'some searches saw a partly indexed library');
    assert.equal(lastCount, 30);
  } finally {
    await s.close();
  }
});

test('access: Host, cross-site and foreign-origin requests refused; token everywhere on a non-loopback bind; cookie from ?token=', async () => {
  const s = await serveLibrary(1);
  try {
    assert.equal(s.server.auth, 'writes');
    assert.equal(s.server.url, `${s.server.origin}/`);
    const deny = async (init: RequestInit, status: number, message: RegExp, path = '/api/stats') => {
      const r = await s.json<{ error: string }>(path, init);
      assert.equal(r.status, status);
      assert.match(r.body.error, message);
    };
    const rebound = await rawGet(`${s.server.origin}/api/stats`, { host: 'attacker.example:80' });
    assert.deepEqual(rebound, {
      status: 403,
      body: JSON.stringify({ error: "unexpected Host header 'attacker.example:80' (this server answers on 127.0.0.1 only)" }),
    });
    await deny({ headers: { 'sec-fetch-site': 'cross-site' } }, 403, /cross-site requests are refused/);
    await deny(
      { method: 'POST', headers: { origin: 'http://attacker.example' }, body: form(null) },
      403,
      /another origin/,
      '/api/classify',
    );
    assert.equal((await s.get('/api/stats', { headers: { 'sec-fetch-site': 'same-origin' } })).status, 200);
    // No permissive CORS, and security headers on every answer.
    const r = await s.get('/api/stats', { headers: { origin: 'http://attacker.example' } });
    assert.equal(r.headers.get('access-control-allow-origin'), null);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.match(r.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  } finally {
    await s.close();
  }

  const open = await serveLibrary(1, { host: '0.0.0.0', token: 'a-fixed-token-for-tests' });
  try {
    assert.equal(open.server.auth, 'all');
    assert.match(open.server.url, /\/\?token=a-fixed-token-for-tests$/);
    const port = new URL(open.server.origin).port;
    const at = (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${port}${path}`, { redirect: 'manual', ...init });
    const missing = await at('/api/stats');
    assert.equal(missing.status, 401);
    assert.match(((await missing.json()) as { error: string }).error, /needs its access token/);
    assert.equal((await at('/')).status, 401);
    assert.equal((await at('/api/stats?token=wrong')).status, 401);
    assert.equal((await at('/api/stats', { headers: { authorization: 'Bearer a-fixed-token-for-tests' } })).status, 200);
    assert.equal((await at('/api/stats', { headers: { 'x-clap-token': 'a-fixed-token-for-tests' } })).status, 200);
    const page = await at('/?q=dog&token=a-fixed-token-for-tests');
    assert.equal(page.status, 302);
    assert.equal(page.headers.get('location'), '/?q=dog');
    const cookie = page.headers.get('set-cookie')!;
    assert.match(cookie, new RegExp(`^clap_token_${port}=a-fixed-token-for-tests; Path=/; HttpOnly; SameSite=Strict$`));
    const withCookie = { headers: { cookie: cookie.split(';')[0] } };
    assert.equal((await at('/api/stats', withCookie)).status, 200, 'the cookie lets the page read');
    const write = await at('/api/library/sync', { method: 'POST', ...withCookie });
    assert.equal(write.status, 401, 'but not change the library: that needs the token itself');
  } finally {
    await open.close();
  }

  const noAuth = await serveLibrary(1, { auth: false });
  try {
    assert.equal(noAuth.server.token, null);
    assert.equal((await noAuth.json('/api/library/sync', { method: 'POST' })).status, 202);
  } finally {
    await noAuth.close();
  }
});

test('openapi.json documents every API route, the contract shapes and the token', async () => {
  const s = await serveLibrary(0, { indexed: false });
  try {
    const doc = (
      await s.json<{ openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown> }>> }>('/openapi.json')
    ).body;
    assert.match(doc.openapi, /^3\./);
    assert.deepEqual(Object.keys(doc.paths).sort(), [
      '/api/audio',
      '/api/caption',
      '/api/classify',
      '/api/library',
      '/api/library/add',
      '/api/library/events',
      '/api/library/jobs',
      '/api/library/remove',
      '/api/library/sync',
      '/api/peaks',
      '/api/search',
      '/api/similar',
      '/api/stats',
    ]);
    const hit = (
      doc.paths['/api/search'].get.responses['200'] as { content: Record<string, { schema: { items: { required: string[] } } }> }
    ).content['application/json'].schema.items;
    assert.deepEqual(hit.required, ['path', 'score']);
    assert.ok(
      'multipart/form-data' in (doc.paths['/api/classify'].post as unknown as { requestBody: { content: object } }).requestBody.content,
    );
  } finally {
    await s.close();
  }
});
