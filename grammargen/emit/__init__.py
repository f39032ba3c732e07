"""One grammar value, printed for each engine.

``grammargen.compile`` writes llguidance Lark; :func:`emit` reads it back into the value of
:mod:`grammargen.ir` (:mod:`.reader`) and prints it for an engine: ``lark`` (as compiled),
``json`` (llguidance's top-level grammar object), ``gbnf`` (llama.cpp), ``xgrammar`` (its Lark
reader), ``vllm`` and ``sglang`` (request bodies carrying the Lark).  A piece an engine cannot
say exactly is a :class:`GrammarError` naming it, never a looser grammar.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..compiler import SHORT_TEXT_RULE
from ..errors import GrammarError

if TYPE_CHECKING:
    from ..grammar import Grammar

ENGINES = ("lark", "json", "gbnf", "xgrammar", "vllm", "sglang")

# Tokens llama.cpp makes end-of-generation by their text (llama-vocab.cpp, llama-cpp-python
# 0.3.36): its grammar engine never matches them, so a marker among them can't be in GBNF.
LLAMA_CPP_EOG = frozenset([
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<｜end▁of▁sentence｜>", "[e~[",
])


# compile's hint for llguidance's token slices (compiler.SHORT_TEXT): the same text as TEXT
# alone, faster only where llguidance computes the mask, so the other engines read TEXT.
SLICE_HINT = (SHORT_TEXT_RULE + "\n", "text: TEXT\n")


def emit(grammar: Grammar, engine: str) -> str:
    """``grammar`` as the text ``engine`` reads (one of :data:`ENGINES`), ending in a newline.

    ``lark`` is ``grammar.lark`` itself; the others are printed from it.
    """
    if engine == "lark":
        return grammar.lark
    if engine == "json":
        return json.dumps(grammar.to_json(), indent=2) + "\n"
    if engine in ("vllm", "sglang"):
        from .bodies import sglang_body, vllm_body

        return (vllm_body if engine == "vllm" else sglang_body)(grammar.lark) + "\n"
    if engine == "gbnf":
        from .gbnf import print_gbnf
        from .reader import read

        value = read(grammar.lark.replace(*SLICE_HINT))
        named = {t.name for r in value.rules for t in _tokens(r.expr)}
        eog = sorted(m for m, kind in grammar.markers.items() if m in LLAMA_CPP_EOG
                     and (kind == "id" or (kind == "special" and m in named)))
        if eog:
            raise GrammarError(f"marker {eog[0]} is an end-of-generation token in llama.cpp: its "
                               "grammar engine never matches it, so GBNF cannot hold it (llama.cpp ends the "
                               "turn there: compile with parallel calls off, and without the "
                               "reasoning block where it ends one)", path="gbnf")
        return _header("#", grammar, "llama.cpp") + print_gbnf(value, _specials(grammar))
    if engine == "xgrammar":
        from .reader import read
        from .xgrammar import print_xgrammar

        value = read(grammar.lark.replace(*SLICE_HINT))
        return _header("//", grammar, "xgrammar") + print_xgrammar(value, _specials(grammar))
    raise GrammarError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}", path="emit")


def _tokens(expr):
    from ..ir import Token
    from .plain import children

    if isinstance(expr, Token):
        yield expr
    for child in children(expr):
        yield from _tokens(child)


def _specials(grammar: Grammar) -> tuple[str, ...]:
    """The markers the grammar writes as tokens (by name or id): no lexeme may spell them."""
    return tuple(m for m, kind in grammar.markers.items() if kind != "text")


def _header(comment: str, grammar: Grammar, engine: str) -> str:
    """The one way these dialects differ from the Lark, stated where the grammar is used."""
    return (f"{comment} grammargen {grammar.format} grammar for {engine}. {engine} matches a special token by\n"
            f"{comment} its text, so free text and string values here never hold a marker's text: a\n"
            f"{comment} marker spelled out as plain text is refused there (llguidance takes it).\n"
            f"{comment} docs/engines.md names every difference.\n")
