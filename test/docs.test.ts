/** The documentation's code imports only what a user of the package can import: 'clap-ts' and its exported subpaths. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { name: string; exports: Record<string, string> };

/** Every `import { … } from '…'` in the TypeScript/JavaScript code blocks of `markdown`: its specifier and value names. */
function imports(markdown: string): { from: string; names: string[] }[] {
  const blocks = [...markdown.matchAll(/```(?:ts|typescript|js|javascript|mjs)\n([\s\S]*?)```/g)].map((m) => m[1]);
  return blocks.flatMap((code) =>
    [...code.matchAll(/^import\s+(type\s+)?(?:\{([^}]*)\}|[\w*\s]+?)\s+from\s+'([^']+)'/gm)].map((m) => ({
      from: m[3],
      names: m[1]
        ? []
        : (m[2] ?? '')
            .split(',')
            .map((n) => n.trim())
            .filter((n) => n && !n.startsWith('type '))
            .map((n) => n.split(/\s+as\s+/)[0]),
    })),
  );
}

test('README and docs/*.md import from the package and its exported subpaths only, names it exports (issue 12.10)', async () => {
  const docs = [
    'README.md',
    ...readdirSync(`${root}docs`)
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ];
  const wrong: string[] = [];
  let checked = 0;
  for (const doc of docs) {
    for (const { from, names } of imports(readFileSync(`${root}${doc}`, 'utf8'))) {
      if (from.startsWith('node:')) continue;
      const subpath = from === pkg.name ? '.' : from.startsWith(`${pkg.name}/`) ? `.${from.slice(pkg.name.length)}` : undefined;
      if (subpath === undefined || !(subpath in pkg.exports)) {
        wrong.push(
          `${doc}: imports '${from}' (users can import ${Object.keys(pkg.exports)
            .map((k) => k.replace('.', pkg.name))
            .join(', ')})`,
        );
        continue;
      }
      const module = (await import(from)) as Record<string, unknown>;
      for (const name of names) if (!(name in module)) wrong.push(`${doc}: '${from}' has no export ${name}`);
      checked++;
    }
  }
  assert.deepEqual(wrong, []);
  assert.ok(checked >= 2, 'the docs import the package somewhere');
});
