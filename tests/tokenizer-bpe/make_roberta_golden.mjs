// Golden ids for tokenizer-bpe's post-processor (issue 14): RoBERTa / BART tokenizer.json files
// and what HuggingFace `tokenizers` makes of them.
//
//   cd DIR_WITH_node_modules && npm install tokenizers@0.23.2
//   NODE_PATH=DIR_WITH_node_modules/node_modules node tests/tokenizer-bpe/make_roberta_golden.mjs
//
// Writes tests/tokenizer-bpe/roberta/:
//   tokenizer.json           a small RoBERTa-layout BPE: <s>=0 <pad>=1 </s>=2 <unk>=3, the 256
//                            byte tokens, GPT-2's first 3000 merges (from the shared
//                            vocab/gpt2/tokenizer.json) and the tokens they make, <mask> last;
//                            ByteLevel pre-tokenizer, post_processor RobertaProcessing as
//                            roberta-base / facebook/bart-base ship it (trim_offsets true)
//   template.tokenizer.json  the same with post_processor TemplateProcessing "<s> $A </s>"
//   golden.jsonl             per text: HF encode(text, add_special_tokens) ids (both files)
//                            and offsets (RobertaProcessing; byte offsets, the text is ASCII)
//                            plus the ids without special tokens
//   lstrip.tokenizer.json    the same as tokenizer.json but <mask> has lstrip: true, as
//                            roberta-base and facebook/bart-base ship it: the whitespace before
//                            <mask> is part of the special token's match (and of its offsets)
//   lstrip.golden.jsonl      per text: its ids / offsets with and without add_special_tokens;
//                            `ascii` false: offsets are HF's character offsets, not bytes
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const tk = require('tokenizers');
const here = path.dirname(fileURLToPath(import.meta.url));
const OUT = path.join(here, 'roberta');
const GPT2 = '/work/shared/data/vocab/gpt2/tokenizer.json';
const MERGES = 3000;

const gpt2 = JSON.parse(fs.readFileSync(GPT2, 'utf8'));
const gv = gpt2.model.vocab;
const byId = Object.entries(gv).sort((a, b) => a[1] - b[1]).map(([t]) => t);
const vocab = { '<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3 };
for (const t of byId.slice(0, 256)) vocab[t] = Object.keys(vocab).length;  // byte alphabet
const merges = [];
for (const m of gpt2.model.merges.slice(0, MERGES)) {
  const [a, b] = Array.isArray(m) ? m : m.split(' ');
  if (!(a in vocab) || !(b in vocab)) continue;
  merges.push([a, b]);
  if (!((a + b) in vocab)) vocab[a + b] = Object.keys(vocab).length;
}
const mask = Object.keys(vocab).length;
vocab['<mask>'] = mask;
const special = (id, content) => ({ id, content, single_word: false, lstrip: false, rstrip: false,
  normalized: false, special: true });
const base = {
  version: '1.0', truncation: null, padding: null,
  added_tokens: [special(0, '<s>'), special(1, '<pad>'), special(2, '</s>'), special(3, '<unk>'),
    special(mask, '<mask>')],
  normalizer: null,
  pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
  post_processor: { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0], trim_offsets: true,
    add_prefix_space: false },
  decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '',
    end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges },
};
const template = structuredClone(base);
template.post_processor = {
  type: 'TemplateProcessing',
  single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
    { SpecialToken: { id: '</s>', type_id: 0 } }],
  pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
    { SpecialToken: { id: '</s>', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } },
    { Sequence: { id: 'B', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
  special_tokens: { '<s>': { id: '<s>', ids: [0], tokens: ['<s>'] },
    '</s>': { id: '</s>', ids: [2], tokens: ['</s>'] } },
};
fs.mkdirSync(OUT, { recursive: true });
fs.writeFileSync(path.join(OUT, 'tokenizer.json'), JSON.stringify(base) + '\n');
fs.writeFileSync(path.join(OUT, 'template.tokenizer.json'), JSON.stringify(template) + '\n');
const lstrip = structuredClone(base);
lstrip.added_tokens[4].lstrip = true;
fs.writeFileSync(path.join(OUT, 'lstrip.tokenizer.json'), JSON.stringify(lstrip) + '\n');

const texts = [
  'Hello world', ' leading space', 'trailing space ', 'two  spaces  inside', '',
  'The quick brown fox jumps over the lazy dog.', 'a <mask> token in the text',
  'numbers 12345 and punctuation!?', 'line one\nline two', 'x',
];
for (const l of fs.readFileSync('/work/shared/data/corpus/en.jsonl', 'utf8').split('\n')) {
  const t = l ? JSON.parse(l).text : '';
  // ASCII (HF's char offsets are then byte offsets), short: the golden stays small
  if (t && t.length < 2000 && /^[\x00-\x7f]*$/.test(t) && texts.length < 16) texts.push(t);
}
const roberta = tk.Tokenizer.fromFile(path.join(OUT, 'tokenizer.json'));
const templ = tk.Tokenizer.fromFile(path.join(OUT, 'template.tokenizer.json'));
const lines = [];
for (const text of texts) {
  const e = await roberta.encode(text, null, { addSpecialTokens: true });
  const t = await templ.encode(text, null, { addSpecialTokens: true });
  const plain = await roberta.encode(text, null, { addSpecialTokens: false });
  lines.push(JSON.stringify({ text, ids: e.getIds(), offsets: e.getOffsets(),
    template_ids: t.getIds(), plain_ids: plain.getIds(), plain_offsets: plain.getOffsets() }));
}
// lstrip: the whitespace run before <mask> (Unicode White_Space: tab, newline, NBSP, U+3000),
// never reaching back into the previous special; <mask> at the start, doubled, after </s>.
const lstripTexts = [
  'Hello <mask>', 'a <mask> token in the text', '<mask>', ' <mask>', '   <mask>  two',
  'x\t\n <mask>.', '<mask> <mask>', 'one<mask>two', '</s> <mask></s>', '<s>  <mask>',
  'The capital of France is <mask>.', 'end with space <mask> ', 'no mask here',
  'word\u00a0<mask>', '\u3000<mask>', 'caf\u00e9 \u00a0 <mask> caf\u00e9',
];
const lstripTok = tk.Tokenizer.fromFile(path.join(OUT, 'lstrip.tokenizer.json'));
const lstripLines = [];
for (const text of lstripTexts) {
  const e = await lstripTok.encode(text, null, { addSpecialTokens: true });
  const plain = await lstripTok.encode(text, null, { addSpecialTokens: false });
  lstripLines.push(JSON.stringify({ text, ascii: /^[\x00-\x7f]*$/.test(text), ids: e.getIds(),
    offsets: e.getOffsets(), plain_ids: plain.getIds(), plain_offsets: plain.getOffsets() }));
}
fs.writeFileSync(path.join(OUT, 'lstrip.golden.jsonl'), lstripLines.join('\n') + '\n');
const pkg = JSON.parse(fs.readFileSync(path.join(path.dirname(require.resolve('tokenizers')), 'package.json'), 'utf8'));
fs.writeFileSync(path.join(OUT, 'golden.jsonl'), lines.join('\n') + '\n');
fs.writeFileSync(path.join(OUT, 'README.md'),
  `Made by tests/tokenizer-bpe/make_roberta_golden.mjs with HF tokenizers ${pkg.version} (node ${process.version}); ` +
  `${texts.length} texts (lstrip: ${lstripTexts.length}), ${Object.keys(vocab).length} tokens, ` +
  `${merges.length} merges.\n`);
console.log(texts.length, 'texts', Object.keys(vocab).length, 'tokens', merges.length, 'merges');
