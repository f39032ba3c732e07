"""Capacity: llguidance's hard limits on grammar size, checked before a grammar reaches a runtime.

Runtimes build matchers with llguidance's default parser limits, so a grammar must fit
them; raising them in our own checks would only hide a failure users will hit.  Two of
them can't be read off the Lark text cheaply, so large grammars are built once here with
the symbol budget lowered below the point where llguidance panics:

* the symbol table: fewer than 65,525 symbols, sub-grammars (``%json``) included; past it
  llguidance panics instead of returning an error.  A ``%json`` rule costs about 14 to 75+
  symbols, an argument terminal one.
* the initial lexer budget ("fuel", 1,000,000): building the terminals' expressions spends
  it.  Measured: an object terminal of the benchmark's kind about 125, each distinct integer
  range about 100 (10,000 of them overflow it), a five-value enum about 50; literal text
  costs little.  So the terminals' size, not only their count, decides when to check.

The third, the Earley row limit (2,000 items), is kept by construction: tool names are a
prefix tree (see compiler), and a tree node with too many branches is refused there.
"""

from __future__ import annotations

import llguidance

from .errors import GrammarError

SYMBOL_TABLE = 65_525  # llguidance 1.9.1 panics at this many symbols
SYMBOL_BUDGET = 65_000  # what we build with, so the overflow is an error, not a panic
LEXER_FUEL = llguidance.LLParserLimits().initial_lexer_fuel
ROW_ITEMS = llguidance.LLParserLimits().max_items_in_row
# Below these sizes neither limit is reachable (measured: a %json rule costs at least 14
# symbols; terminals spend well under one fuel a character: 2.8 million characters of
# integer ranges were the densest overflow found).
JSON_RULES_CHECKED = 500
ARG_TERMINALS_CHECKED = 2_000
TERMINAL_CHARS_CHECKED = 200_000


def check_size(lark: str, tok: llguidance.LLTokenizer, *, tools: int, json_rules: int,
               arg_terminals: int, terminal_chars: int) -> None:
    """Refuse a grammar too big for llguidance's defaults, naming the limit and the counts.

    ``terminal_chars``: the size of the argument and value terminals' definitions.
    """
    if (json_rules < JSON_RULES_CHECKED and arg_terminals < ARG_TERMINALS_CHECKED
            and terminal_chars < TERMINAL_CHARS_CHECKED):
        return
    limits = llguidance.LLParserLimits(max_grammar_size=SYMBOL_BUDGET)
    matcher = llguidance.LLMatcher(tok, lark, log_level=0, limits=limits)
    if matcher.is_error():
        error = limit_error(matcher.get_error(), tools=tools, json_rules=json_rules,
                            arg_terminals=arg_terminals, terminal_chars=terminal_chars)
        if error is not None:
            raise error


def limit_error(message: str, *, tools: int, json_rules: int, arg_terminals: int,
                terminal_chars: int) -> GrammarError | None:
    """llguidance's message about one of its size limits, as an error naming it and the counts."""
    counts = (f"{tools:,} tools: {arg_terminals:,} argument terminals of {terminal_chars:,} "
              f"characters, {json_rules:,} %json argument rules")
    if "number of symbols" in message:
        return GrammarError(
            f"the grammar needs more than {SYMBOL_BUDGET:,} grammar symbols; llguidance's symbol "
            f"table holds fewer than {SYMBOL_TABLE:,} ({counts}; a %json rule costs 14-75+ "
            "symbols): pass fewer tools, or schemas the fast shape can write as terminals")
    if "lexer configuration" in message:
        return GrammarError(
            f"the grammar's terminals exceed llguidance's initial lexer budget "
            f"(limit {LEXER_FUEL:,} fuel; {counts}; an object terminal costs about 125 fuel, "
            "each distinct integer range about 100): pass fewer tools or smaller argument schemas")
    return None
