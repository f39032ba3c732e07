"""Prove a grammar: force sample outputs, tokenized as the model tokenizes them, through llguidance.

Each sample is tokenized (markers written literally become their special tokens), and
every token is checked against the mask llguidance computes before it -- as a runtime
would -- then consumed.  A sample that ends in a non-accepting state is *incomplete*,
not accepted.  The grammar is compiled once; each sample runs on a copy of the matcher.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Literal

import llguidance

from .grammar import Grammar
from .profiles import get_profile
from .tokenizer import Tokenizer, load_tokenizer

Expect = Literal["accept", "reject"]
Got = Literal["accepted", "rejected", "incomplete"]
CONTEXT = 24  # characters of context shown on each side of a rejection


@dataclass(frozen=True)
class Sample:
    """A model output and what the grammar should do with it."""

    text: str
    expect: Expect = "accept"
    note: str = ""  # why this sample exists, e.g. "enum violation"


@dataclass(frozen=True)
class Result:
    """What the grammar did with one sample."""

    sample: Sample
    got: Got
    offset: int | None = None  # byte offset of the first rejected token
    context: str = ""  # text around the rejection, with ⟦⟧ around the rejected token
    message: str = ""  # llguidance's message

    @property
    def ok(self) -> bool:
        return (self.got == "accepted") == (self.sample.expect == "accept")

    @property
    def text(self) -> str:
        return self.sample.text

    @property
    def expected(self) -> Expect:
        return self.sample.expect

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "expected": self.expected, "got": self.got, "ok": self.ok,
                "offset": self.offset, "context": self.context, "message": self.message,
                "note": self.sample.note}


@dataclass
class Report:
    """Per-sample results, or the one grammar error that stopped everything."""

    results: list[Result] = field(default_factory=list)
    grammar_error: str = ""
    tokenizer: str = ""

    @property
    def ok(self) -> bool:
        return not self.grammar_error and all(r.ok for r in self.results)

    @property
    def failures(self) -> list[Result]:
        return [r for r in self.results if not r.ok]

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "grammar_error": self.grammar_error or None,
                "tokenizer": self.tokenizer, "total": len(self.results),
                "failed": len(self.failures), "results": [r.to_json() for r in self.results]}


def validate(grammar: Grammar | str, samples: Iterable[Sample | str], *,
             tokenizer: Any = None, format: str | None = None) -> Report:
    """Force each sample through the grammar; report expected vs got for each.

    ``tokenizer``: ``None`` (built-in, with the profile's special tokens), a
    ``tokenizer.json`` path, a model folder, or a ``tokenizers.Tokenizer``.  For a raw
    Lark string, ``format`` names the profile the built-in tokenizer is made for.
    """
    lark = grammar.lark if isinstance(grammar, Grammar) else grammar
    profile_name = grammar.format if isinstance(grammar, Grammar) else format or "phi4-mini"
    tok = load_tokenizer(tokenizer, get_profile(profile_name))
    report = Report(tokenizer=tok.name)
    base = llguidance.LLMatcher(tok.ll, lark, log_level=0)
    if base.is_error():
        report.grammar_error = base.get_error()
        return report
    for sample in samples:
        if isinstance(sample, str):
            sample = Sample(sample)
        report.results.append(force(base.deep_copy(), tok, sample))
    return report


def force(matcher: llguidance.LLMatcher, tok: Tokenizer, sample: Sample) -> Result:
    """Run one sample's tokens through ``matcher``, checking the mask before each token."""
    ids = tok.encode(sample.text)
    for i, token in enumerate(ids):
        mask = matcher.compute_bitmask()
        allowed = bool(mask[token >> 3] >> (token & 7) & 1) if token >> 3 < len(mask) else False
        if not allowed or not matcher.consume_token(token):
            message = matcher.get_error() or "the token is not allowed here"
            return _rejected(tok, sample, ids, i, message.splitlines()[0])
    if matcher.is_accepting():
        return Result(sample, "accepted")
    return Result(sample, "incomplete", offset=len(sample.text.encode()),
                  message="the text is a valid prefix, but the grammar needs more")


def _rejected(tok: Tokenizer, sample: Sample, ids: list[int], index: int, message: str) -> Result:
    before = tok.ll.decode_bytes(ids[:index])
    token = tok.ll.decode_bytes(ids[index:index + 1]) or tok.decode(ids[index:index + 1]).encode()
    after = tok.ll.decode_bytes(ids[index + 1:])
    text = (before[-CONTEXT:].decode(errors="replace") + "⟦" + token.decode(errors="replace")
            + "⟧" + after[:CONTEXT].decode(errors="replace"))
    return Result(sample, "rejected", offset=len(before), context=text, message=message)
