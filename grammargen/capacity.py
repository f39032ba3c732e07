"""Capacity: llguidance's hard limits on grammar size, checked before a grammar reaches a runtime.

Runtimes build matchers with llguidance's default parser limits, so a grammar must fit
them; raising them in our own checks would only hide a failure users will hit.  Two of
them can't be read off the Lark text cheaply, so large grammars are built once here with
the symbol budget lowered below the point where llguidance panics:

* the symbol table: fewer than 65,525 symbols, sub-grammars (``%json``) included; past it
  llguidance panics instead of returning an error.  A ``%json`` rule costs about 14 to 75+
  symbols, a regex argument terminal one.
* the initial lexer budget ("fuel", 1,000,000): every regex terminal costs roughly one
  unit per operator in it; literal strings cost almost nothing.

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
# Below these counts neither limit is reachable by tool arguments alone (measured: a
# %json rule costs at least 14 symbols, an argument regex up to a few hundred fuel).
JSON_RULES_CHECKED = 500
REGEX_TERMINALS_CHECKED = 2_000


def check_size(lark: str, tok: llguidance.LLTokenizer, *, tools: int, json_rules: int,
               regex_terminals: int) -> None:
    """Refuse a grammar too big for llguidance's defaults, naming the limit and the counts."""
    if json_rules < JSON_RULES_CHECKED and regex_terminals < REGEX_TERMINALS_CHECKED:
        return
    limits = llguidance.LLParserLimits(max_grammar_size=SYMBOL_BUDGET)
    matcher = llguidance.LLMatcher(tok, lark, log_level=0, limits=limits)
    if not matcher.is_error():
        return
    message = matcher.get_error()
    counts = (f"{tools:,} tools: {regex_terminals:,} argument terminals, "
              f"{json_rules:,} %json argument rules")
    if "number of symbols" in message:
        raise GrammarError(
            f"the grammar needs more than {SYMBOL_BUDGET:,} grammar symbols; llguidance's symbol "
            f"table holds fewer than {SYMBOL_TABLE:,} ({counts}; a %json rule costs 14-75+ "
            "symbols): pass fewer tools, or schemas the fast shape can write as terminals")
    if "lexer configuration" in message:
        raise GrammarError(
            f"the grammar's regexes exceed llguidance's initial lexer budget "
            f"(limit {LEXER_FUEL:,} fuel; {counts}; about 100-200 fuel per object regex): "
            "pass fewer tools or smaller argument schemas")
