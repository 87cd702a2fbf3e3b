// Renders each chat template of tests/data/chat_templates/templates.json with @huggingface/jinja
// (the renderer transformers.js uses) as transformers' apply_chat_template does for one user turn,
// with and without a system message, and tokenizes the text with Hugging Face's tokenizers
// (Rust, add_special_tokens off, as apply_chat_template(tokenize=True) does).
// Usage: node render.mjs REPO_ROOT USER_PROMPT SYSTEM_PROMPT   -> one JSON object on stdout
import { Template } from "@huggingface/jinja";
import tokenizers from "tokenizers";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const [root, user, system] = process.argv.slice(2);
const here = fileURLToPath(new URL(".", import.meta.url));
const list = JSON.parse(readFileSync(join(root, "tests/data/chat_templates/templates.json"), "utf8"));

function tokenizerPath(spec) {
  return spec.startsWith("npm:") ? join(here, "node_modules", spec.slice(4)) : join(root, spec);
}

function specialTokens(config) {
  const out = {};
  for (const key of ["bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token"]) {
    const v = config[key];
    const text = typeof v === "string" ? v : v && typeof v.content === "string" ? v.content : null;
    if (text) out[key] = text;
  }
  return out;
}

const result = {};
for (const [name, entry] of Object.entries(list)) {
  const dir = join(root, entry.dir ?? `tests/data/chat_templates/${name}`);
  const config = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8"));
  const template = new Template(config.chat_template);
  const tokenizer = tokenizers.Tokenizer.fromFile(tokenizerPath(entry.tokenizer));
  result[name] = {};
  for (const [variant, messages] of [
    ["user", [{ role: "user", content: user }]],
    ["system", [{ role: "system", content: system }, { role: "user", content: user }]],
  ]) {
    try {
      const text = template.render({ messages, add_generation_prompt: true, tools: null, documents: null, ...specialTokens(config) });
      const encoding = await tokenizer.encode(text, null, { addSpecialTokens: false });
      result[name][variant] = { text, ids: Array.from(encoding.getIds()) };
    } catch (e) {
      result[name][variant] = { error: String(e.message ?? e) };
    }
  }
}
process.stdout.write(JSON.stringify(result) + "\n");
