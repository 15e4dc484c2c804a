// The second reference for the SentencePiece fixtures: the npm `tokenizers` binding (HF native,
// 0.23.2) loads every tokenizer.json that make_fixtures.py wrote and encodes every document
// (add_special on: the converter's TemplateProcessing adds <s> or </s>).
//
//   npm i tokenizers@0.23.2 --prefix /work/npm-peers     # anywhere outside the repo
//   NODE_PATH=/work/npm-peers/node_modules node tests/tokenizer-sentencepiece/hf_goldens.mjs
//
// Writes tests/data/golden/<corpus>.sp-<model>.hf.jsonl.gz: per document `null` when the
// binding's ids are SentencePiece's golden ids plus the template's special token, else the
// binding's ids (a disagreement: the C++ test skips it for tokenizer.json), and
// data/vocab/sentencepiece/hf_disagreements.json (model -> disagreeing document ids).
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';

const require = createRequire(path.join(process.env.NODE_PATH ?? process.cwd(), 'x.js'));
const { Tokenizer } = require('tokenizers');

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const models = ['unigram-8k', 'unigram-1k-identity', 'unigram-2k-bytes', 'bpe-6k-llama', 'bpe-1k'];
const corpora = ['en', 'ru', 'zh', 'ja', 'code', 'mixed_edge'];
const golden = (f) => path.join(root, 'tests/data/golden', f);
const readLines = (buf) => buf.toString('utf8').split('\n').filter((l) => l.length);

const disagreements = {};
for (const m of models) {
  const dir = path.join(root, 'data/vocab/sentencepiece', m);
  const tok = Tokenizer.fromFile(path.join(dir, 'tokenizer.json'));
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
  const single = json.post_processor.single;
  const special = Object.values(json.post_processor.special_tokens)[0].ids[0];
  const bosFirst = 'SpecialToken' in single[0];
  disagreements[m] = [];
  let total = 0;
  for (const c of corpora) {
    const docs = readLines(fs.readFileSync(path.join(root, 'tests/data/corpus', `${c}.jsonl`)))
      .map((l) => JSON.parse(l));
    const sp = readLines(zlib.gunzipSync(fs.readFileSync(golden(`${c}.sp-${m}.jsonl.gz`))))
      .map((l) => JSON.parse(l));
    const rows = [];
    for (let i = 0; i < docs.length; ++i) {
      const ids = Array.from((await tok.encode(docs[i].text)).getIds());
      const want = bosFirst ? [special, ...sp[i]] : [...sp[i], special];
      const same = ids.length === want.length && ids.every((x, k) => x === want[k]);
      rows.push(same ? 'null' : JSON.stringify(ids));
      if (!same) disagreements[m].push(docs[i].id);
      ++total;
    }
    fs.writeFileSync(golden(`${c}.sp-${m}.hf.jsonl.gz`),
      zlib.gzipSync(rows.join('\n') + '\n', { level: 9 }));
  }
  console.log(`${m}: ${total - disagreements[m].length}/${total} documents agree`);
}
fs.writeFileSync(path.join(root, 'data/vocab/sentencepiece/hf_disagreements.json'),
  JSON.stringify(disagreements, null, 1) + '\n');
