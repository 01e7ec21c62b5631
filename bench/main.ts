import { fmt } from './util.js';
import { engineMatmulGflops, plainMatmulGflops } from './matmul.js';

/**
 * `npm run bench [-- --json] [-- --only=text,caption]`: every figure is measured in this run, so ratios compare
 * like with like; --only runs just the sections whose names contain one of the words.
 * Sections register their results into one flat JSON object (keys are a contract, see issue #9).
 */
interface Row {
  what: string;
  value: string;
}

async function run(): Promise<void> {
  const json = process.argv.includes('--json');
  const result: Record<string, unknown> = {};
  const rows: Row[] = [];
  const log = (msg: string): void => {
    if (!json) process.stderr.write(`${msg}\n`);
  };

  log('matmul: engine (1024^3 x4 chain) vs plain TypeScript loop…');
  const peak = await engineMatmulGflops();
  const plain = await plainMatmulGflops();
  result.matmul_peak_gflops = peak;
  result.plain_ts_matmul_gflops = plain;
  rows.push({ what: 'MatMul peak, engine (GFLOP/s)', value: fmt(peak) });
  rows.push({ what: 'MatMul, plain TS loop (GFLOP/s)', value: `${fmt(plain)} (engine ${fmt(peak / plain)}x)` });

  const onlyArg = process.argv.find((a) => a.startsWith('--only='));
  const only = onlyArg ? onlyArg.slice('--only='.length).split(',').filter(Boolean) : [];
  for (const section of (await import('./sections.js')).sections) {
    if (only.length && !only.some((o) => section.name.includes(o))) continue;
    log(`${section.name}…`);
    try {
      await section.run(result, rows, { peak });
    } catch (e) {
      rows.push({ what: section.name, value: `failed: ${(e as Error).message}` });
    }
  }

  const w = Math.max(...rows.map((r) => r.what.length));
  const table = `${rows.map((r) => `${r.what.padEnd(w)}  ${r.value}`).join('\n')}\n`;
  if (json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    // The table too, on stderr (one run gives both); CLAP_BENCH_TABLE=path writes it to a file.
    if (process.env.CLAP_BENCH_TABLE) (await import('node:fs')).writeFileSync(process.env.CLAP_BENCH_TABLE, table);
  } else {
    process.stdout.write(table);
  }
}

await run();
