import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PyDict, PyGlobal, StorageRef, TensorRef, isTuple, unpickle, type PyValue } from '../../src/weights/unpickle.js';
import { PickleWriter } from '../../src/weights/pickle-writer.js';
import { hex, throwsClap } from './helpers.js';

const F = '/tmp/evil.pth';
const run = (bytes: Uint8Array, persistentLoad?: (pid: PyValue) => PyValue): PyValue => unpickle(bytes, { file: F, persistentLoad });
const ascii = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

// pickle.dumps(OrderedDict([('a',1),('b',[1,-2,3.5,None,True,False]),('big',2**70),('neg',-2**40),('s','héllo'*3),
//   ('t',(1,2,3,4)),('b2',b'xyz'),('d',{'x':{'y':'z'}}),('m',-1)]), protocol=p), made by CPython 3.11.
const PY_PICKLES: Record<number, string> = {
  2:
    '800263636f6c6c656374696f6e730a4f726465726564446963740a7100295271012858010000006171024b0158010000006271035d7104284b014afeffffff47400' +
    'c0000000000004e888965580300000062696771058a0900000000000000004058030000006e656771068a060000000000ff5801000000737107581200000068c3a9' +
    '6c6c6f68c3a96c6c6f68c3a96c6c6f71085801000000747109284b014b024b034b0474710a58020000006232710b635f636f646563730a656e636f64650a710c580' +
    '300000078797a710d58060000006c6174696e31710e86710f52711058010000006471117d711258010000007871137d7114580100000079711558010000007a7116' +
    '737358010000006d71174affffffff752e',
  4:
    '800495b6000000000000008c0b636f6c6c656374696f6e73948c0b4f72646572656444696374949394295294288c0161944b018c0162945d94284b014afeffffff4' +
    '7400c0000000000004e8889658c03626967948a090000000000000000408c036e6567948a060000000000ff8c0173948c1268c3a96c6c6f68c3a96c6c6f68c3a96c' +
    '6c6f948c017494284b014b024b034b0474948c02623294430378797a948c0164947d948c0178947d948c0179948c017a9473738c016d944affffffff752e',
  5:
    '800595b6000000000000008c0b636f6c6c656374696f6e73948c0b4f72646572656444696374949394295294288c0161944b018c0162945d94284b014afeffffff4' +
    '7400c0000000000004e8889658c03626967948a090000000000000000408c036e6567948a060000000000ff8c0173948c1268c3a96c6c6f68c3a96c6c6f68c3a96c' +
    '6c6f948c017494284b014b024b034b0474948c02623294430378797a948c0164947d948c0178947d948c0179948c017a9473738c016d944affffffff752e',
};

for (const [proto, h] of Object.entries(PY_PICKLES)) {
  test(`reads a CPython protocol ${proto} pickle of plain data`, () => {
    const v = run(hex(h));
    assert.ok(v instanceof PyDict);
    assert.deepEqual([...v.keys()], ['a', 'b', 'big', 'neg', 's', 't', 'b2', 'd', 'm']);
    assert.equal(v.get('a'), 1);
    assert.deepEqual(v.get('b'), [1, -2, 3.5, null, true, false]);
    assert.equal(v.get('big'), 2n ** 70n);
    assert.equal(v.get('neg'), -(2 ** 40));
    assert.equal(v.get('s'), 'héllo'.repeat(3));
    const t = v.get('t') as PyValue;
    assert.ok(isTuple(t));
    assert.deepEqual([...t], [1, 2, 3, 4]);
    assert.deepEqual(Buffer.from(v.get('b2') as Uint8Array).toString(), 'xyz');
    const d = v.get('d') as PyDict;
    assert.equal((d.get('x') as PyDict).get('y'), 'z');
    assert.equal(v.get('m'), -1);
  });
}

test('memo shares objects (protocol 4 MEMOIZE/BINGET)', () => {
  // x = [1, 2]; pickle.dumps([x, x], protocol=4)
  const v = run(hex('8004950f000000000000005d94285d94284b014b02656801652e')) as PyValue[];
  assert.equal(v.length, 2);
  assert.equal(v[0], v[1]);
  assert.deepEqual(v[0], [1, 2]);
});

test('PickleWriter ints round-trip through the VM at every width', () => {
  const values = [
    0,
    1,
    255,
    256,
    65535,
    65536,
    -1,
    -129,
    2 ** 31 - 1,
    -(2 ** 31),
    2 ** 31,
    2 ** 32 + 5,
    -(2 ** 40),
    Number.MAX_SAFE_INTEGER,
    Number.MIN_SAFE_INTEGER,
  ];
  const p = new PickleWriter().mark();
  for (const v of values) p.int(v);
  p.int(2n ** 63n)
    .int(-(2n ** 63n))
    .tuple()
    .stop();
  assert.deepEqual([...(run(p.finish()) as PyValue[])], [...values, 2n ** 63n, -(2n ** 63n)]);
  const f = new PickleWriter().float(-1.5e-300).stop();
  assert.equal(run(f.finish()), -1.5e-300);
});

test('torch globals are interpreted: _rebuild_tensor_v2 with a persistent storage', () => {
  const p = new PickleWriter();
  p.global('torch._utils', '_rebuild_tensor_v2').mark();
  p.mark().str('storage').global('torch', 'HalfStorage').str('7').str('cpu').int(6).tuple().binpersid();
  p.int(1).ints([2, 2]).ints([1, 2]).bool(true).global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce().stop();
  const seen: PyValue[] = [];
  const storage = new StorageRef('7', 'float16', 6, new Uint8Array(12));
  const t = run(p.finish(), (pid) => {
    seen.push(pid);
    return storage;
  });
  assert.ok(t instanceof TensorRef);
  assert.equal(t.storage, storage);
  assert.equal(t.offset, 1);
  assert.deepEqual(t.size, [2, 2]);
  assert.deepEqual(t.stride, [1, 2]);
  assert.equal(t.requiresGrad, true);
  const pid = seen[0] as readonly PyValue[];
  assert.equal(pid[0], 'storage');
  assert.ok(pid[1] instanceof PyGlobal && pid[1].dtype === 'float16');
  assert.equal(pid[2], '7');
});

const EVIL_GLOBALS = [
  ['os', 'system'],
  ['posix', 'system'],
  ['builtins', 'eval'],
  ['__builtin__', 'eval'],
  ['subprocess', 'Popen'],
  ['builtins', 'getattr'],
  ['torch', 'load'],
  ['numpy.core.multiarray', '_reconstruct'],
];

test('disallowed GLOBALs are refused by name before anything could run', () => {
  for (const [mod, name] of EVIL_GLOBALS) {
    const payload = ascii(`\x80\x02c${mod}\n${name}\nX\x0b\x00\x00\x00touch /tmp/x\x85R.`);
    const shown = `${mod === '__builtin__' ? 'builtins' : mod}.${name}`;
    throwsClap(() => run(payload), F, new RegExp(`global "${shown.replace(/\./g, '\\.')}"`), /not allowed/, /nothing was executed/);
  }
  // The same through STACK_GLOBAL (protocol 4).
  const sg = ascii('\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x02id\x85R.');
  throwsClap(() => run(sg), F, /global "os\.system"/);
  // TorchScript globals get a hint.
  throwsClap(() => run(ascii('\x80\x02c__torch__.Model\nModel\n.')), F, /TorchScript/);
});

test('constructs that could run code or reach objects are refused', () => {
  throwsClap(() => run(ascii('\x80\x02(cos\nsystem\nX\x02\x00\x00\x00idi.')), F, /os\.system/); // INST hits GLOBAL check first
  throwsClap(() => run(ascii("\x80\x02(S'x'\n.")), F, /opcode STRING/);
  throwsClap(() => run(ascii('\x80\x02(X\x02\x00\x00\x00osi.')), F, /INST/);
  throwsClap(() => run(ascii('\x80\x02]\x82\x01.')), F, /EXT1/);
  throwsClap(() => run(ascii('\x80\x02ctorch\nFloatStorage\n)R.')), F, /cannot be called/);
  throwsClap(() => run(ascii('\x80\x02X\x01\x00\x00\x00a)R.')), F, /not callable/);
  throwsClap(() => run(ascii('\x80\x02ctorch\nFloatStorage\n)\x81.')), F, /NEWOBJ/);
  throwsClap(() => run(ascii('\x80\x02X\x01\x00\x00\x00a}b.')), F, /BUILD on a str/);
  throwsClap(() => run(ascii('\x80\x02K\x01Q.')), F, /persistent id without a loader/);
  throwsClap(() => run(ascii('\x80\x02ctorch\nShortStorage\n.')), F, /not supported/);
});

test('malformed pickles fail fast with ClapErrors (no hang, no huge allocation)', () => {
  throwsClap(() => run(new Uint8Array(0)), F, /without STOP/);
  throwsClap(() => run(ascii('\x80\x02}')), F, /without STOP/);
  throwsClap(() => run(ascii('\x80\x02X\xff\xff\xff\xffabc.')), F, /BINUNICODE needs 4294967295 bytes/);
  throwsClap(() => run(ascii('\x80\x04\x8d\x00\x00\x00\x00\x00\x01\x00\x00abc.')), F, /exceeds/);
  throwsClap(() => run(ascii('\x80\x02B\x00\x00\x00\x80.')), F, /BINBYTES needs/);
  throwsClap(() => run(ascii('\x80\x02\x8b\xff\xff\xff\x7f.')), F, /LONG4/);
  throwsClap(() => run(ascii('\x80\x02.')), F, /stack underflow/);
  throwsClap(() => run(ascii('\x80\x02(s.')), F, /stack underflow/);
  throwsClap(() => run(ascii('\x80\x02h\x05.')), F, /memo key 5/);
  throwsClap(() => run(ascii('\x80\x02t.')), F, /no MARK/);
  throwsClap(() => run(ascii('\x80\x02K\x01K\x02a.')), F, /APPEND on a int/);
  throwsClap(() => run(ascii('\x80\x06N.')), F, /protocol 6/);
  throwsClap(() => run(ascii(`\x80\x02c${'a'.repeat(600)}\nb\n.`)), F, /longer than 512/);
  throwsClap(() => run(ascii('\x80\x02cos\nsys')), F, /unterminated/);
  // Bounded stack: a long run of DUPs stops at the limit.
  const dups = new Uint8Array(3 + 2000).fill(0x32);
  dups.set([0x80, 0x02, 0x4e]);
  assert.throws(() => unpickle(dups, { file: F, maxStack: 1000 }), /stack exceeds 1000/);
  // Bounded memo.
  const puts = [0x80, 0x02, 0x4e];
  for (let i = 0; i < 50; i++) puts.push(0x71, i);
  assert.throws(() => unpickle(new Uint8Array(puts), { file: F, maxMemo: 10 }), /memo exceeds 10/);
});

test('self-referencing containers do not hang', () => {
  // l = []; l.append(l)
  const v = run(ascii('\x80\x02]q\x00h\x00a.')) as PyValue[];
  assert.equal(v[0], v);
});
