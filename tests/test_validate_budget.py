"""validate(): a sample's verdict never depends on the samples that ran before it.

llguidance's matcher copies share one lexer whose state cache is capped (250,000 states).
The issue's case, 2,000 tools with bounded strings, integer ranges and enums, filled it
after ~16,500 samples (minutes).  Here one pattern whose lexer remembers the last seven
letters (16 new states per character) fills it after ~160 samples of 100 letters.
"""

from __future__ import annotations

import random

import pytest

import grammargen
from grammargen.validate import validate

LETTERS = "abcdefghijklmnop"
GAP = 6  # the pattern ends with a letter, GAP letters, and that letter again
ECHO = "^[a-p]*(" + "|".join(f"{c}[a-p]{{{GAP}}}{c}" for c in LETTERS) + ")$"
TOOLS = [{"type": "function", "function": {"name": "echo", "parameters": {
    "type": "object", "properties": {"s": {"type": "string", "pattern": ECHO}}, "required": ["s"]}}}]


def _call(rng: random.Random, length: int) -> str:
    """A call whose argument matches ECHO: random letters, the last one repeating an earlier one."""
    letters = [rng.choice(LETTERS) for _ in range(length - 1)]
    letters.append(letters[length - GAP - 2])
    return '[{"name": "echo", "arguments": {"s": "' + "".join(letters) + '"}}]'


@pytest.fixture(scope="module")
def grammar() -> grammargen.Grammar:
    return grammargen.compile(TOOLS, "json")


def test_many_samples_do_not_exhaust_a_shared_lexer_budget(grammar) -> None:
    """220 valid samples that each pass alone all pass together (they used to fail with 'too many states' after ~160)."""
    rng = random.Random(0)
    texts = [_call(rng, 100) for _ in range(220)]
    report = validate(grammar, texts, format="json")
    assert [r.message for r in report.failures] == []
    assert report.counts()["accepted"] == 220


@pytest.mark.slow
def test_a_sample_over_the_budget_alone_is_still_rejected(grammar) -> None:
    """A sample that needs more lexer states than llguidance allows fails on a fresh matcher too; the next one is judged afresh."""
    rng = random.Random(1)
    report = validate(grammar, [_call(rng, 20_000), _call(rng, 50)], format="json")
    huge, small = report.results
    assert huge.got == "rejected" and "too many states" in huge.message
    assert small.got == "accepted"
