// Greedy tokens and tokenization of a GGUF file by llama.cpp itself (node-llama-cpp's prebuilt
// CPU binary), printed as JSON for tst_llama_cpp to compare with the engine's own.
// usage: node check_gguf.mjs FILE.gguf PROMPT_IDS(comma-separated) MAX_NEW TEXT
// TEXT may be a JSON array of texts: "tokenized" is then one id list per text.
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [modelPath, promptIds, maxNew, text] = process.argv.slice(2);
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath});
const context = await model.createContext({contextSize: 256});
const sequence = context.getSequence();
const tokens = [];
for await (const t of sequence.evaluate(promptIds.split(",").map(Number), {temperature: 0})) {
  if (model.isEogToken(t)) break;
  tokens.push(t);
  if (tokens.length >= Number(maxNew)) break;
}
const texts = text.startsWith("[") ? JSON.parse(text) : null;
const tokenized = texts ? texts.map(t => Array.from(model.tokenize(t, true))) : Array.from(model.tokenize(text, true));
console.log(JSON.stringify({tokens, tokenized}));
await llama.dispose();
