/**
 * The browser library stays browser-safe: bundled for the browser as scripts/build-web.ts bundles it, it pulls
 * in no Node builtin (esbuild refuses node: imports for the browser platform), and no module of ours it
 * pulls in touches a Node global (Buffer, process, require, __dirname) that a browser does not have.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions } from 'esbuild';
import ts from 'typescript';
import { LIBRARY_BUILD } from '../../scripts/web-bundle.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const NODE_GLOBALS = new Set(['Buffer', 'process', 'require', '__dirname', '__filename', 'global']);

async function bundleInputs(entry: string): Promise<string[]> {
  const options: BuildOptions = {
    ...LIBRARY_BUILD,
    entryPoints: [entry],
    absWorkingDir: root,
    outdir: 'out',
    write: false,
    metafile: true,
    logLevel: 'silent',
  };
  const result = await build(options);
  return Object.keys(result.metafile!.inputs);
}

/** `file`'s uses of Node globals as values (not property names or types), as 'name:line'. */
function nodeGlobalsIn(file: string): string[] {
  const sf = ts.createSourceFile(file, readFileSync(`${root}${file}`, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) && NODE_GLOBALS.has(node.text)) {
      const p = node.parent;
      const isName =
        (ts.isPropertyAccessExpression(p) && p.name === node) ||
        (ts.isPropertyAssignment(p) && p.name === node) ||
        ts.isTypeReferenceNode(p) ||
        ts.isQualifiedName(p);
      if (!isName) found.push(`${node.text}:${sf.getLineAndCharacterOfPosition(node.getStart()).line + 1}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

test('the web bundle pulls in no Node builtin and our modules in it use no Node global', async () => {
  const inputs = await bundleInputs('src/web/index.ts');
  assert.deepEqual(
    inputs.filter((f) => f.startsWith('node:')),
    [],
  );
  const ours = inputs.filter((f) => f.startsWith('src/'));
  for (const need of ['src/audio/resample.ts', 'src/audio/decode-bytes.ts', 'src/text/gpt2-tokenizer-json.ts', 'src/tasks/zero-shot.ts']) {
    assert.ok(ours.includes(need), `${need} is shared with the Node library`);
  }
  const uses = ours.flatMap((f) => nodeGlobalsIn(f).map((u) => `${f} ${u}`));
  assert.deepEqual(uses, []);
});

test('the check catches a Node import: the Node decoder (ffmpeg, files) does not bundle for the browser', async () => {
  await assert.rejects(bundleInputs('src/audio/decode.ts'), /node:/);
  assert.ok(nodeGlobalsIn('src/audio/file-reader.ts').some((u) => u.startsWith('Buffer:')));
});
