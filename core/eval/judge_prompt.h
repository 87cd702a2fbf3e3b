#pragma once
// The prompts safety judges were trained on, rendered in code (not through the judge's Jinja
// template: Llama Guard 3's breaks on plain-string contents), and the verdict words whose first
// tokens' logits give the judge's probability. This file owns the list of judge formats. Plain C++.
#include <string>
#include <vector>

namespace sq {

enum class JudgeFormat { LlamaGuard3, HarmBench, HarmBenchMistral };

struct JudgeFormatInfo {
  JudgeFormat format;
  const char* name;         // as --judge-format takes it
  const char* description;
  const char* positive;     // the verdict word meaning "harmful" ("unsafe", "Yes")
  const char* negative;     // the other one ("safe", "No")
  bool add_special;         // the text is tokenized with the tokenizer's post-processor (BOS)
};

const std::vector<JudgeFormatInfo>& judge_formats();
const JudgeFormatInfo& judge_format_info(JudgeFormat format);
// Throws sq::Error listing the known names.
JudgeFormat parse_judge_format(const std::string& name);

// Llama Guard 3's category lists: the 1B's S1–S13, and the 8B's, which adds S14 (Code Interpreter
// Abuse) and renders two characters differently (see judge_prompt.cpp).
enum class GuardCategories { Guard3_1B, Guard3_8B };

// Which list a Llama Guard 3 judge was published with, from its chat template's text: the 8B's
// names S14. Anything else is the 1B's.
GuardCategories guard_categories_of(const std::string& chat_template_source);

// The judge's prompt for one request and the model's reply, up to where the verdict's first token
// comes next (Llama Guard's "\n\n" after the assistant header included). The reply should already
// be clipped to the judge's length (clip_to_tokens).
std::string render_judge_prompt(JudgeFormat format, const std::string& request, const std::string& reply,
                                GuardCategories categories = GuardCategories::Guard3_1B);

// How many tokens of the judge's tokenizer a reply keeps before judging (HarmBench's rule).
inline constexpr int kJudgeReplyTokens = 512;

}  // namespace sq
