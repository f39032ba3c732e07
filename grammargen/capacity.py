"""Capacity: llguidance's hard limits on grammar size, and the errors that name them.

Runtimes build matchers with llguidance's default parser limits, so a grammar must fit
them; raising them in our own checks would only hide a failure users will hit.  The check
(:mod:`.verify`) builds every grammar's matcher once, with the symbol budget lowered below
the point where llguidance panics, and :func:`limit_error` turns a limit's message into an
error that names it and the counts that reached it:

* the symbol table: fewer than 65,525 symbols, sub-grammars (``%json``) included; past it
  llguidance panics instead of returning an error.  A ``%json`` rule costs about 14 to 75+
  symbols, an argument terminal one.
* the initial lexer budget ("fuel", 1,000,000): building the terminals' expressions spends
  it, and so do the checks llguidance runs on the lexer when it builds a matcher.
  Measured: an object terminal of the benchmark's kind about 125, each distinct integer
  range about 100 (10,000 of them overflow it), a five-value enum about 50; literal text
  costs little.

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
# llguidance's messages when building the lexer runs out of fuel: the terminals' expressions,
# the check that each lexeme can match, the precomputation of the largest ones.
_LEXER_BUDGET = ("initial lexer configuration", "checking relevance of lexemes",
                 "lexer precomputation failed")


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
    if any(sign in message for sign in _LEXER_BUDGET):
        return GrammarError(
            f"the grammar's terminals exceed llguidance's initial lexer budget "
            f"(limit {LEXER_FUEL:,} fuel; {counts}; an object terminal costs about 125 fuel, "
            "each distinct integer range about 100): pass fewer tools or smaller argument schemas")
    return None
