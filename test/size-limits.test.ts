/**
 * Size rules the build enforces on every source folder: no function over 150 lines and no line over 150
 * characters (Biome formats to 140 but leaves long strings, comments and regexes as they are). Functions are
 * found with the TypeScript parser; a function's lines run from its signature to its closing brace, nested
 * functions included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FOLDERS = ['src', 'web', 'scripts', 'bench', 'test'];
const CODE = /\.(ts|js|mjs|html|css|py)$/;
/** Written by the build (scripts/build-wasm.ts), not by hand. */
const GENERATED = new Set(['src/audio/dsp-wasm.ts']);
const MAX_FUNCTION_LINES = 150;
const MAX_LINE_CHARS = 150;

/**
 * The one exception: the pickle machine's dispatch over opcodes, a flat switch with one short case per opcode
 * (as CPython's _pickle.c has it). Its lines do not count; the rest of the function still must fit.
 */
const DISPATCH_SWITCH = { file: 'src/weights/unpickle.ts', fn: 'unpickle', on: 'op' };

const sourceFiles = (): string[] =>
  FOLDERS.flatMap((folder) =>
    readdirSync(join(ROOT, folder), { recursive: true, encoding: 'utf8' }).map((f) => `${folder}/${f.split('\\').join('/')}`),
  )
    .filter((f) => CODE.test(f) && !f.endsWith('.tmp.ts') && !GENERATED.has(f))
    .sort();

type FunctionNode = ts.FunctionLikeDeclaration & { body: ts.Node };

const hasBody = (node: ts.Node): node is FunctionNode => ts.isFunctionLike(node) && (node as ts.FunctionLikeDeclaration).body !== undefined;

/** What a reader would call the function: its name, the variable or property it is assigned to, or the call it is passed to. */
function functionName(node: FunctionNode): string {
  const named = (n: ts.Node): string | undefined =>
    (ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n) || ts.isAccessor(n) || ts.isFunctionExpression(n)) && n.name
      ? n.name.getText()
      : undefined;
  const own = ts.isConstructorDeclaration(node) ? 'constructor' : named(node);
  const parent = node.parent;
  const owner = ts.isClassLike(parent) && parent.name ? `${parent.name.text}.` : '';
  if (own) return `${owner}${own}`;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) return parent.name.getText();
  if (ts.isCallExpression(parent)) {
    const [first] = parent.arguments;
    const label = first && ts.isStringLiteralLike(first) ? `'${first.text.slice(0, 60)}'` : '…';
    return `callback of ${parent.expression.getText()}(${label})`;
  }
  return '(anonymous function)';
}

interface FunctionSpan {
  name: string;
  line: number;
  lines: number;
  /** Lines of the excepted dispatch switch inside it (0 for every other function). */
  excepted: number;
}

/** Every function with a body in a source text, nested ones included. */
function functionsIn(file: string, text: string): FunctionSpan[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const lineOf = (pos: number): number => sf.getLineAndCharacterOfPosition(pos).line + 1;
  const spanOf = (n: ts.Node): number => lineOf(n.getEnd()) - lineOf(n.getStart()) + 1;
  /** The lines of the dispatch switch in this function's own body (not in functions nested in it). */
  const dispatchLines = (fn: FunctionNode): number => {
    let lines = 0;
    const find = (n: ts.Node): void => {
      if (ts.isSwitchStatement(n) && n.expression.getText() === DISPATCH_SWITCH.on) lines = spanOf(n);
      else if (!hasBody(n)) ts.forEachChild(n, find);
    };
    ts.forEachChild(fn.body, find);
    return lines;
  };
  const out: FunctionSpan[] = [];
  const visit = (node: ts.Node): void => {
    if (hasBody(node)) {
      const name = functionName(node);
      const excepted = file === DISPATCH_SWITCH.file && name === DISPATCH_SWITCH.fn ? dispatchLines(node) : 0;
      out.push({ name, line: lineOf(node.getStart()), lines: spanOf(node), excepted });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');

test(`no function over ${MAX_FUNCTION_LINES} lines`, () => {
  const tooLong = sourceFiles()
    .filter((file) => file.endsWith('.ts'))
    .flatMap((file) => functionsIn(file, read(file)).map((f) => ({ file, ...f })))
    .filter((f) => f.lines - f.excepted > MAX_FUNCTION_LINES)
    .map((f) => `${f.file}:${f.line} ${f.name} is ${f.lines - f.excepted} lines${f.excepted ? ' besides its dispatch switch' : ''}`);
  assert.deepEqual(tooLong, [], `split these along their natural seams (limit ${MAX_FUNCTION_LINES} lines)`);
});

test(`no line over ${MAX_LINE_CHARS} characters`, () => {
  const tooLong: string[] = [];
  for (const file of sourceFiles()) {
    read(file)
      .split('\n')
      .forEach((text, i) => {
        const chars = [...text].length;
        if (chars > MAX_LINE_CHARS) tooLong.push(`${file}:${i + 1} is ${chars} characters`);
      });
  }
  assert.deepEqual(tooLong, [], `break these lines (limit ${MAX_LINE_CHARS} characters)`);
});

test('the function finder names functions as a reader would, and finds the excepted switch', () => {
  const sample = [
    'function declared() {}',
    'const arrow = () => 1;',
    'class Box { constructor() {} method() {} get size() { return 1; } }',
    'const o = { prop: function () {}, short() {} };',
    "test('a name', async () => {});",
    '[1].map((x) => x);',
    'interface Shape { area(): number }',
  ].join('\n');
  assert.deepEqual(
    functionsIn('sample.ts', sample).map((f) => `${f.line} ${f.name}`),
    [
      '1 declared',
      '2 arrow',
      '3 Box.constructor',
      '3 Box.method',
      '3 Box.size',
      '4 prop',
      '4 short',
      "5 callback of test('a name')",
      '6 callback of [1].map(…)',
    ],
  );
  const dispatch = functionsIn(DISPATCH_SWITCH.file, read(DISPATCH_SWITCH.file)).find((f) => f.name === DISPATCH_SWITCH.fn);
  assert.ok(
    dispatch && dispatch.excepted > 0 && dispatch.lines > dispatch.excepted,
    `the excepted switch on ${DISPATCH_SWITCH.on} in ${DISPATCH_SWITCH.file} ${DISPATCH_SWITCH.fn} is gone: update DISPATCH_SWITCH`,
  );
});
