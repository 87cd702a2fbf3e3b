// Prefill and decode speed of a GGUF file in llama.cpp (node-llama-cpp's prebuilt CPU binary), for
// bench/bench_llama_cpp, which runs the engine on the same weights. Prints JSON in ms.
// usage: node bench_gguf.mjs FILE.gguf THREADS PROMPT_IDS(comma-separated) DECODE_TOKENS
// Each figure is the better of two runs after a warm-up; decode is the whole run (prompt and
// DECODE_TOKENS greedy tokens, end-of-generation ignored) less the prompt's own time.
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [modelPath, threads, promptIds, decodeTokens] = process.argv.slice(2);
const prompt = promptIds.split(",").map(Number);
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath});
const context = await model.createContext({contextSize: 512, threads: Number(threads), batchSize: 512});
const sequence = context.getSequence();

async function prefill() {
  await sequence.clearHistory();
  const t0 = performance.now();
  await sequence.evaluateWithoutGeneratingNewTokens(prompt);
  return performance.now() - t0;
}

async function whole() {
  await sequence.clearHistory();
  const t0 = performance.now();
  let n = 0;
  for await (const t of sequence.evaluate(prompt, {temperature: 0})) {
    if (++n >= Number(decodeTokens)) break;
  }
  return performance.now() - t0;
}

await prefill();
const prefillMs = Math.min(await prefill(), await prefill());
const wholeMs = Math.min(await whole(), await whole());
console.log(JSON.stringify({prefill_ms: prefillMs, decode_ms: wholeMs - prefillMs, threads: Number(threads)}));
await context.dispose();
await llama.dispose();
