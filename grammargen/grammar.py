"""The Grammar value: llguidance Lark text plus the metadata that made it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .errors import GrammarError


@dataclass(frozen=True)
class Grammar:
    """A compiled tool-call grammar.

    ``lark`` is llguidance's Lark dialect; ``guidance`` is the ``(type, data)`` pair that
    ``GeneratorParams.set_guidance`` takes; the rest records how it was made.
    """

    lark: str
    format: str
    tool_names: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)
    markers: dict[str, str] = field(default_factory=dict)  # marker -> "special" | "id" | "text"
    warnings: tuple[str, ...] = ()

    @property
    def guidance(self) -> tuple[str, str]:
        """``("lark_grammar", lark)``, the arguments of onnxruntime-genai's ``set_guidance``."""
        return ("lark_grammar", self.lark)

    def to_json(self) -> dict[str, Any]:
        """llguidance's top-level grammar object (``{"grammars": [...]}``)."""
        return {"grammars": [{"lark_grammar": self.lark}]}

    def apply(self, params: Any, enable_ff_tokens: bool = False) -> None:
        """Constrain an onnxruntime-genai ``GeneratorParams`` with this grammar."""
        try:
            params.set_guidance("lark_grammar", self.lark, enable_ff_tokens)
        except RuntimeError as exc:
            raise GrammarError(f"onnxruntime-genai refused the grammar: {exc}") from exc

    def matcher(self, tokenizer: Any = None) -> Any:
        """A new ``llguidance.LLMatcher`` for this grammar, ready for its first mask.

        ``tokenizer``: the one ``compile`` was given (``None``: the format's built-in one);
        then the matcher is a copy of the one compile's check built, else it is built now.
        """
        from .verify import matcher  # verify imports this module

        return matcher(self, tokenizer)

    def emit(self, engine: str) -> str:
        """This grammar as ``engine`` reads it: ``lark``, ``json``, ``gbnf`` (llama.cpp),
        ``xgrammar``, ``vllm`` or ``sglang`` (request bodies); see :mod:`grammargen.emit`.

        A piece the engine cannot say exactly raises :class:`GrammarError` naming it.
        """
        from .emit import emit

        return emit(self, engine)

    def __str__(self) -> str:
        return self.lark

    def describe(self) -> str:
        """A one-line summary for humans."""
        opts = ", ".join(f"{k}={json.dumps(v)}" for k, v in self.options.items())
        return f"{self.format} grammar for {len(self.tool_names)} tool(s) ({opts})"
