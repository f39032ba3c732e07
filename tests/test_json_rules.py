"""%json schemas as plain rules accept exactly what llguidance's %json accepts.

Each schema is compiled twice for llguidance: as ``%json`` with grammargen's compact
separators, and as the rules :func:`json_rules` writes, printed back to Lark one character a
lexeme (tests/test_lower.py).  Every instance, serialized as grammargen writes JSON, must be
taken to the same byte and end the same way in both.  Instances come from tables here, the
JSONSchemaBench corpus (labelled valid and invalid) and BFCL answers with their mutants.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import llguidance
import pytest

import grammargen
from grammargen import ir
from grammargen.emit.json_rules import COMPACT, json_rules
from grammargen.errors import GrammarError, GrammarGenError
from grammargen.lark import json_text
from grammargen.render import ordered
from grammargen.schema import prepare
from test_lower import BYTES, expand, mutate, print_rules, verdict

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
JSB = CORPUS / "jsonschemabench" / "schemas.jsonl"
BFCL = CORPUS / "bfcl" / "bfcl.jsonl"
needs_jsb = pytest.mark.skipif(not JSB.is_file(), reason=f"no shared corpus at {JSB} (only in the team's workspace)")
needs_bfcl = pytest.mark.skipif(not BFCL.is_file(), reason=f"no shared corpus at {BFCL} (only in the team's workspace)")


def styled(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "x-guidance": COMPACT}


def original(schema: dict[str, Any]) -> str:
    return "start: %json " + json.dumps(styled(schema))


def lowered(schema: dict[str, Any]) -> str:
    return print_rules(json_rules(styled(schema), "args"))


def text_of(instance: Any, schema: dict[str, Any]) -> str:
    """Raw text stays as written; values are written as grammargen writes JSON, keys in schema order."""
    return instance.text if isinstance(instance, Raw) else json_text(ordered(instance, schema))


class Raw:
    """An instance given as its exact text (spellings JSON allows but grammargen never writes)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Raw({self.text!r})"


def generated(schema: dict[str, Any], n: int, seed: int) -> list[Raw]:
    """Texts drawn from the rules themselves (random expansions, their cuts and mutations):
    they reach spellings and corners no labelled instance has."""
    rules = json_rules(styled(schema), "args")
    by_name = {r.name: r for r in rules}
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        text = expand(by_name, ir.Ref("args"), rng, [60])
        out += [Raw(text), Raw(mutate(text, rng))]
    return out


def disagreements(schema: dict[str, Any], instances: list[Any]) -> list[tuple[str, Any, Any]]:
    ours, theirs = lowered(schema), original(schema)
    out = []
    for instance in instances:
        text = text_of(instance, schema)
        if verdict(theirs, text) != verdict(ours, text):
            out.append((text, verdict(theirs, text), verdict(ours, text)))
    return out


# -- tables: what each keyword accepts ---------------------------------------------------------

CASES = [
    pytest.param({"type": "object", "properties": {"a": {"type": "integer", "minimum": 3}, "b": {"type": "string", "maxLength": 3}},
                  "required": ["a"]},
                 [{"a": 3}, {"a": 3, "b": "xyz"}, {"a": 3, "c": [1]}, Raw('{"a": 3, "\\u0062": "x"}')],
                 [{"a": 2}, {"a": 3, "b": "wxyz"}, {"b": "x"}, Raw('{"a": 3, "a": 4}'), Raw('{"a":3}')],
                 id="open-object-bounds"),
    pytest.param({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "boolean"}, "c": {"type": "null"},
                                                   "d": {"type": "number"}},
                  "additionalProperties": False},
                 [{}, {"b": True}, {"a": 1, "d": -0.5e3}, {"a": -0, "b": False, "c": None, "d": 1}],
                 [Raw('{"b": true, "a": 1}'), {"e": 1}, Raw("{, }"), Raw('{"d": 1.}')],
                 id="closed-object-order"),
    pytest.param({"type": "array", "items": {"type": "string", "pattern": "^[a-z]+\\d$"}, "minItems": 1, "maxItems": 3},
                 [["ab1"], ["ab1", "x2", "y3"]],
                 [[], ["ab1"] * 4, ["Ab1"], ["ab"]], id="array-pattern"),
    pytest.param({"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "items": False},
                 [[], [1], [1, "a"]], [[1, "a", 2], ["a"]], id="prefix-items-closed"),
    pytest.param({"type": "array", "prefixItems": [{"type": "integer"}], "minItems": 2, "maxItems": 70},
                 [[1, 2], [1, "a", None], [1] * 70], [[1], [1] * 71, ["a", 1]], id="prefix-items-open"),
    pytest.param({"anyOf": [{"type": "null"}, {"$ref": "#/$defs/n"}],
                  "$defs": {"n": {"type": "object", "properties": {"next": {"$ref": "#"}}, "additionalProperties": False}}},
                 [None, {}, {"next": None}, {"next": {"next": {}}}], [{"x": 1}, {"next": 1}], id="recursive-ref"),
    pytest.param({"enum": ["a\nb", 1, None, [1, "x"], {"k": True}, "\x7f"]},
                 ["a\nb", Raw('"a\\u000Ab"'), 1, None, [1, "x"], {"k": True}, "\x7f"],
                 [2, "ab", Raw('"\x7f"'), Raw('"a\\/b"'), [1]], id="enum-any-values"),
    pytest.param({}, [1, "x", [1, {"a": [None]}], {"a": {"b": 1.5e3}}, Raw('"\\u001F"')],
                 [Raw('{"\\u0062": 1}'), Raw('"\\u0041"'), Raw("[1,2]"), Raw("01")], id="any-value"),
    pytest.param({"type": "string", "minLength": 2, "pattern": "b"},
                 ["ab", "bb", "abc", "\tb"], ["b", "", "ac"], id="pattern-search-and-length"),
    pytest.param({"type": "string", "pattern": "^(a|b$)"},
                 ["a", "axx", "b"], ["x", "bx", "xb"], id="pattern-anchors-per-branch"),
    pytest.param({"type": "integer", "minimum": -12, "exclusiveMaximum": 7.5},
                 [-12, 0, 7, Raw("-0")], [-13, 8, Raw("1.0"), Raw("07")], id="integer-range"),
    pytest.param({"type": "integer", "multipleOf": 7, "minimum": -30, "maximum": 100},
                 [0, 7, -28, 98, Raw("-0")], [1, -35, 105, Raw("07"), 14.0], id="integer-multiple-of"),
    pytest.param({"type": "integer", "multipleOf": 3}, [0, 3, -3, 300000000003], [1, Raw("03"), Raw("-")], id="multiple-of-unbounded"),
    pytest.param({"type": ["string", "null"], "maxLength": 1}, ["", "é", None, Raw('"\\n"')], ["ab", 1], id="type-list"),
    pytest.param({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a", "q"],
                  "additionalProperties": {"type": "string"}},
                 [{"a": 1, "q": "x"}, {"a": 1, "q": "x", "z": "y"}], [{"a": 1}, {"a": 1, "q": 1}], id="required-undeclared"),
    pytest.param({"type": "object", "properties": {"id": {"type": "integer"}},
                  "patternProperties": {"^x-": {"type": "string"}, "^[0-9]+$": {"type": "integer"}},
                  "additionalProperties": {"type": "boolean"}},
                 [{"id": 1, "x-a": "s", "7": 2, "z": True}, {"x-": "", "x-\n": "q"}, Raw('{"x\\u002da": true}')],
                 [{"x-a": 1}, {"12": "s"}, {"z": "s"}, Raw('{"id": 1, "\\u0069d": 2}')], id="pattern-properties"),
    pytest.param({"type": "object", "required": ["c", "a"],
                  "allOf": [{"$ref": "#/$defs/base"}, {"properties": {"b": {"type": "integer"}, "a": {}}}, True],
                  "$defs": {"base": {"type": "object", "properties": {"a": {"type": "string"}}}}},
                 [{"a": "x", "c": 1}, {"a": "x", "b": 2, "c": None, "d": 3}], [{"c": 1}, {"a": 1, "c": 1}, Raw('{"b": 2, "a": "x", "c": 1}')],
                 id="all-of-open-objects"),
    pytest.param({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
                  "anyOf": [{"required": ["a"]}, {"required": ["b"]}]},
                 [{"a": 1}, {"b": "x"}, {"a": 1, "b": "x"}], [{}, {"c": 1}], id="any-of-beside-an-object"),
    pytest.param({"type": ["string", "integer"], "anyOf": [{"maxLength": 2}, {"type": "integer", "minimum": 5}, {"type": "null"}]},
                 ["ab", 5, 4], ["abc", None, 1.5], id="any-of-beside-a-type"),
    pytest.param({"type": "object", "properties": {"a": {}, "b": {}, "c": {"type": "null"}}, "required": ["c"],
                  "minProperties": 2, "additionalProperties": False},
                 [{"a": 1, "c": None}, {"b": 1, "c": None}, {"a": 1, "b": 2, "c": None}], [{"c": None}, {}],
                 id="at-least-one-optional"),
    pytest.param({"type": "object", "properties": {"a": {}, "b": {}}, "maxProperties": 1, "additionalProperties": False},
                 [{}, {"a": 1}, {"b": 2}], [{"a": 1, "b": 2}], id="at-most-one-optional"),
    pytest.param({"type": "object", "additionalProperties": {"type": "integer"}, "minProperties": 2, "maxProperties": 3},
                 [{"a": 1, "b": 2}, {"a": 1, "b": 2, "c": 3}], [{}, {"a": 1}, {"a": 1, "b": 2, "c": 3, "d": 4}],
                 id="map-with-key-counts"),
    pytest.param({"type": "object", "patternProperties": {"^a": {"type": "integer"}}, "additionalProperties": False},
                 [{}, {"a": 1, "ab": 2}], [{"b": 1}, {"a": "x"}], id="pattern-properties-closed"),
]


@pytest.mark.parametrize("schema, accepted, rejected", CASES)
def test_rules_agree_with_percent_json(schema, accepted, rejected):
    """Each instance is taken by the rules exactly as far as by %json, and ends the same way."""
    assert disagreements(schema, accepted + rejected + generated(schema, 30, seed=len(accepted))) == []
    ours = lowered(schema)
    assert all(verdict(ours, text_of(i, schema))[1] for i in accepted)
    assert not any(verdict(ours, text_of(i, schema))[1] for i in rejected)


REFUSED = [
    ({"type": "string", "format": "date"}, "'format'", "args.format"),
    ({"type": "number", "minimum": 0.5}, "'minimum' on a number", "args.minimum"),
    ({"type": "object", "properties": {"x": {"type": "integer", "multipleOf": 0.5}}}, "multipleOf",
     "args.properties.x.multipleOf"),
    ({"type": "number", "multipleOf": 3}, "'multipleOf' on a number", "args.multipleOf"),
    ({"allOf": [{"type": "object"}, {"properties": {"a": {}}, "additionalProperties": False}]}, "'allOf'", "args.allOf"),
    ({"type": "object", "properties": {"ab": {}}, "patternProperties": {"^a": {}}}, "patternProperties",
     "args.patternProperties"),
    ({"$ref": "#/$defs/a", "type": "object", "$defs": {"a": {}}}, "beside $ref", "args.type"),
    ({"enum": [1.5]}, "non-integer constant", "args.enum[0]"),
    ({"type": "array", "items": {"type": "array", "uniqueItems": True}}, "'uniqueItems'", "args.items.uniqueItems"),
    ({"type": "object", "properties": {"a": {}, "b": {}}, "minProperties": 2}, "minProperties", "args.minProperties"),
    ({"type": "string", "pattern": "\\bword"}, "pattern", "args.pattern"),
]


@pytest.mark.parametrize("schema, what, path", REFUSED, ids=[r[1] for r in REFUSED])
def test_what_it_cannot_write_exactly_is_refused_by_name(schema, what, path):
    """A keyword without exact rules is a GrammarError naming the keyword and its path."""
    with pytest.raises(GrammarError) as err:
        json_rules(styled(schema), "args")
    assert what in err.value.message and err.value.path == path


def test_only_the_compact_style_is_written():
    """A %json with another whitespace style is refused, not written compact."""
    with pytest.raises(GrammarError, match="compact"):
        json_rules({"type": "integer", "x-guidance": {"whitespace_flexible": True}}, "args")


def test_unsatisfiable_schema_is_refused():
    """A schema no value satisfies has no rules (llguidance refuses it too)."""
    with pytest.raises(GrammarError, match="accepts no value"):
        json_rules(styled({"type": "object", "properties": {"a": False}, "required": ["a"]}), "args")


# -- the corpora -------------------------------------------------------------------------

def jsb_rows(every: int) -> list[dict[str, Any]]:
    with JSB.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()][::every]


def jsb_figures(rows: list[dict[str, Any]], close_objects: bool, generate: int = 5) -> dict[str, Any]:
    """Per schema as grammargen emits it (lenient where strict refuses): lowered exactly,
    refused by json_rules, or refused by llguidance itself; and every disagreement."""
    out: dict[str, Any] = {"lowered": 0, "refused": 0, "llguidance refused": 0, "instances": 0,
                           "disagreements": [], "reasons": {}}
    for row in rows:
        tool = {"type": "function", "function": {"name": "f", "parameters": row["schema"]}}
        try:
            params = grammargen.load_tools([tool])[0].parameters
        except GrammarGenError:
            continue
        try:
            schema = prepare(params, "", close_objects=close_objects).schema
        except GrammarGenError:
            schema = prepare(params, "", close_objects=close_objects, lenient=True).schema
        if llguidance.LLMatcher(BYTES, original(schema)).is_error():
            out["llguidance refused"] += 1
            continue
        try:
            json_rules(styled(schema), "args")
        except GrammarError as exc:
            out["refused"] += 1
            reason = exc.message.split(":")[0]
            out["reasons"][reason] = out["reasons"].get(reason, 0) + 1
            continue
        out["lowered"] += 1
        instances = [t["data"] for t in row.get("tests") or []] + generated(schema, generate, seed=len(row["id"]))
        out["instances"] += len(instances)
        out["disagreements"] += [(row["id"], *d) for d in disagreements(schema, instances)]
    return out


@needs_jsb
def test_jsonschemabench_subset_agrees():
    """Every 10th JSONSchemaBench schema (objects open, as the corpus states them): no disagreement."""
    figures = jsb_figures(jsb_rows(10), close_objects=False, generate=3)
    assert figures["disagreements"] == []
    assert figures["lowered"] >= 15 and figures["instances"] >= 100


@pytest.mark.slow
@needs_jsb
@pytest.mark.parametrize("close_objects", [False, True], ids=["open", "closed"])
def test_jsonschemabench_all_agree_and_most_lower(close_objects):
    """All 333 schemas: of the 305 llguidance compiles, 222 lower exactly (221 of 303 with objects closed),
    the rest are refused by name."""
    figures = jsb_figures(jsb_rows(1), close_objects=close_objects)
    assert figures["disagreements"] == []
    assert figures["lowered"] >= (221 if close_objects else 222)


def bfcl_cases(every: int) -> list[dict[str, Any]]:
    with BFCL.open(encoding="utf-8") as f:
        return [c for c in (json.loads(line) for line in f if line.strip()) if c.get("answer")][::every]


@needs_bfcl
def test_bfcl_answers_and_mutants_agree():
    """BFCL tool schemas as compiled by default (objects closed): answers and their mutants agree."""
    from conftest import load_benchmark

    corpus = load_benchmark("corpus")
    checked = 0
    for case in bfcl_cases(40):
        tools = grammargen.load_tools(case["tools"])
        by_name = {t.name: t for t in tools}
        for kind, calls in [("answer", case["answer"]), *corpus.mutants(case["answer"], tools)]:
            name, arguments = corpus.call_parts(calls[0])
            if name not in by_name:
                continue
            schema = prepare(by_name[name].parameters, "").schema
            extra = generated(schema, 3, seed=checked) if kind == "answer" else []
            assert disagreements(schema, [arguments, *extra]) == [], (case["id"], kind)
            checked += 1
    assert checked >= 100
