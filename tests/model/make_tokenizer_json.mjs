// tokenizer.json files for model folders that ship no vocab.txt / vocab.json (issue 14 item 2:
// `tokenizer: {from_model: true}` through a folder's tokenizer.json), checked with HuggingFace
// `tokenizers` against the fixture's own reference ids.
//
//   cd DIR_WITH_node_modules && npm install tokenizers@0.23.2
//   NODE_PATH=DIR_WITH_node_modules/node_modules node tests/model/make_tokenizer_json.mjs
//
// Writes tests/model/tokenizer_json/bert-st/tokenizer.json: the bert-st fixture's vocab.txt as
// HF's BertWordPieceTokenizer serializes it (BertNormalizer with lowercase false as the folder's
// tokenizer_config.json says, BertPreTokenizer, WordPiece "##" / [UNK], TemplateProcessing
// [CLS] $A [SEP]). HF encodes the fixture's texts as sentence-transformers would (the default
// prompt "query: " first, lowercased by sentence_bert_config.json's do_lower_case, at most 16
// tokens); the script fails unless those ids are make_hf_fixtures.py's `default_ids`.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const tk = require('tokenizers');
const here = path.dirname(fileURLToPath(import.meta.url));
const FIXTURE = path.join(here, 'hf_fixtures', 'bert-st');
const OUT = path.join(here, 'tokenizer_json', 'bert-st');

const words = fs.readFileSync(path.join(FIXTURE, 'vocab.txt'), 'utf8').split('\n').filter(Boolean);
const vocab = Object.fromEntries(words.map((w, i) => [w, i]));
const special = (content) => ({ id: vocab[content], content, single_word: false, lstrip: false,
  rstrip: false, normalized: false, special: true });
const spec = (id) => ({ SpecialToken: { id, type_id: 0 } });
const tokenizer = {
  version: '1.0', truncation: null, padding: null,
  added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map(special),
  normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true,
    strip_accents: null, lowercase: false },
  pre_tokenizer: { type: 'BertPreTokenizer' },
  post_processor: {
    type: 'TemplateProcessing',
    single: [spec('[CLS]'), { Sequence: { id: 'A', type_id: 0 } }, spec('[SEP]')],
    pair: [spec('[CLS]'), { Sequence: { id: 'A', type_id: 0 } }, spec('[SEP]'),
      { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
    special_tokens: Object.fromEntries(['[CLS]', '[SEP]'].map(
      (t) => [t, { id: t, ids: [vocab[t]], tokens: [t] }])),
  },
  decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
  model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##',
    max_input_chars_per_word: 100, vocab },
};
fs.mkdirSync(OUT, { recursive: true });
const file = path.join(OUT, 'tokenizer.json');
fs.writeFileSync(file, JSON.stringify(tokenizer, null, 1) + '\n');

// The fixture's reference ids, from its expected.safetensors (int32 default_ids).
const st = fs.readFileSync(path.join(FIXTURE, 'expected.safetensors'));
const n = Number(st.readBigUInt64LE(0));
const header = JSON.parse(st.subarray(8, 8 + n).toString('utf8'));
const [b, e] = header.default_ids.data_offsets;
const data = st.subarray(8 + n + b, 8 + n + e);
const reference = Array.from({ length: data.length / 4 }, (_, i) => data.readInt32LE(4 * i));

const probe = structuredClone(tokenizer);
probe.truncation = { direction: 'Right', max_length: 16, strategy: 'LongestFirst', stride: 0 };
const probeFile = path.join(OUT, 'probe.tmp.json');
fs.writeFileSync(probeFile, JSON.stringify(probe));
const hf = tk.Tokenizer.fromFile(probeFile);
fs.unlinkSync(probeFile);
const ids = [];
for (const line of fs.readFileSync(path.join(FIXTURE, 'texts.jsonl'), 'utf8').split('\n')) {
  if (!line) continue;
  const text = ('query: ' + JSON.parse(line).text).toLowerCase();
  ids.push(...(await hf.encode(text, null, { addSpecialTokens: true })).getIds());
}
if (JSON.stringify(ids) !== JSON.stringify(reference)) {
  console.error('HF ids', JSON.stringify(ids), '\nfixture default_ids', JSON.stringify(reference));
  process.exit(1);
}
const pkg = JSON.parse(fs.readFileSync(path.join(path.dirname(require.resolve('tokenizers')), 'package.json'), 'utf8'));
fs.writeFileSync(path.join(OUT, 'README.md'),
  `Made by tests/model/make_tokenizer_json.mjs with HF tokenizers ${pkg.version} (node ${process.version}) ` +
  `from hf_fixtures/bert-st/vocab.txt; HF's ids of the fixture's texts equal its default_ids (${ids.length} ids).\n`);
console.log('ok', ids.length, 'ids');
