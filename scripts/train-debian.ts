/**
 * The from-scratch proof run on real recordings (issue 7): builds a compositional manifest from the
 * Debian sound packages (`../shared/datasets/debian-sounds.sh`), trains a small CLAP with
 * `clap train contrastive` on CPU, and writes docs/training.md + docs/training-curves.svg from the run's
 * log (every number in the doc is read from the run, none is typed by hand).
 *
 *   bash ../shared/datasets/debian-sounds.sh -d .data/debian -s lite
 *   node --import tsx scripts/train-debian.ts [.data/debian/manifest.csv] [--minutes 20]
 *
 * Classes are (source, language) pairs of spoken clips — "word spoken in French" (ktuberling),
 * "letter spoken in French" (klettres), "picture name spoken in French" (tuxpaint-stamps) — so whole
 * classes can be held out while each of their two attributes is still seen in training: zero-shot on the
 * held-out classes needs the text tower to compose them.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCsv } from '../src/tasks/train/manifest.js';
import { readLog, renderSvg } from '../src/tasks/train/plot.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const manifestIn = resolve(args.find((a) => !a.startsWith('--') && !/^\d+$/.test(a)) ?? join(root, '.data/debian/manifest.csv'));
const minutes = Number(args[args.indexOf('--minutes') + 1] ?? 20) || 20;
const perClass = 60;
const work = join(root, '.data/train-debian');
const runDir = join(work, 'run');

const LANGS: Record<string, string> = { fr: 'French', ca: 'Catalan', es: 'Spanish', ro: 'Romanian', ru: 'Russian', bg: 'Bulgarian', en: 'English', el: 'Greek', be: 'Belarusian', da: 'Danish' };
const SOURCES: Record<string, string> = { 'ktuberling-data': 'word', 'klettres-data': 'letter', 'tuxpaint-stamps-default': 'picture name' };

const rows = parseCsv(readFileSync(manifestIn, 'utf8'));
const header = rows[0];
const col = (name: string): number => header.indexOf(name);
const byClass = new Map<string, string[]>();
for (const r of rows.slice(1)) {
  const src = SOURCES[r[col('package')]];
  const lang = LANGS[r[col('lang')]];
  if (!src || !lang || r[col('kind')] !== 'speech') continue;
  const label = `${src} spoken in ${lang}`;
  const list = byClass.get(label) ?? [];
  list.push(resolve(dirname(manifestIn), r[col('path')]));
  byClass.set(label, list);
}
// deterministic subsample per class; keep classes with enough clips
const out = ['path,label'];
const classes: string[] = [];
for (const [label, paths] of [...byClass].sort()) {
  if (paths.length < 30) continue;
  classes.push(label);
  const step = paths.length / Math.min(perClass, paths.length);
  for (let i = 0; i < Math.min(perClass, paths.length); i++) out.push(`"${paths[Math.floor(i * step)]}",${label}`);
}
mkdirSync(work, { recursive: true });
const manifest = join(work, 'manifest.csv');
writeFileSync(manifest, `${out.join('\n')}\n`);
console.error(`${out.length - 1} clips in ${classes.length} classes`);

if (existsSync(runDir)) rmSync(runDir, { recursive: true });
const cliArgs = [
  join(root, 'bin/clap.js'), 'train', 'contrastive', '--data', manifest, '--out', runDir, '--config', 'small',
  '--split-by', 'label', '--val-fraction', '0.25', '--template', 'a {}', '--batch', '32', '--epochs', '40',
  '--lr', '1e-3', '--schedule', 'cosine', '--warmup', '30', '--max-minutes', String(minutes), '--seed', '1',
  '--cache', join(work, 'cache'), '--max-seconds', '10', '--json',
];
const t0 = Date.now();
const summary = JSON.parse(execFileSync(process.execPath, cliArgs, { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 }).toString()) as Record<string, unknown>;
const wall = (Date.now() - t0) / 1000;

// ---- the doc, from the log
const entries = readLog(join(runDir, 'log.jsonl'));
mkdirSync(join(root, 'docs'), { recursive: true });
writeFileSync(join(root, 'docs/training-curves.svg'), renderSvg(entries, 'small CLAP from scratch on Debian speech clips (held-out classes)'));
const start = entries.find((e) => e.type === 'start') as Record<string, number> | undefined;
const steps = entries.filter((e) => e.type === 'step') as { step: number; loss: number }[];
const epochs = entries.filter((e) => e.type === 'epoch') as { epoch: number; step: number; train_loss: number; val: Record<string, number>; best: boolean }[];
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const head = mean(steps.slice(0, 10).map((s) => s.loss));
const tail = mean(steps.slice(-10).map((s) => s.loss));
const best = epochs.reduce<(typeof epochs)[number] | undefined>((b, e) => (!b || e.val.zero_shot_acc > b.val.zero_shot_acc ? e : b), undefined);
const pct = (x: number | undefined): string => (x === undefined ? '–' : `${(100 * x).toFixed(1)}%`);
const cfg = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')) as Record<string, unknown>;
const trainJson = JSON.parse(readFileSync(join(runDir, 'train.json'), 'utf8')) as Record<string, number>;
const held = [...new Set(readFileSync(manifest, 'utf8').split('\n'))].length;
void held;
const md = `# Training CLAP from scratch on real recordings

Generated by \`scripts/train-debian.ts\` from the run's \`log.jsonl\` — do not edit by hand.

**Data.** Spoken clips from Debian packages (\`debian-sounds.sh -s lite\`): ${out.length - 1} clips in
${classes.length} classes, each a (source, language) pair — *word* (ktuberling), *letter* (klettres) or *picture
name* (tuxpaint-stamps) × ${Object.keys(LANGS).length} languages where present, at most ${perClass} clips per class. Captions are
\`a <class>\`, e.g. "a word spoken in French". **Whole classes are held out** (\`--split-by label\`, 25 %):
${trainJson.train_clips} training clips, ${trainJson.val_clips} validation clips of ${best?.val.zero_shot_classes ?? '?'} classes never seen in training
(each of their two attributes is seen in other combinations).

**Model.** \`--config small\` (${JSON.stringify((cfg as { htsat: unknown }).htsat)}; GPT-2 ${JSON.stringify((cfg as { text_encoder: unknown }).text_encoder)};
projection ${JSON.stringify((cfg as { projection: unknown }).projection)}), ${start?.params_trainable ?? '?'} trainable parameters, random initialisation.
Adam, lr 1e-3 with 30 warm-up steps and cosine decay, batch 32, random 7 s crops, symmetric cross-entropy with a
learnable temperature.

**Run.** ${summary.steps} steps, ${summary.epochs_completed} epochs, ${(Number(summary.seconds) / 60).toFixed(1)} min
(wall ${(wall / 60).toFixed(1)} min incl. feature extraction) on this machine's CPU (${Number(summary.seconds_per_step).toFixed(2)} s/step); stop reason: ${summary.status}.

| | value |
| --- | --- |
| training loss, mean of first 10 steps | ${head.toFixed(3)} |
| training loss, mean of last 10 steps | ${tail.toFixed(3)} |
| best epoch (zero-shot on held-out classes) | ${best?.epoch ?? '–'} |
| zero-shot accuracy, held-out clips of held-out classes | **${pct(best?.val.zero_shot_acc)}** (chance ${pct(best?.val.zero_shot_chance)}, ${best?.val.zero_shot_classes} classes) |
| retrieval audio→text R@1 / R@10 (held-out captions) | ${pct(best?.val.a2t_r1)} / **${pct(best?.val.a2t_r10)}** (random R@10 ${pct(best?.val.a2t_r10_random)}) |
| retrieval text→audio R@1 / R@10 | ${pct(best?.val.t2a_r1)} / ${pct(best?.val.t2a_r10)} (random R@10 ${pct(best?.val.t2a_r10_random)}) |

Per epoch:

| epoch | step | train loss | zero-shot | a→t R@10 | t→a R@10 |
| --- | --- | --- | --- | --- | --- |
${epochs.map((e) => `| ${e.epoch} | ${e.step} | ${e.train_loss.toFixed(3)} | ${pct(e.val.zero_shot_acc)} | ${pct(e.val.a2t_r10)} | ${pct(e.val.t2a_r10)} |`).join('\n')}

Captions of validation clips are the class prompts, so retrieval here counts a caption as relevant to every clip of its class.

![curves](training-curves.svg)

Reproduce:

\`\`\`sh
bash ../shared/datasets/debian-sounds.sh -d .data/debian -s lite
npm run build && node --import tsx scripts/train-debian.ts .data/debian/manifest.csv --minutes ${minutes}
\`\`\`

The weights land in \`.data/train-debian/run/final.pth\` with \`config.json\`; e.g.
\`clap classify clip.ogg --weights .data/train-debian/run/final.pth --config .data/train-debian/run/config.json --labels "..." --template "a {}"\`.
`;
writeFileSync(join(root, 'docs/training.md'), md);
console.error(`wrote docs/training.md: zero-shot ${pct(best?.val.zero_shot_acc)} (chance ${pct(best?.val.zero_shot_chance)}), R@10 ${pct(best?.val.a2t_r10)}`);
