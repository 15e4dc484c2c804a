// Peers of the tokenizer-bpe benchmark, single thread, whole corpus per language:
//   HF tokenizers (native binding, gpt2/tokenizer.json, one awaited encode per document)
//   tiktoken (WASM build), encode_ordinary per document, r50k_base / cl100k_base / o200k_base.
// CPU time. Prints JSON: {"hf_gpt2": {"en": MB/s, ...}, "tiktoken_r50k": {...}, ...} (medians of --runs).
// Run with RAYON_NUM_THREADS=1 so the binding stays on one thread (run.sh sets it).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Tokenizer } = require('tokenizers');
const { get_encoding } = require('tiktoken');

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const root = args.root ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const runs = Number(args.runs ?? 3);
const langs = (args.langs ?? 'en,code,ru,zh').split(',');

const docs = Object.fromEntries(langs.map((l) => [l,
  fs.readFileSync(path.join(root, 'tests/data/corpus', `${l}.jsonl`), 'utf8').split('\n')
    .filter((x) => x.length).map((x) => JSON.parse(x).text)]));
const bytes = Object.fromEntries(langs.map((l) => [l, docs[l].reduce((s, t) => s + Buffer.byteLength(t), 0)]));

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

async function measure(lang, encodeAll) {
  await encodeAll(docs[lang].slice(0, 8));  // warm-up
  const mbps = [];
  for (let r = 0; r < runs; ++r) {
    // Process CPU time (user + system, all threads: the binding encodes off the main thread),
    // as the C++ side measures thread CPU time: wall time on a shared machine measures load.
    const c0 = process.cpuUsage();
    await encodeAll(docs[lang]);
    const c = process.cpuUsage(c0);
    const s = (c.user + c.system) / 1e6;
    mbps.push(bytes[lang] / 1e6 / s);
  }
  return median(mbps);
}

const out = {};
const hf = Tokenizer.fromFile(path.join(root, 'data/vocab/gpt2/tokenizer.json'));
out.hf_gpt2 = {};
for (const l of langs) {
  out.hf_gpt2[l] = await measure(l, async (ds) => { for (const t of ds) await hf.encode(t); });
}
for (const [key, name] of [['tiktoken_r50k', 'r50k_base'], ['tiktoken_cl100k', 'cl100k_base'], ['tiktoken_o200k', 'o200k_base']]) {
  const enc = get_encoding(name);
  out[key] = {};
  for (const l of langs) out[key][l] = await measure(l, async (ds) => { for (const t of ds) enc.encode_ordinary(t); });
  enc.free();
}
out.bytes = bytes;
console.log(JSON.stringify(out));
