// How fast llama.cpp (node-llama-cpp's prebuilt CPU binary) scores a judge's prompts, for
// bench/bench_judge, which runs the engine's judge on the same weights and token ids. Prints JSON
// in ms: `whole_ms` evaluates every prompt from an empty context; `prefix_ms` evaluates the
// shared prefix once, then each prompt's rest after it (its tokens erased again before the next).
// usage: node judge_gguf.mjs FILE.gguf THREADS PROMPTS.json
//   PROMPTS.json: {"prefix": N, "prompts": [[ids...], ...]} (every prompt starts with the same N ids)
import {readFileSync} from "node:fs";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [modelPath, threads, promptsPath] = process.argv.slice(2);
const {prefix, prompts} = JSON.parse(readFileSync(promptsPath, "utf8"));
const longest = Math.max(...prompts.map((p) => p.length));
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath});
const context = await model.createContext({contextSize: Math.max(512, longest + 64), threads: Number(threads), batchSize: 512});
const sequence = context.getSequence();

async function whole() {
  const t0 = performance.now();
  for (const p of prompts) {
    await sequence.clearHistory();
    await sequence.evaluateWithoutGeneratingNewTokens(p);
  }
  return performance.now() - t0;
}

async function withPrefix() {
  const t0 = performance.now();
  await sequence.clearHistory();
  await sequence.evaluateWithoutGeneratingNewTokens(prompts[0].slice(0, prefix));
  for (const p of prompts) {
    await sequence.evaluateWithoutGeneratingNewTokens(p.slice(prefix));
    await sequence.eraseContextTokenRanges([{start: prefix, end: sequence.nextTokenIndex}]);
  }
  return performance.now() - t0;
}

await sequence.evaluateWithoutGeneratingNewTokens(prompts[0]);  // warm-up
const wholeMs = await whole();
const prefixMs = await withPrefix();
console.log(JSON.stringify({whole_ms: wholeMs, prefix_ms: prefixMs, prompts: prompts.length, threads: Number(threads)}));
await context.dispose();
await llama.dispose();
