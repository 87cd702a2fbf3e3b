#!/usr/bin/env node
// The corrupt-file campaign: hundreds of damaged copies of a model's files (config.json,
// generation_config.json, model.safetensors, tokenizer.json, tokenizer_config.json, a
// compressed-tensors export and a GGUF export), each loaded by the command line one run at a time
// under a memory cap and a timeout, and every run sorted by what the user would see:
//   refused   - non-zero exit with a message naming the damaged file, no library text, short lines
//   same      - accepted, and the output is the undamaged model's (the damage does not matter)
//   warned    - accepted with a warning, output changed
//   valid     - accepted, output changed, and the changed file is still a valid model that
//               transformers (or vLLM) reads the same way; each such case is listed in kValid
//   silent    - accepted, output changed, nothing said            (a finding)
//   unnamed   - refused without naming the file                   (a finding)
//   raw       - refused with a library's own message              (a finding)
//   long      - a stderr line over 2,100 bytes                     (a finding)
//   big       - over 2 GB resident                                 (a finding)
//   crash     - killed by a signal, or a timeout                   (a finding)
// The libFuzzer targets in this folder look for crashes inside one parser; this looks at the
// whole program as the user meets it. Node only (no packages).
//   node fuzz/hostile.mjs SAFEQUANT MODEL_DIR [--keep WORK] [--only CLASS,...] [--list]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const args = process.argv.slice(2);
const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args.splice(i, 2)[1] : undefined; };
const flag = (name) => { const i = args.indexOf(name); return i >= 0 ? (args.splice(i, 1), true) : false; };
const keep = opt('--keep');
const only = opt('--only');
const listOnly = flag('--list');
if (args.length !== 2) {
  console.error('usage: node fuzz/hostile.mjs SAFEQUANT MODEL_DIR [--keep WORK] [--only CLASS,...] [--list]');
  process.exit(2);
}
const [exe, modelDir] = args.map((a) => path.resolve(a));
const work = keep ? path.resolve(keep) : fs.mkdtempSync(path.join(os.tmpdir(), 'hostile-'));
fs.mkdirSync(work, { recursive: true });
const kMaxRss = 2 * 1024 * 1024;  // KiB
const kMaxLine = 2100;            // "safequant CMD: error: " plus the 2,000-byte message cap
const kTimeout = 120;             // seconds
const kRaw = /json\.exception|c10::|std::|bad_alloc|what\(\)|terminate called|Exception raised from|basic_string|\bstoi\b|\bstol\b|\bstod\b|vector::|Segmentation|core dumped|Assertion .* failed/;

// Changes after which the files still describe a valid model, read as transformers, tokenizers or
// vLLM read it: a changed output is then right, not silent. By variant name.
const kValid = [
  [/^config\.json rms_norm_eps = deleted$/, "transformers' LlamaConfig default, 1e-6"],
  [/^config\.json rope_theta = deleted$/, "transformers' default, 10000"],
  [/^config\.json rope_theta = 2\^62$/, 'any RoPE base above 1 is used as given (a huge one all but turns rotation off)'],
  [/^tokenizer_config\.json chat_template = string$/, 'a template of plain text is a valid template'],
  [/^tokenizer\.json decoder = (deleted|null)$/, 'no decoder: tokenizers joins the tokens with spaces'],
  [/^tokenizer\.json model\.end_of_word_suffix = string$/, "a BPE option tokenizers honours"],
  [/^tokenizer\.json model\.merges = \[\]$/, 'a BPE without merges: one token per symbol'],
  [/^tokenizer\.json pre_tokenizer = (deleted|null)$/, 'no pre-tokenizer is a valid pipeline'],
  [/^tokenizer\.json pre_tokenizer\.add_prefix_space = (deleted|true)$/, "ByteLevel's option (default true)"],
  [/^config\.json quantization_config\.config_groups\.group_0\.input_activations = (deleted|null)$/,
    'weights-only quantization: activations stay in floating point'],
];

// ---- running one command --------------------------------------------------------------------

function run(cmd) {
  const timeFile = path.join(work, '.time');
  const r = spawnSync('timeout', ['-s', 'KILL', String(kTimeout), '/usr/bin/time', '-q', '-f', '%M', '-o', timeFile,
    'prlimit', '--as=8589934592', '--', exe, ...cmd], { encoding: 'latin1', maxBuffer: 1 << 30, env: { ...process.env, OMP_NUM_THREADS: '1' } });
  let rss = 0;
  try { rss = parseInt(fs.readFileSync(timeFile, 'latin1').trim().split('\n').pop(), 10) || 0; } catch { /* killed */ }
  // time(1) reports a child killed by a signal as "Command terminated by signal N".
  let signal = r.signal || (r.status === 137 ? 'SIGKILL' : null);
  try { if (/terminated by signal/.test(fs.readFileSync(timeFile, 'latin1'))) signal = signal || 'signal'; } catch { /* none */ }
  return { status: r.status, signal, stdout: r.stdout || '', stderr: r.stderr || '', rss };
}

// ---- the model's files, and two exports of it --------------------------------------------------

const base = path.join(work, 'base');
fs.rmSync(base, { recursive: true, force: true });
fs.cpSync(modelDir, base, { recursive: true });
const ctDir = path.join(work, 'ct');
const ggufDir = path.join(work, 'gguf');
for (const [format, out] of [['ct-w8a8', ctDir], ['gguf-f16', ggufDir]]) {
  fs.rmSync(out, { recursive: true, force: true });
  const r = run(['export', '--model', base, '--format', format, '--out', out, '--quiet']);
  if (r.status !== 0) { console.error(`hostile: export ${format} failed: ${r.stderr}`); process.exit(1); }
}
const ggufFile = path.join(ggufDir, fs.readdirSync(ggufDir).find((f) => f.endsWith('.gguf')));
// An export's manifest would refuse every damaged copy by size or hash before anything is parsed:
// the campaign wants the parsers, so the copies go without it.
fs.rmSync(path.join(ctDir, 'manifest.json'));

const commandsFor = {
  weights: (m) => [['logits', '--model', m, '--tokens', '1,2,3', '--quiet']],
  tokenizer: (m) => [['tokenize', '--model', m, '--text', 'Hello there, how are you?', '--special'],
    ['generate', '--model', m, '--prompt', 'Hello there', '--chat', '--max-new', '2', '--quiet']],
  gguf: (m) => [['logits', '--model', m, '--tokens', '1,2,3', '--quiet'],
    ['generate', '--model', m, '--prompt', 'Hello there', '--chat', '--max-new', '2', '--quiet']],
};

// ---- building the damaged copies ------------------------------------------------------------

const variants = [];  // {cls, name, file, kind, make(dir)}
const add = (cls, name, file, kind, make) => variants.push({ cls, name, file, kind, make });
const readJson = (f) => JSON.parse(fs.readFileSync(f, 'utf8'));
const bigInt = 4611686018427387904n;  // 2^62
const huge = 'A'.repeat(5 << 20);

// JSON text with exact big integers where a value is a BigInt.
const toJson = (v) => JSON.stringify(v, (k, x) => (typeof x === 'bigint' ? `@@${x}@@` : x)).replace(/"@@(-?\d+)@@"/g, '$1');

function getAt(obj, keys) { return keys.reduce((o, k) => o[k], obj); }
function setAt(obj, keys, value) {
  const parent = getAt(obj, keys.slice(0, -1));
  if (value === undefined) { if (Array.isArray(parent)) parent.splice(keys.at(-1), 1); else delete parent[keys.at(-1)]; }
  else parent[keys.at(-1)] = value;
}
// Key paths of a JSON value, objects to `depth`, the first element of each array, none below `skip`.
function paths(v, depth, skip, prefix = []) {
  if (depth === 0 || v === null || typeof v !== 'object' || skip(prefix)) return [];
  const out = [];
  const keys = Array.isArray(v) ? (v.length ? [0] : []) : Object.keys(v);
  for (const k of keys) {
    const p = [...prefix, k];
    out.push(p, ...paths(v[k], depth - 1, skip, p));
  }
  return out;
}
const kValues = [['deleted', undefined], ['null', null], ['string', 'x'], ['-1', -1], ['2^62', bigInt], ['0.5', 0.5],
  ['true', true], ['[]', []], ['{}', {}]];

function jsonVariants(cls, dirOf, file, kind, depth, skip = () => false, values = kValues) {
  const src = path.join(dirOf, file);
  const doc = readJson(src);
  for (const p of paths(doc, depth, skip)) {
    for (const [label, value] of values) {
      add(cls, `${file} ${p.join('.')} = ${label}`, file, kind, (dir) => {
        const d = readJson(src);
        setAt(d, p, structuredClone(value));
        fs.writeFileSync(path.join(dir, file), toJson(d));
      });
    }
  }
  for (const [label, bytes] of [['empty', ''], ['truncated', fs.readFileSync(src).subarray(0, fs.statSync(src).size >> 1)],
    ['not json', '{"a": '], ['an array', '[]'], ['binary', Buffer.from([0xff, 0xfe, 0, 1, 2, 0x80])],
    ['nested 100000 deep', '['.repeat(100000) + ']'.repeat(100000)], ['missing', null]]) {
    add(cls, `${file} ${label}`, file, kind, (dir) => {
      if (bytes === null) fs.rmSync(path.join(dir, file)); else fs.writeFileSync(path.join(dir, file), bytes);
    });
  }
}

// A JSON file edited by `edit(doc)`.
function edited(cls, name, dirOf, file, kind, edit) {
  add(cls, `${file} ${name}`, file, kind, (dir) => {
    const d = readJson(path.join(dirOf, file));
    edit(d);
    fs.writeFileSync(path.join(dir, file), toJson(d));
  });
}

// config.json: every key, and the inconsistencies a wrong file brings.
jsonVariants('config', base, 'config.json', 'weights', 2);
for (const [key, values] of [['num_hidden_layers', [3, 5, 0]], ['eos_token_id', [5000, -1, [1023, 99999]]],
  ['bos_token_id', [5000, -1]], ['pad_token_id', [5000]], ['sliding_window', [0, -1]], ['hidden_size', [127, 256]],
  ['num_attention_heads', [3, 0]], ['num_key_value_heads', [3, 8]], ['vocab_size', [1000, 2048]],
  ['max_position_embeddings', [0, -5]], ['rope_theta', [0, -1]], ['rms_norm_eps', [-1]],
  ['rope_scaling', [{ rope_type: 'llama3' }, { rope_type: 'llama3', factor: 'eight' }, { rope_type: 'yarn', factor: 4 },
    { rope_type: 'bogus' }]], ['model_type', ['gpt2', 'unknown']], ['architectures', [['BertModel'], []]],
  ['hidden_act', ['gelu_bogus']], ['torch_dtype', ['float7']]]) {
  for (const v of values) edited('config-values', `${key} = ${JSON.stringify(v)}`, base, 'config.json', 'weights', (d) => { d[key] = v; });
}
for (const key of ['architectures', 'model_type', 'hidden_size', 'num_attention_heads'])
  edited('config-values', `${key} = 5 MB string`, base, 'config.json', 'weights', (d) => { d[key] = huge; });
jsonVariants('generation_config', base, 'generation_config.json', 'tokenizer', 1);

// tokenizer_config.json and tokenizer.json (not the vocabulary's entries, one by one).
jsonVariants('tokenizer_config', base, 'tokenizer_config.json', 'tokenizer', 2);
edited('tokenizer_config', 'chat_template = 5 MB string', base, 'tokenizer_config.json', 'tokenizer', (d) => { d.chat_template = huge; });
edited('tokenizer_config', 'chat_template unknown filter', base, 'tokenizer_config.json', 'tokenizer', (d) => { d.chat_template = '{{ messages | shuffle }}'; });
edited('tokenizer_config', 'chat_template endless loop', base, 'tokenizer_config.json', 'tokenizer',
  (d) => { d.chat_template = '{% for i in range(1000000) %}{% for j in range(1000000) %}x{% endfor %}{% endfor %}'; });
edited('tokenizer_config', 'chat_template raises', base, 'tokenizer_config.json', 'tokenizer', (d) => { d.chat_template = "{{ raise_exception('no') }}"; });
jsonVariants('tokenizer', base, 'tokenizer.json', 'tokenizer', 3, (p) => p[0] === 'model' && (p[1] === 'vocab' || p[1] === 'merges'));
const tok = (name, edit) => edited('tokenizer-chains', name, base, 'tokenizer.json', 'tokenizer', edit);
tok('normalizer: 40 chained Replace l -> lll', (d) => {
  d.normalizer = { type: 'Sequence', normalizers: Array(40).fill({ type: 'Replace', pattern: { String: 'l' }, content: 'lll' }) };
});
tok('pre_tokenizer: 200 stacked ByteLevel', (d) => {
  d.pre_tokenizer = { type: 'Sequence', pretokenizers: Array(200).fill({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }) };
});
tok('normalizer: unknown type', (d) => { d.normalizer = { type: 'Bogus' }; });
tok('pre_tokenizer: bad regex', (d) => { d.pre_tokenizer = { type: 'Split', pattern: { Regex: '(' }, behavior: 'Isolated', invert: false }; });
tok('model: vocabulary ids all 0', (d) => { for (const k of Object.keys(d.model.vocab)) d.model.vocab[k] = 0; });
tok('model: empty vocabulary', (d) => { d.model.vocab = {}; d.model.merges = []; });
tok('model: a merge of unknown tokens', (d) => { d.model.merges.unshift(Array.isArray(d.model.merges[0]) ? ['zzqq', 'xxjj'] : 'zzqq xxjj'); });
tok('model: vocabulary id 2^31-1', (d) => { d.model.vocab[Object.keys(d.model.vocab)[5]] = 2147483647; });
tok('model: type Unigram', (d) => { d.model.type = 'Unigram'; });
for (const id of [2147483647, -1, 99999]) {
  tok(`post_processor special id ${id}`, (d) => {
    d.post_processor = { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }], special_tokens: { '<s>': { id: '<s>', ids: [id], tokens: ['<s>'] } } };
  });
}
tok('added_tokens: id beyond the vocabulary', (d) => { d.added_tokens.push({ id: 99999, content: '<extra>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }); });
tok('added_tokens: 5 MB content', (d) => { d.added_tokens.push({ id: 3, content: huge, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }); });

// model.safetensors: its header's every field, and its bytes.
function safetensors(file) {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  return { header: JSON.parse(buf.subarray(8, 8 + n).toString('utf8')), data: buf.subarray(8 + n) };
}
function writeSafetensors(file, header, data) {
  const h = Buffer.from(toJson(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  fs.writeFileSync(file, Buffer.concat([len, h, data]));
}
function safetensorsVariants(cls, dirOf, file, kind) {
  const src = path.join(dirOf, file);
  const { header, data } = safetensors(src);
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  // Every layer is read by the same code: the first layer's tensors and the others stand for all.
  const damaged = names.filter((k) => !/\.layers\.[1-9]/.test(k));
  const hdr = (label, edit, newData) => add(cls, `${file} ${label}`, file, kind, (dir) => {
    const h = structuredClone(header);
    edit(h);
    writeSafetensors(path.join(dir, file), h, newData ?? data);
  });
  for (const t of damaged) {
    const e = header[t];
    hdr(`${t} missing`, (h) => { delete h[t]; });
    hdr(`${t} dtype F99`, (h) => { h[t].dtype = 'F99'; });
    hdr(`${t} dtype I8`, (h) => { h[t].dtype = 'I8'; });
    hdr(`${t} shape transposed`, (h) => { h[t].shape = [...e.shape].reverse(); });
    hdr(`${t} shape [2^62, 4]`, (h) => { h[t].shape = [bigInt, 4]; });
    hdr(`${t} shape negative`, (h) => { h[t].shape = e.shape.map((x) => -x); });
    hdr(`${t} offsets past the end`, (h) => { h[t].data_offsets = [e.data_offsets[0] + data.length, e.data_offsets[1] + data.length]; });
    hdr(`${t} offsets reversed`, (h) => { h[t].data_offsets = [e.data_offsets[1], e.data_offsets[0]]; });
    hdr(`${t} offsets 2^64-1`, (h) => { h[t].data_offsets = [18446744073709551615n - 3n, 18446744073709551615n]; });
    hdr(`${t} offsets a string`, (h) => { h[t].data_offsets = 'zero'; });
  }
  hdr('an extra layer 99 tensor', (h) => { h['model.layers.99.mlp.up_proj.weight'] = structuredClone(header[names[0]]); });
  hdr('__metadata__ not strings', (h) => { h.__metadata__ = { format: 5 }; });
  hdr('all tensors at offset 0', (h) => { for (const t of names) h[t].data_offsets = [0, h[t].data_offsets[1] - h[t].data_offsets[0]]; });
  const raw = fs.readFileSync(src);
  const bytes = (label, make) => add(cls, `${file} ${label}`, file, kind, (dir) => fs.writeFileSync(path.join(dir, file), make()));
  const lenAs = (v) => { const b = Buffer.from(raw); b.writeBigUInt64LE(v, 0); return b; };
  bytes('header length 2^63', () => lenAs(1n << 63n));
  bytes('header length past the end', () => lenAs(BigInt(raw.length)));
  bytes('header length 0', () => lenAs(0n));
  bytes('header not json', () => { const b = Buffer.from(raw); b[8] = 0x7a; return b; });
  for (const frac of [0, 0.001, 0.25, 0.5, 0.999]) bytes(`truncated to ${frac * 100} %`, () => raw.subarray(0, Math.floor(raw.length * frac)));
  add(cls, `${file} missing`, file, kind, (dir) => fs.rmSync(path.join(dir, file)));
}
safetensorsVariants('safetensors', base, 'model.safetensors', 'weights');

// A compressed-tensors export: its quantization_config and its packed tensors' layout.
jsonVariants('compressed-tensors config', ctDir, 'config.json', 'weights', 6, (p) => p[0] !== 'quantization_config' && p.length > 0);
{
  const { header, data } = safetensors(path.join(ctDir, 'model.safetensors'));
  const scale = Object.keys(header).find((k) => k.endsWith('.weight_scale'));
  const ct = (label, edit) => add('compressed-tensors tensors', `model.safetensors ${label}`, 'model.safetensors', 'weights', (dir) => {
    const h = structuredClone(header);
    edit(h);
    writeSafetensors(path.join(dir, 'model.safetensors'), h, data);
  });
  ct(`${scale} redeclared as one value`, (h) => { h[scale].shape = [1]; h[scale].data_offsets = [h[scale].data_offsets[0], h[scale].data_offsets[0] + 4]; });
  ct(`${scale} shape [2^62, 4]`, (h) => { h[scale].shape = [bigInt, 4]; });
  ct(`${scale} missing`, (h) => { delete h[scale]; });
  const packed = Object.keys(header).find((k) => k.endsWith('.weight') && header[k].dtype === 'I8');
  if (packed) ct(`${packed} as F32`, (h) => { h[packed].dtype = 'F32'; });
}

// The GGUF export: every metadata value turned to another kind, lengths and counts made huge,
// the tensor table's fields broken, and truncations.
const G = { U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7, STRING: 8, ARRAY: 9, U64: 10, I64: 11, F64: 12 };
const scalarSize = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
function parseGguf(buf) {
  let o = 24;
  const str = () => { const n = Number(buf.readBigUInt64LE(o)); const at = o; o += 8 + n; return { at, s: buf.subarray(at + 8, at + 8 + n).toString('utf8') }; };
  const skipValue = (type) => {
    if (type === G.STRING) { str(); return; }
    if (type === G.ARRAY) { const t = buf.readUInt32LE(o); const n = Number(buf.readBigUInt64LE(o + 4)); o += 12; for (let i = 0; i < n; i++) skipValue(t); return; }
    o += scalarSize[type];
  };
  const nT = Number(buf.readBigUInt64LE(8));
  const nKv = Number(buf.readBigUInt64LE(16));
  const kvs = [];
  for (let i = 0; i < nKv; i++) {
    const start = o;
    const key = str().s;
    const typeAt = o;
    const type = buf.readUInt32LE(o);
    o += 4;
    const valueAt = o;
    skipValue(type);
    kvs.push({ key, start, typeAt, type, valueAt, end: o });
  }
  const tensors = [];
  for (let i = 0; i < nT; i++) {
    const start = o;
    const name = str().s;
    const nd = buf.readUInt32LE(o);
    const ndAt = o;
    o += 4 + 8 * nd;
    tensors.push({ name, start, ndAt, nd, typeAt: o, offsetAt: o + 4 });
    o += 12;
  }
  return { kvs, tensors, infoEnd: o };
}
{
  const raw = fs.readFileSync(ggufFile);
  const g = parseGguf(raw);
  const name = path.basename(ggufFile);
  const gg = (cls, label, make) => add(cls, `${name} ${label}`, name, 'gguf', (dir) => fs.writeFileSync(path.join(dir, name), make(Buffer.from(raw))));
  const u64 = (b, at, v) => { b.writeBigUInt64LE(v, at); return b; };
  const u32 = (b, at, v) => { b.writeUInt32LE(v, at); return b; };
  // A value of another kind, re-serialised whole (the file stays well formed, the kind is wrong).
  const encode = (type, v) => {
    if (type === G.STRING) { const s = Buffer.from(v, 'utf8'); const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(s.length)); return Buffer.concat([b, s]); }
    const b = Buffer.alloc(scalarSize[type]);
    ({ [G.U8]: () => b.writeUInt8(v), [G.I32]: () => b.writeInt32LE(v), [G.U32]: () => b.writeUInt32LE(v), [G.F32]: () => b.writeFloatLE(v),
      [G.BOOL]: () => b.writeUInt8(v), [G.U64]: () => b.writeBigUInt64LE(BigInt(v)), [G.I64]: () => b.writeBigInt64LE(BigInt(v)) })[type]();
    return b;
  };
  const alignment = 32;
  const dataStart = Math.ceil(g.infoEnd / alignment) * alignment;
  const replaced = (kv, type, value) => {
    const before = raw.subarray(0, kv.typeAt);
    const t = Buffer.alloc(4);
    t.writeUInt32LE(type);
    const info = Buffer.concat([before, t, encode(type, value), raw.subarray(kv.end, g.infoEnd)]);
    const pad = Buffer.alloc((alignment - (info.length % alignment)) % alignment);
    return Buffer.concat([info, pad, raw.subarray(dataStart)]);
  };
  for (const kv of g.kvs) {
    const other = kv.type === G.STRING || kv.type === G.ARRAY ? [[G.U32, 7], [G.F32, 0.5]] : [[G.STRING, 'seven'], [G.BOOL, 1]];
    if (kv.type !== G.STRING && kv.type !== G.ARRAY) other.push([G.I32, -1], [G.U64, 2 ** 40]);
    for (const [type, v] of other) gg('gguf-values', `${kv.key} as ${Object.keys(G).find((k) => G[k] === type)} ${v}`, () => replaced(kv, type, v));
    gg('gguf-bytes', `${kv.key} type 99`, (b) => u32(b, kv.typeAt, 99));
    if (kv.type === G.STRING) gg('gguf-bytes', `${kv.key} length 2^62`, (b) => u64(b, kv.valueAt, bigInt));
    if (kv.type === G.ARRAY) {
      gg('gguf-bytes', `${kv.key} count 2^62`, (b) => u64(b, kv.valueAt + 4, bigInt));
      gg('gguf-bytes', `${kv.key} element type 99`, (b) => u32(b, kv.valueAt, 99));
    }
    gg('gguf-bytes', `${kv.key} key length 2^62`, (b) => u64(b, kv.start, bigInt));
  }
  for (const t of g.tensors.slice(0, 6)) {
    gg('gguf-tensors', `${t.name} n_dims 99`, (b) => u32(b, t.ndAt, 99));
    gg('gguf-tensors', `${t.name} dim 2^62`, (b) => u64(b, t.ndAt + 4, bigInt));
    gg('gguf-tensors', `${t.name} dim 0`, (b) => u64(b, t.ndAt + 4, 0n));
    gg('gguf-tensors', `${t.name} type 99`, (b) => u32(b, t.typeAt, 99));
    gg('gguf-tensors', `${t.name} type Q4_0`, (b) => u32(b, t.typeAt, 2));
    gg('gguf-tensors', `${t.name} offset past the end`, (b) => u64(b, t.offsetAt, BigInt(raw.length)));
    gg('gguf-tensors', `${t.name} offset 2^64-32`, (b) => u64(b, t.offsetAt, 18446744073709551584n));
    gg('gguf-tensors', `${t.name} offset unaligned`, (b) => u64(b, t.offsetAt, b.readBigUInt64LE(t.offsetAt) + 1n));
  }
  gg('gguf-bytes', 'magic GGML', (b) => { b.write('GGML', 0); return b; });
  gg('gguf-bytes', 'version 99', (b) => u32(b, 4, 99));
  gg('gguf-bytes', 'tensor count 2^62', (b) => u64(b, 8, bigInt));
  gg('gguf-bytes', 'metadata count 2^62', (b) => u64(b, 16, bigInt));
  gg('gguf-bytes', 'tensor count 0', (b) => u64(b, 8, 0n));
  for (const frac of [0, 0.0001, 0.01, 0.5, 0.999]) gg('gguf-bytes', `truncated to ${frac * 100} %`, (b) => b.subarray(0, Math.floor(b.length * frac)));
}

// ---- the runs ---------------------------------------------------------------------------------

const chosen = variants.filter((v) => !only || only.split(',').includes(v.cls));
if (listOnly) {
  for (const v of chosen) console.log(`${v.cls}\t${v.name}`);
  process.exit(0);
}
const baseOf = (v) => (v.kind === 'gguf' ? ggufDir : v.cls.startsWith('compressed-tensors') ? ctDir : base);
const modelArg = (v, dir) => (v.kind === 'gguf' ? path.join(dir, v.file) : dir);
const baseline = new Map();
const expected = (v, cmd) => {
  const key = baseOf(v) + '\0' + cmd.slice(0, 1).concat(cmd.slice(3)).join(' ');
  if (!baseline.has(key)) {
    const r = run([cmd[0], cmd[1], modelArg(v, baseOf(v)), ...cmd.slice(3)]);
    if (r.status !== 0) { console.error(`hostile: the undamaged model fails ${cmd.join(' ')}: ${r.stderr}`); process.exit(1); }
    baseline.set(key, r.stdout);
  }
  return baseline.get(key);
};

const counts = {};
const findings = [];
let worstRss = 0;
let runs = 0;
const started = Date.now();
for (const [i, v] of chosen.entries()) {
  const dir = path.join(work, 'variant');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.cpSync(baseOf(v), dir, { recursive: true });
  v.make(dir);
  for (const cmd of commandsFor[v.kind](modelArg(v, dir))) {
    const want = expected(v, cmd);
    const r = run(cmd);
    runs++;
    worstRss = Math.max(worstRss, r.rss);
    const longest = Math.max(0, ...r.stderr.split('\n').map((l) => l.length));
    const err = r.stderr.split('\n').filter((l) => /error|warning/.test(l)).join(' | ').slice(0, 400);
    let verdict;
    if (r.signal || r.status === null || r.status >= 124) verdict = 'crash';
    else if (r.rss > kMaxRss) verdict = 'big';
    else if (longest > kMaxLine) verdict = 'long';
    else if (kRaw.test(r.stderr)) verdict = 'raw';
    else if (r.status !== 0) verdict = r.stderr.includes(v.file) ? 'refused' : 'unnamed';
    else if (r.stdout === want) verdict = 'same';
    else if (/warning/.test(r.stderr)) verdict = 'warned';
    else verdict = kValid.some(([re]) => re.test(v.name)) ? 'valid' : 'silent';
    counts[v.cls] ??= {};
    counts[v.cls][verdict] = (counts[v.cls][verdict] || 0) + 1;
    if (!['refused', 'same', 'warned', 'valid'].includes(verdict))
      findings.push(`${verdict}\t${v.cls}\t${v.name}\t${cmd[0]}\texit ${r.status ?? r.signal}\t${Math.round(r.rss / 1024)} MB\t${err || r.stdout.slice(0, 200)}`);
  }
  if ((i + 1) % 50 === 0) process.stderr.write(`hostile: ${i + 1}/${chosen.length} variants, ${runs} runs, ${Math.round((Date.now() - started) / 1000)} s\n`);
}
fs.rmSync(path.join(work, 'variant'), { recursive: true, force: true });

const verdicts = ['refused', 'same', 'warned', 'valid', 'silent', 'unnamed', 'raw', 'long', 'big', 'crash'];
console.log(`# ${chosen.length} damaged files, ${runs} runs, ${Math.round((Date.now() - started) / 1000)} s; largest resident ${Math.round(worstRss / 1024)} MB`);
console.log(['class', ...verdicts].join('\t'));
for (const [cls, c] of Object.entries(counts)) console.log([cls, ...verdicts.map((x) => c[x] || 0)].join('\t'));
const total = Object.fromEntries(verdicts.map((x) => [x, Object.values(counts).reduce((s, c) => s + (c[x] || 0), 0)]));
console.log(['total', ...verdicts.map((x) => total[x])].join('\t'));
if (findings.length) {
  console.log('\n# findings');
  for (const f of findings) console.log(f);
}
if (!keep) fs.rmSync(work, { recursive: true, force: true });
process.exit(findings.length ? 1 : 0);
