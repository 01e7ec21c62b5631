/**
 * Rules the build enforces on src/: the layer order (a layer imports only layers listed before it) and no
 * runtime import cycles. Type-only imports are free: they vanish at run time and cannot cycle.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/** Bottom to top. `base` is src/errors.ts, src/files.ts and src/version.ts; src/index.ts (the package root) may import anything. */
const LAYERS = ['base', 'engine', 'weights', 'audio', 'text', 'models', 'store', 'tasks', 'web', 'server', 'cli'];
const BASE_FILES = new Set(['errors.ts', 'files.ts', 'version.ts']);
const PACKAGE_ROOT = 'index.ts';

interface Import {
  target: string;
  /** Evaluated when the importing module loads (a static, non-type import or re-export). */
  eager: boolean;
  line: number;
}

const sourceFiles = (): string[] =>
  readdirSync(SRC, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.endsWith('.test.ts'))
    .map((f) => f.split('\\').join('/'))
    .sort();

function layerOf(file: string): string {
  if (BASE_FILES.has(file)) return 'base';
  const top = file.split('/')[0];
  return top === file ? file : top;
}

/** Relative imports of a source file, resolved to src-relative .ts paths. */
function importsOf(file: string): Import[] {
  const text = readFileSync(join(SRC, file), 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: Import[] = [];
  const add = (spec: string, eager: boolean, node: ts.Node): void => {
    if (!spec.startsWith('.')) return;
    const target = relative(SRC, resolve(dirname(join(SRC, file)), spec)).replace(/\.js$/, '.ts');
    out.push({ target: target.split('\\').join('/'), eager, line: sf.getLineAndCharacterOfPosition(node.getStart()).line + 1 });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const named = clause?.namedBindings;
      const typeOnly =
        clause?.isTypeOnly === true ||
        (clause !== undefined &&
          !clause.name &&
          named !== undefined &&
          ts.isNamedImports(named) &&
          named.elements.every((e) => e.isTypeOnly));
      add(node.moduleSpecifier.text, !typeOnly, node);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, !node.isTypeOnly, node);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteral(arg)) add(arg.text, false, node);
    } else if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'URL') {
      // Worker entry points: new URL('./x.js', import.meta.url).
      const [arg] = node.arguments ?? [];
      const specs = arg && ts.isConditionalExpression(arg) ? [arg.whenTrue, arg.whenFalse] : [arg];
      for (const s of specs) if (s && ts.isStringLiteral(s) && /\.(js|ts)$/.test(s.text)) add(s.text, false, node);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

test('every src/ folder has a place in the layer order', () => {
  for (const file of sourceFiles()) {
    if (file === PACKAGE_ROOT) continue;
    assert.ok(LAYERS.includes(layerOf(file)), `src/${file}: add its folder to LAYERS in test/architecture.test.ts`);
  }
});

test('a layer imports only layers listed before it (or itself)', () => {
  const violations: string[] = [];
  for (const file of sourceFiles()) {
    if (file === PACKAGE_ROOT) continue;
    const from = LAYERS.indexOf(layerOf(file));
    for (const imp of importsOf(file)) {
      const to = imp.target === PACKAGE_ROOT ? Number.POSITIVE_INFINITY : LAYERS.indexOf(layerOf(imp.target));
      if (to > from) violations.push(`src/${file}:${imp.line} (${layerOf(file)}) imports src/${imp.target} (${layerOf(imp.target)})`);
    }
  }
  assert.deepEqual(violations, []);
});

test('no runtime import cycles among src/ modules', () => {
  const graph = new Map(
    sourceFiles().map((f) => [
      f,
      importsOf(f)
        .filter((i) => i.eager)
        .map((i) => i.target),
    ]),
  );
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    stack.push(f);
    for (const t of graph.get(f) ?? []) {
      if (state.get(t) === 'open') cycles.push([...stack.slice(stack.indexOf(t)), t].join(' → '));
      else if (!state.has(t)) visit(t);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f);
  assert.deepEqual(cycles, []);
});

test('the import scanner sees what the rules need (type-only, re-exports, dynamic imports, workers)', () => {
  const pipeline = importsOf('tasks/pipeline.ts');
  assert.ok(
    pipeline.some((i) => i.target === 'tasks/frontend-worker.ts' && !i.eager),
    'worker entry point found',
  );
  const root = importsOf('cli/main.ts');
  assert.ok(root.some((i) => i.target === 'errors.ts' && i.eager));
});
