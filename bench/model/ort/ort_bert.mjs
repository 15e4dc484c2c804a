// ONNX Runtime's side of bench/model: the BERT-base export of torch_bert.py (same weights) on
// the same ids (model_bench.cpp's formula), CPU execution provider, the same thread count.
// Prints one JSON line; writes the hidden states (float32, [sequences * seq_len, d]) to --hidden
// so model_bench can check qkv's outputs against them.
//   node ort_bert.mjs DIR --threads N --sequences S --seq-len L --reps R --hidden FILE
import { writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import ort from "onnxruntime-node";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const dir = args[0];
const threads = Number(opt("--threads", "2"));
const sequences = Number(opt("--sequences", "8"));
const seqLen = Number(opt("--seq-len", "128"));
const reps = Number(opt("--reps", "5"));
const hiddenFile = opt("--hidden", "");
const vocab = 8192n;  // torch_bert.py CONFIG

const session = await ort.InferenceSession.create(`${dir}/model.onnx`, {
  executionProviders: ["cpu"],
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  executionMode: "sequential",
  graphOptimizationLevel: "all",
});
const n = sequences * seqLen;
const ids = new BigInt64Array(n);
for (let i = 0; i < n; ++i) ids[i] = (BigInt(i) * 2654435761n + 12345n) % vocab;
const feeds = { ids: new ort.Tensor("int64", ids, [sequences, seqLen]) };

let out = await session.run(feeds);  // warm-up
const times = [];
let cpu = 0;
for (let r = 0; r < reps; ++r) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  out = await session.run(feeds);
  times.push((performance.now() - t0) / 1e3);
  const c = process.cpuUsage(c0);
  cpu += (c.user + c.system) / 1e6;
}
times.sort((a, b) => a - b);
if (hiddenFile) {
  const h = out.hidden.data;
  writeFileSync(hiddenFile, Buffer.from(h.buffer, h.byteOffset, h.byteLength));
}
// cpuUsage: CPU seconds of all threads of the process, as model_bench and torch_bert.py count.
console.log(JSON.stringify({
  ort: ort.env.versions?.common ?? "1.30.0",
  threads,
  tokens_per_s: n / times[Math.floor(times.length / 2)],
  tokens_per_cpu_s: n / (cpu / reps),
}));
