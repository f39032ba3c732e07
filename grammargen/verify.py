"""The default check of a compiled grammar: it fits llguidance's limits and llguidance reads it.

``compile(check=True)`` calls :func:`verify`, so a grammar that validates never fails when a
runtime builds its matcher; a refused schema is blamed on its tool.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import llguidance

from .capacity import check_size, limit_error
from .errors import GrammarError
from .grammar import Grammar
from .tokenizer import Tokenizer

if TYPE_CHECKING:  # the compiler imports this module; its writer is only read here
    from .compiler import _Writer


def verify(grammar: Grammar, tok: Tokenizer, writer: "_Writer") -> None:
    """Refuse a grammar too big for llguidance's defaults, or one llguidance can't read."""
    check_size(grammar.lark, tok.ll, **writer.sizes(len(grammar.tool_names)))
    check_grammar(grammar, tok, writer)


def check_grammar(grammar: Grammar, tok: Tokenizer, writer: "_Writer | None" = None) -> None:
    """Have llguidance check the grammar; blame the tool whose schema it refuses, if any."""
    is_error, messages = llguidance.LLMatcher.validate_grammar_with_warnings(grammar.lark, tok.ll)
    if not is_error:
        return
    message = messages[0].strip().splitlines()[0] if messages else "unknown error"
    if writer is not None:
        error = limit_error(message, **writer.sizes(len(grammar.tool_names)))
        if error is not None:  # a size limit: no one schema is to blame
            raise error
    for tool, text in (writer.tool_args if writer else []):
        bad, sub = llguidance.LLMatcher.validate_grammar_with_warnings(f"start: %json {text}", tok.ll)
        if bad:
            detail = _first_error(sub[0]) if sub else message
            raise GrammarError(f"llguidance refuses this schema: {_strip_location(detail)}",
                               path=f"{tool.path}.parameters")
    raise GrammarError(f"llguidance refuses the grammar: {message}")


def _first_error(message: str) -> str:
    """llguidance's first line, and for a regex error (first line ends in ':') its reason line."""
    lines = message.strip().splitlines()
    reason = next((x.strip() for x in lines[1:] if x.strip().startswith("error:")), "")
    return f"{lines[0]} {reason}" if lines[0].endswith(":") and reason else lines[0]


def _strip_location(message: str) -> str:
    # llguidance prefixes "at 1(8): failed to compile JSON schema: " - keep what is useful.
    marker = "failed to compile JSON schema: "
    return message.split(marker, 1)[1] if marker in message else message
