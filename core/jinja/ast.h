#pragma once
// The parsed template: expressions and statements, each with the source line it came from.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/jinja/value.h"

namespace sq::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind {
  Literal,   // literal
  Name,      // name
  Attr,      // args[0].name
  Item,      // args[0][args[1]]
  Slice,     // args[0][args[1]:args[2]:args[3]], any of the three may be null
  Call,      // args[0](args[1..], kwargs)
  Filter,    // args[0] | name(args[1..], kwargs)
  Test,      // args[0] is [not] name(args[1..])
  Unary,     // name in {not, -, +} applied to args[0]
  Binary,    // args[0] name args[1]; name is an operator, "and", "or", "in" or "not in"
  Cond,      // args[0] if args[1] else args[2] (args[2] may be null)
  List,      // [args...]
  Tuple,     // (args...)
  Dict       // {args[0]: args[1], args[2]: args[3], ...}
};

struct Expr {
  ExprKind kind;
  int line = 0;
  std::string name;
  Value literal;
  bool negated = false;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class StmtKind { Text, Output, If, For, Set, SetBlock, Macro, Break, Continue, Block };

struct Stmt {
  StmtKind kind;
  int line = 0;
  std::string text;                  // Text
  ExprPtr value;                     // Output, Set, For (the iterable)
  std::vector<std::string> targets;  // For and Set: the names bound; Macro: its name
  ExprPtr target_object;             // Set ns.attr = ...: ns (targets[0] is attr)
  ExprPtr condition;                 // For's `if`
  std::vector<std::pair<ExprPtr, Body>> branches;  // If: conditions (null for else) and bodies
  Body body, else_body;              // For, SetBlock, Macro, Block
  std::vector<std::pair<std::string, ExprPtr>> params;  // Macro: parameters and defaults
};

}  // namespace sq::jinja
