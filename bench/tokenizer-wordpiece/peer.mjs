// Peer of the tokenizer-wordpiece benchmark: HF tokenizers (native binding) loading
// data/vocab/bert-base-uncased/tokenizer.json, one awaited encode per document, single thread
// (run with RAYON_NUM_THREADS=1; run.sh sets it), whole corpus per language.
// Process CPU time (user + system: the binding encodes off the main thread), median of --runs.
// Prints JSON: {"mbps": {"en": MB/s, ...}, "ids": {"en": total ids, ...}, "bytes": {...}}.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Tokenizer } = require('tokenizers');

const args = Object.fromEntries(process.argv.slice(2).reduce(
  (acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const root = args.root ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const runs = Number(args.runs ?? 3);
const langs = (args.langs ?? 'en,code,ru,zh').split(',');

const docs = Object.fromEntries(langs.map((l) => [l,
  fs.readFileSync(path.join(root, 'tests/data/corpus', `${l}.jsonl`), 'utf8').split('\n')
    .filter((x) => x.length).map((x) => JSON.parse(x).text)]));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

const tok = Tokenizer.fromFile(path.join(root, 'data/vocab/bert-base-uncased/tokenizer.json'));
const out = { mbps: {}, ids: {}, bytes: {} };
for (const l of langs) {
  out.bytes[l] = docs[l].reduce((s, t) => s + Buffer.byteLength(t), 0);
  let ids = 0;
  for (const t of docs[l].slice(0, 8)) await tok.encode(t);  // warm-up
  const mbps = [];
  for (let r = 0; r < runs; ++r) {
    ids = 0;
    const c0 = process.cpuUsage();
    for (const t of docs[l]) ids += (await tok.encode(t)).getIds().length;
    const c = process.cpuUsage(c0);
    mbps.push(out.bytes[l] / 1e6 / ((c.user + c.system) / 1e6));
  }
  out.mbps[l] = median(mbps);
  out.ids[l] = ids;
}
console.log(JSON.stringify(out));
