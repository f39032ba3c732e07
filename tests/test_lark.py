"""Writing Lark text: :func:`grammargen.lark.concat` drops the spaces llguidance pays for, never one it needs."""

from __future__ import annotations

import itertools

import llguidance
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grammargen.lark import concat
from grammargen.profiles import get_profile
from grammargen.tokenizer import builtin_for

TOK = builtin_for(get_profile("qwen25")).ll

# Parts a sequence can hold, each with the texts it matches (an optional part: also "").
PARTS = {
    '"a"': ["a"], '"i"': ["i"], "/b/": ["b"], "T": ["t"], "U": ["u"], "r": ["r"], "item": ["m"],
    "T?": ["t", ""], '("a"|"b")?': ["a", "b", ""], "T*": ["", "tt"], '"c"{,2}': ["", "cc"],
    "x_1": ["x"], "_y": ["y"], "s_2": ["s"],
}
DEFINITIONS = 'T: "t"\nU: "u"\nr: "r"\nitem: "m"\nx_1: "x"\n_y: "y"\ns_2: "s"\n'


def accepts(grammar: str, text: str) -> bool:
    matcher = llguidance.LLMatcher(TOK, grammar, log_level=0)
    assert not matcher.get_error(), (grammar, matcher.get_error())
    ok = matcher.consume_tokens(TOK.tokenize_str(text)) if text else True
    return bool(ok) and matcher.is_accepting()


@pytest.mark.parametrize("parts, written", [
    (["T", "U"], "T U"),            # two names would read as one
    (["T?", "item"], "T? item"),    # "?item" is one token: an inlined rule
    (['"a"', "item"], '"a" item'),  # "a"i: a string with the i flag
    (["/b/", "item"], "/b/ item"),  # /b/i: a regex with the i flag
    (['"a"', "r", "/b/", "r", "T?", "U"], '"a"r/b/r T?U'),  # no flag, no rule name
    (["/b/", "x_1"], "/b/ x_1"),    # /b/x: the x flag
    (['"a"', "T", '"c"{,2}', "/b/", '("a"|"b")?'], '"a"T"c"{,2}/b/("a"|"b")?'),
    (["", '"a"', ""], '"a"'),
])
def test_a_space_stays_only_where_two_tokens_would_read_as_one(parts: list[str], written: str) -> None:
    assert concat(parts) == written


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(sorted(PARTS)), min_size=2, max_size=4))
def test_llguidance_reads_a_concatenation_as_the_spaced_sequence(parts: list[str]) -> None:
    """Every text the spaced sequence matches, the concatenation matches, and the other way round
    on near misses (a part left out): the same language, token for token."""
    spaced = f"start: {' '.join(parts)}\n{DEFINITIONS}"
    joined = f"start: {concat(parts)}\n{DEFINITIONS}"
    texts = {"".join(choice) for choice in itertools.product(*(PARTS[p] for p in parts))}
    misses = {"".join(PARTS[p][0] for j, p in enumerate(parts) if j != i) for i in range(len(parts))}
    for text in sorted(texts | misses):
        assert accepts(joined, text) == accepts(spaced, text), (joined, text)
    assert all(accepts(joined, text) for text in texts)
