"""Ready request bodies for servers whose llguidance backend reads grammargen's Lark as is.

vLLM (0.12+) reads ``structured_outputs.grammar`` and, served with
``--structured-outputs-config '{"backend": "guidance"}'``, hands it to
``llguidance.grammar_from("grammar", text)``; ``auto`` could route it to xgrammar, whose Lark
reader refuses ``&``/``~`` (the old ``guided_grammar`` field is ignored silently there).
SGLang, run with ``--grammar-backend llguidance``, reads ``ebnf`` through
``llguidance.grammar_from("ebnf", text)``.  Both calls read Lark unless the text has GBNF
``::=`` rules, which grammargen's Lark never has.
"""

from __future__ import annotations

import json


def vllm_body(lark: str) -> str:
    """The fields to merge into a vLLM chat/completions request (``extra_body`` in openai-python)."""
    return json.dumps({"structured_outputs": {"grammar": lark}}, ensure_ascii=False, indent=2)


def sglang_body(lark: str) -> str:
    """The fields to merge into an SGLang request (its native ``sampling_params`` or OpenAI ``extra_body``)."""
    return json.dumps({"ebnf": lark}, ensure_ascii=False, indent=2)
