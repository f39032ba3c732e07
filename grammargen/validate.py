"""Prove a grammar: force sample outputs, tokenized as the model tokenizes them, through llguidance.

Each sample is tokenized (markers written literally become their special tokens), and
every token is checked against the mask llguidance computes before it -- as a runtime
would -- then consumed.  A sample that ends in a non-accepting state is *incomplete*,
not accepted.  The grammar is compiled once; each sample runs on a copy of the matcher.

The copies share one lexer (llguidance's ``deep_copy`` keeps it shared), so its cache of
states, capped at 250,000, fills with every sample.  A sample that meets that cap is run
again on a freshly built matcher, as a runtime would run it, and validation goes on from
there: a verdict never depends on how many samples ran before.  (The shared cache also
makes later masks cheaper, so a sample whose single mask step needs more than llguidance's
per-step lexer fuel on a fresh matcher could pass here; that takes a regex far larger than
any tool schema's.)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Literal

import llguidance

from .errors import InputError
from .grammar import Grammar
from .profiles import get_profile
from .tokenizer import Tokenizer, load_tokenizer

Expect = Literal["accept", "reject"]
Got = Literal["accepted", "rejected", "incomplete"]
CONTEXT = 24  # characters of context shown on each side of a rejection
# llguidance's messages when a lexer runs out of states or of per-step fuel
LEXER_BUDGET = re.compile(r"lexer error: (too many states|too many expressions constructed)")


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
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.grammar_error and all(r.ok for r in self.results)

    @property
    def failures(self) -> list[Result]:
        return [r for r in self.results if not r.ok]

    def counts(self) -> dict[str, int]:
        """How many samples got each outcome."""
        out = {"accepted": 0, "rejected": 0, "incomplete": 0}
        for r in self.results:
            out[r.got] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "grammar_error": self.grammar_error or None,
                "tokenizer": self.tokenizer, "total": len(self.results),
                "failed": len(self.failures), "counts": self.counts(), "warnings": self.warnings,
                "results": [r.to_json() for r in self.results]}


def validate(grammar: Grammar | str, samples: Iterable[Sample | str], *,
             tokenizer: Any = None, format: str | None = None,
             progress: Callable[[int], None] | None = None) -> Report:
    """Force each sample through the grammar; report expected vs got for each.

    ``tokenizer``: ``None`` (built-in, with the profile's special tokens), a
    ``tokenizer.json`` path, a model folder, or a ``tokenizers.Tokenizer``.  For a raw
    Lark string, ``format`` names the profile the built-in tokenizer is made for.
    ``progress`` is called with 1 after each sample (for a progress bar).
    """
    lark = grammar.lark if isinstance(grammar, Grammar) else grammar
    profile_name = grammar.format if isinstance(grammar, Grammar) else format or "phi4-mini"
    tok = load_tokenizer(tokenizer, get_profile(profile_name))
    report = Report(tokenizer=tok.name)
    if isinstance(grammar, Grammar) and tokenizer is not None:
        report.warnings = marker_mismatches(grammar, tok)
    base = llguidance.LLMatcher(tok.ll, lark, log_level=0)
    if base.is_error():
        report.grammar_error = _first_line(base.get_error())
        return report
    for sample in samples:
        if isinstance(sample, str):
            sample = Sample(sample)
        result = force(base.deep_copy(), tok, sample)
        if LEXER_BUDGET.search(result.message):
            # llguidance's copies share one lexer: its state cache, and the budget that caps it,
            # grow with every sample, so this failure may be the earlier samples' doing.  A runtime
            # builds one matcher per request: judge the sample on a fresh one, and go on from it.
            base = llguidance.LLMatcher(tok.ll, lark, log_level=0)
            result = force(base.deep_copy(), tok, sample)
            if LEXER_BUDGET.search(result.message):  # its own verdict; the next sample starts clean
                base = llguidance.LLMatcher(tok.ll, lark, log_level=0)
        report.results.append(result)
        if progress is not None:
            progress(1)
    return report


def marker_mismatches(grammar: Grammar, tok: Tokenizer) -> list[str]:
    """Markers the grammar spells differently from how ``tok`` has them.

    llguidance may still match them (it treats every added ``<...>`` token as special),
    but other runtimes do not: onnxruntime-genai matches a named special reference only
    for tokens flagged ``special``.  Compiling with the tokenizer avoids the difference.
    """
    spelled = {"special": "a special token", "id": "a token referenced by id", "text": "text"}
    has = {"special": "a special token", "id": "a non-special added token", "text": "plain text"}
    out = []
    for marker, kind in grammar.markers.items():
        wanted = tok.marker_form(marker).kind
        if kind != wanted:
            out.append(f"the grammar writes {marker} as {spelled[kind]}, but this tokenizer has it as "
                       f"{has[wanted]}: compile with this tokenizer so every runtime matches it")
    return out


def force(matcher: llguidance.LLMatcher, tok: Tokenizer, sample: Sample) -> Result:
    """Run one sample's tokens through ``matcher``, computing the mask before each token.

    The verdict is the grammar's: a token outside the mask that the grammar still takes
    is consumed and noted, not rejected.  (With forced text, such as the rest of the only
    enum value that fits, llguidance's mask allows just the canonical tokenization of it;
    the model's own tokens may split it differently, yet the text is in the grammar.)
    """
    ids, starts = tok.encode_with_offsets(sample.text)
    outside_mask: list[str] = []
    for i, token in enumerate(ids):
        mask = matcher.compute_bitmask()
        if token_allowed(mask, token):
            if not matcher.consume_token(token):  # allowed by the mask yet refused
                return _rejected(None, tok, sample, token, starts[i], _first_line(matcher.get_error()))
            continue
        probe = matcher.deep_copy()
        if not probe.consume_token(token):
            message = _first_line(probe.get_error()) or "the token is not allowed here"
            return _rejected(matcher, tok, sample, token, starts[i], message)
        outside_mask.append(f"{tok.decode([token])!r} at byte {len(sample.text[:starts[i]].encode())}")
        matcher = probe
    if matcher.is_accepting():
        message = ""
        if outside_mask:
            message = (f"{len(outside_mask)} token(s) outside llguidance's mask but in the grammar "
                       f"(first: {outside_mask[0]}): the mask allows only the canonical "
                       "tokenization of forced text")
        return Result(sample, "accepted", message=message)
    wanted = _readable(tok, matcher.compute_ff_bytes())
    message = "the text is a valid prefix, but the grammar needs more"
    if wanted:
        message += f" (next: {wanted!r})"
    end = len(sample.text.encode())
    return Result(sample, "incomplete", offset=end, context=_context(sample.text, end, end),
                  message=message)


def token_allowed(mask: bytes, token: int) -> bool:
    """Is ``token`` set in llguidance's bitmask (one bit per token id)?"""
    return token >> 3 < len(mask) and bool(mask[token >> 3] >> (token & 7) & 1)


def _rejected(matcher: llguidance.LLMatcher | None, tok: Tokenizer, sample: Sample, token: int,
              start: int, message: str) -> Result:
    """A rejection at the first refused *byte* of ``token`` (``start``: its character offset)."""
    data = sample.text.encode()
    token_start = len(sample.text[:start].encode())
    token_bytes = b"" if tok.ll.is_special_token(token) else tok.ll.decode_bytes([token])
    offset = token_start
    if matcher is not None and token_bytes:
        probe = matcher.deep_copy()
        offset += _bytes_accepted(probe, tok, token_bytes)
    token_end = token_start + max(len(token_bytes), 1 if token_bytes else _special_len(tok, token))
    return Result(sample, "rejected", offset=offset,
                  context=_context(sample.text, offset, max(token_end, offset + 1), data),
                  message=message)


def _bytes_accepted(matcher: llguidance.LLMatcher, tok: Tokenizer, data: bytes) -> int:
    """How many leading bytes of ``data`` the grammar takes, fed as single-byte tokens."""
    for n, byte in enumerate(data):
        ids = tok.ll.tokenize_bytes(bytes([byte]))
        if len(ids) != 1 or not matcher.consume_token(ids[0]):
            return n  # (with no single-byte token, the token's start is as exact as we can be)
    return len(data)


def _special_len(tok: Tokenizer, token: int) -> int:
    return len(tok.decode([token]).encode())


def _context(text: str, offset: int, end: int, data: bytes | None = None) -> str:
    """The text around byte ``offset``, with ⟦⟧ around bytes ``offset:end``."""
    data = text.encode() if data is None else data
    before = data[:offset][-CONTEXT * 4:].decode(errors="replace")[-CONTEXT:]
    bad = data[offset:end].decode(errors="replace")
    after = data[end:][:CONTEXT * 4].decode(errors="replace")[:CONTEXT]
    return f"{before}⟦{bad}⟧{after}"


def _readable(tok: Tokenizer, data: bytes) -> str:
    """Bytes as text, with llguidance's ``\\xff[id]`` token references spelled out."""
    parts = re.split(rb"\xff\[(\d+)\]", data)  # text, id, text, id, ..., text
    return "".join(tok.decode([int(p)]) if i % 2 else p.decode(errors="replace")
                   for i, p in enumerate(parts))


def _first_line(message: str) -> str:
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    return lines[0] if lines else ""


def read_samples(path: str | Path) -> list[Sample]:
    """Samples from a JSON Lines file: ``{"text": ..., "expect": "accept"|"reject", "note"?}``.

    Blank lines are skipped; a bad line raises :class:`InputError` naming file and line.
    """
    source = str(path)
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read samples: {exc}", source=source) from exc
    out = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            out.append(sample_from_json(json.loads(line), where))
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: not valid JSON: {exc.msg}", source=source) from exc
        except InputError as exc:
            raise exc.at(source=source)
    return out


def sample_from_json(data: Any, where: str = "") -> Sample:
    """A :class:`Sample` from its JSON object form."""
    prefix = f"{where}: " if where else ""
    if isinstance(data, str):
        return Sample(data)
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        raise InputError(f'{prefix}expected an object with a "text" string')
    expect = data.get("expect", "accept")
    if expect not in ("accept", "reject"):
        raise InputError(f'{prefix}"expect" must be "accept" or "reject", not {expect!r}')
    note = data.get("note", "")
    return Sample(data["text"], expect, note if isinstance(note, str) else str(note))
