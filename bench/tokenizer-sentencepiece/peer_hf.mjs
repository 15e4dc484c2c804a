// Peer of the tokenizer-sentencepiece benchmark: HF tokenizers (npm native binding) loading the
// tokenizer.json conversions, one awaited encode per document without specials, single thread
// (run with RAYON_NUM_THREADS=1). Process CPU time (the binding encodes off the main thread),
// median of --runs. Prints JSON: {"<model>": {"mbps": {"en": MB/s, ...}}, ...}
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Tokenizer } = require('tokenizers');

const args = Object.fromEntries(process.argv.slice(2).reduce(
  (acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const runs = Number(args.runs ?? 3);
const models = (args.models ?? 'unigram-8k,bpe-6k-llama').split(',');
const langs = (args.langs ?? 'en,zh,code,ru').split(',');
const docs = Object.fromEntries(langs.map((l) => [l,
  fs.readFileSync(path.join(root, 'tests/data/corpus', `${l}.jsonl`), 'utf8').split('\n')
    .filter((x) => x.length).map((x) => JSON.parse(x).text)]));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

const out = {};
for (const m of models) {
  const tok = Tokenizer.fromFile(path.join(root, 'data/vocab/sentencepiece', m, 'tokenizer.json'));
  out[m] = { mbps: {} };
  for (const l of langs) {
    const bytes = docs[l].reduce((s, t) => s + Buffer.byteLength(t), 0);
    for (const t of docs[l].slice(0, 8)) await tok.encode(t, null, { addSpecialTokens: false });
    const mbps = [];
    for (let r = 0; r < runs; ++r) {
      const c0 = process.cpuUsage();
      for (const t of docs[l]) await tok.encode(t, null, { addSpecialTokens: false });
      const c = process.cpuUsage(c0);
      mbps.push(bytes / 1e6 / ((c.user + c.system) / 1e6));
    }
    out[m].mbps[l] = median(mbps);
  }
}
console.log(JSON.stringify(out));
