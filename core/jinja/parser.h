#pragma once
// Tokens to a template tree. Refuses, by name and line, any statement, filter or test the
// renderer lacks, so a template is accepted or refused whole before anything is rendered.
#include <vector>

#include "core/jinja/ast.h"
#include "core/jinja/lexer.h"

namespace sq::jinja {

Body parse(const std::vector<Token>& tokens);

}  // namespace sq::jinja
