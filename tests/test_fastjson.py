"""The fast argument shape (one Lark terminal) accepts and rejects exactly what %json does."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from grammargen.compiler import JSON_STYLE, compile
from grammargen.errors import GrammarError, OptionsError
from grammargen.fastjson import ArgsTerminals, int_range
from grammargen.tools import Tool
from grammargen.validate import Sample, validate


def verdicts(lark: str, texts: list[str]) -> list[str]:
    """What llguidance does with each text under ``lark`` (built-in tokenizer)."""
    report = validate(lark, [Sample(t) for t in texts], format="json")
    assert not report.grammar_error, report.grammar_error
    return [r.got for r in report.results]


def fast_grammar(schema: dict[str, Any]) -> str | None:
    """The fast shape of ``schema`` as a grammar of its own, or None when it has none.

    Objects are taken as written (not closed), as the plain ``%json`` grammar beside it reads them.
    """
    terminals = ArgsTerminals(close_objects=False)
    expr = terminals.expression(schema)
    if expr is None:
        return None
    return "\n".join(["start: ARGS", f"ARGS: {expr}", *terminals.definitions()])


def both_shapes(schema: dict[str, Any], texts: list[str]) -> tuple[list[str], list[str]]:
    """The verdicts of the plain %json grammar and of the fast grammar, side by side."""
    fast = fast_grammar(schema)
    assert fast is not None, f"no fast shape for {schema}"
    plain = "start: %json " + json.dumps({**schema, "x-guidance": JSON_STYLE})
    return verdicts(plain, texts), verdicts(fast, texts)


# -- hand-picked edges ---------------------------------------------------------------------

EDGES = [
    pytest.param({"type": "string"}, ['"a"', '""', '"\\n\\t\\b\\f\\r\\"\\\\"', '"\\u001f"', '"\\u007F"',
                                      '"\\u0041"', '"\\/"', '"\x7f"', '"\x1f"', '"é😀"', '"\\x"', '"a'],
                 id="string-escapes"),
    pytest.param({"type": "string", "minLength": 2, "maxLength": 3},
                 ['"a"', '"ab"', '"abc"', '"abcd"', '"\\n\\n"', '"😀😀"', '"😀"', '"\\u0000ab"'],
                 id="string-length-counts-characters"),
    pytest.param({"type": "integer"}, ["0", "-0", "12", "01", "1.0", "1e2", "-", "-12"], id="integer"),
    pytest.param({"type": "integer", "minimum": -12, "maximum": 305},
                 ["-13", "-12", "-0", "0", "9", "99", "100", "305", "306", "1000", "0305"],
                 id="integer-range"),
    pytest.param({"type": "integer", "exclusiveMinimum": 9.5, "exclusiveMaximum": 1000},
                 ["9", "10", "999", "1000"], id="integer-exclusive-bounds"),
    pytest.param({"type": "integer", "minimum": 7}, ["6", "7", "10", "123456789", "-1"], id="integer-min-only"),
    pytest.param({"type": "integer", "maximum": -7}, ["-6", "-7", "-70", "0", "-0"], id="integer-max-only"),
    pytest.param({"type": "number"}, ["0", "-0", "1.5", "-0.0", "1e5", "1E+5", "2.5e-3", ".5", "1.", "01", "+1"],
                 id="number-forms"),
    pytest.param({"enum": ["a/b", "é", 3, True, None, "q\"x"]},
                 ['"a/b"', '"a\\/b"', '"é"', '"\\u00e9"', "3", "3.0", "true", "null", '"q\\"x"', "false"],
                 id="enum-literals"),
    pytest.param({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "boolean"},
                                                   "c": {"type": "null"}},
                  "required": ["b"], "additionalProperties": False},
                 ['{"b": true}', '{"a": 1, "b": true}', '{"b": true, "c": null}', '{"a": 1, "b": true, "c": null}',
                  '{"a": 1}', '{}', '{"b":true}', '{"b": true, "a": 1}', '{"b": true, "d": 1}', '{"b": true, }'],
                 id="object-optional-in-order"),
    pytest.param({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "boolean"}},
                  "additionalProperties": False},
                 ["{}", '{"a": 1}', '{"b": false}', '{"a": 1, "b": false}', '{, "b": false}'],
                 id="object-all-optional"),
    pytest.param({"type": "array", "items": {"enum": ["x", "y"]}, "minItems": 1, "maxItems": 2},
                 ["[]", '["x"]', '["x", "y"]', '["x","y"]', '["x", "y", "x"]', '["z"]'], id="array-bounds"),
    pytest.param({"anyOf": [{"type": "string", "maxLength": 1}, {"type": "integer", "minimum": 0}]},
                 ['"a"', '"ab"', "5", "-5"], id="any-of"),
    pytest.param({"type": "string", "maxLength": 0}, ['""', '"a"'], id="empty-string-only"),
    pytest.param({"type": "string", "minLength": 2}, ['"a"', '"ab"', '"abcdefghijklmnopqrstuvwxyz"'],
                 id="string-min-only"),
    pytest.param({"type": "array", "items": {"type": "integer"}, "maxItems": 0}, ["[]", "[1]"], id="empty-array-only"),
    pytest.param({"type": "array", "items": {"type": "integer"}, "minItems": 2}, ["[]", "[1]", "[1, 2]", "[1, 2, 3]"],
                 id="array-min-only"),
]


@pytest.mark.parametrize(("schema", "texts"), EDGES)
def test_fast_shape_matches_json_on_edges(schema: dict[str, Any], texts: list[str]) -> None:
    """On every edge case of strings, numbers, enums, objects and arrays, both shapes agree."""
    plain, fast = both_shapes(schema, texts)
    assert fast == plain, [(t, p, f) for t, p, f in zip(texts, plain, fast) if p != f]


FALLBACKS = [
    pytest.param({"type": "string", "pattern": "^a+$"}, id="pattern"),
    pytest.param({"type": "string", "format": "date"}, id="format"),
    pytest.param({"type": "object", "properties": {"a": {"type": "integer"}}}, id="open-object"),
    pytest.param({"type": "number", "minimum": 0.5}, id="bounded-number"),
    pytest.param({"type": "integer", "multipleOf": 3}, id="multiple-of"),
    pytest.param({}, id="any-value"),
    pytest.param({"type": "array", "items": {}}, id="array-of-anything"),
    pytest.param({"enum": [1.5, "a"]}, id="float-enum"),
    pytest.param({"type": "object", "properties": {}, "required": ["x"], "additionalProperties": False},
                 id="unsatisfiable-required"),
]


@pytest.mark.parametrize("schema", FALLBACKS)
def test_schemas_without_an_exact_terminal_fall_back(schema: dict[str, Any]) -> None:
    """A schema the terminal can't match exactly gets no fast shape (the compiler then uses %json)."""
    assert fast_grammar(schema) is None


@pytest.mark.parametrize(("low", "high"), [(0, 0), (-5, 5), (-5, 0), (-1, 0), (7, 7), (13, 1999), (-321, -17), (95, 105)],
                         ids=lambda v: str(v))
def test_integer_ranges_hold_exactly_their_members(low: int, high: int) -> None:
    """The digit-range regex matches every integer in the range and none just outside it."""
    import re

    regex = re.compile(int_range(low, high))
    for n in range(low - 30, high + 31):
        assert bool(regex.fullmatch(str(n))) == (low <= n <= high), n
    assert bool(regex.fullmatch("-0")) == (low < 0 <= high)  # as %json does


# -- random schemas and values ----------------------------------------------------------------

KEYS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=4)
ENUM_VALUES = st.one_of(st.text(max_size=4), st.integers(-50, 50), st.booleans(), st.none())


def leaf_schemas() -> st.SearchStrategy[dict[str, Any]]:
    strings = st.builds(lambda lo, extra: {"type": "string", "minLength": lo,
                                           **({} if extra is None else {"maxLength": lo + extra})},
                        st.integers(0, 3), st.none() | st.integers(0, 3))
    integers = st.builds(lambda lo, hi: {"type": "integer", **({} if lo is None else {"minimum": lo}),
                                         **({} if hi is None or (lo is not None and hi < lo) else {"maximum": hi})},
                         st.none() | st.integers(-1200, 1200), st.none() | st.integers(-1200, 1200))
    enums = st.builds(lambda vs: {"enum": vs}, st.lists(ENUM_VALUES, min_size=1, max_size=4, unique_by=json.dumps))
    simple = st.sampled_from([{"type": "number"}, {"type": "boolean"}, {"type": "null"},
                              {"type": ["string", "null"], "maxLength": 2}])
    return st.one_of(strings, integers, enums, simple)


def schemas() -> st.SearchStrategy[dict[str, Any]]:
    def objects(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
        return st.dictionaries(KEYS, st.tuples(children, st.booleans()), max_size=4).map(
            lambda props: {"type": "object", "properties": {k: s for k, (s, _) in props.items()},
                           "required": [k for k, (_, r) in props.items() if r],
                           "additionalProperties": False})

    def arrays(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
        return st.builds(lambda s, lo, extra: {"type": "array", "items": s, "minItems": lo, "maxItems": lo + extra},
                         children, st.integers(0, 2), st.integers(0, 2))

    return st.recursive(leaf_schemas(), lambda c: objects(c) | arrays(c), max_leaves=6)


TRICKY_TEXT = st.text(st.sampled_from(["a", "é", "😀", '"', "\\", "\n", "\x7f", "\x01", "/"]), max_size=5)


@st.composite
def value_text(draw: st.DrawFn, schema: dict[str, Any]) -> str:
    """JSON text near the schema's language: often valid, often just outside it."""
    if draw(st.integers(0, 9)) == 0:  # sometimes any JSON at all
        return json.dumps(draw(st.recursive(ENUM_VALUES, lambda c: st.lists(c, max_size=2), max_leaves=3)),
                          separators=(", ", ": "), ensure_ascii=False)
    if "enum" in schema:
        return json.dumps(draw(st.sampled_from(schema["enum"]) | ENUM_VALUES), ensure_ascii=False)
    t = schema["type"]
    if isinstance(t, list):
        t = draw(st.sampled_from(t))
    if t == "string":
        raw = draw(TRICKY_TEXT)
        text = json.dumps(raw, ensure_ascii=draw(st.booleans()))
        return text if draw(st.integers(0, 5)) else text.replace("\\", "\\\\", 1)
    if t == "integer":
        near = [schema.get("minimum", 0), schema.get("maximum", 0)]
        n = draw(st.sampled_from(near)) + draw(st.integers(-2, 2)) if draw(st.booleans()) else draw(st.integers())
        return draw(st.sampled_from([str(n), str(n), f"{n}.0", "-0"]))
    if t == "number":
        return draw(st.sampled_from(["0", "-0", "1.25", "-3e7", "1E-2", "01", ".5", "7"]))
    if t == "boolean":
        return draw(st.sampled_from(["true", "false", "True"]))
    if t == "null":
        return draw(st.sampled_from(["null", "nul"]))
    if t == "array":
        items = draw(st.lists(value_text(schema["items"]), max_size=schema["maxItems"] + 1))
        return "[" + ", ".join(items) + "]"
    members = [(k, s) for k, s in schema["properties"].items()
               if k in schema["required"] or draw(st.booleans())]
    if members and draw(st.integers(0, 6)) == 0:
        members.pop(draw(st.integers(0, len(members) - 1)))  # drop one, maybe a required one
    if len(members) > 1 and draw(st.integers(0, 6)) == 0:
        members.reverse()  # out of declared order
    return "{" + ", ".join(json.dumps(k, ensure_ascii=False) + ": " + draw(value_text(s))
                           for k, s in members) + "}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fast_shape_matches_json_on_random_schemas(data: st.DataObject) -> None:
    """For random closed schemas and texts near them, the fast terminal and %json give the same verdicts."""
    schema = data.draw(schemas())
    # a DEL key is refused at compile time (unwritable.py: %json reads it raw in keys only)
    assume("\x7f" not in json.dumps(schema, ensure_ascii=False))
    texts = data.draw(st.lists(value_text(schema), min_size=1, max_size=8))
    if fast_grammar(schema) is None:  # e.g. an enum whose values none fit its type
        return
    plain, fast = both_shapes(schema, texts)
    assert fast == plain, [(t, p, f) for t, p, f in zip(texts, plain, fast) if p != f]


def loaded_form(schema: Any, draw: st.DrawFn) -> Any:
    """``schema`` as a user writes it: annotations here and there, objects closed by default only."""
    if not isinstance(schema, dict):
        return schema
    out = {k: ({n: loaded_form(v, draw) for n, v in s.items()} if k == "properties"
               else loaded_form(s, draw) if k == "items" else s) for k, s in schema.items()}
    if out.get("additionalProperties") is False and draw(st.booleans()):
        del out["additionalProperties"]  # close_objects closes it
    if draw(st.booleans()):
        out[draw(st.sampled_from(["description", "title", "examples", "x-vendor"]))] = "a note"
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_compiled_shapes_agree_on_schemas_as_users_write_them(data: st.DataObject) -> None:
    """The fast shape reads loaded schemas itself (annotations skipped, objects closed): the
    compiled auto and json grammars still give every call text the same verdict."""
    closed = data.draw(schemas().filter(lambda s: s.get("type") == "object"))
    assume("\x7f" not in json.dumps(closed, ensure_ascii=False))  # a DEL key is refused (unwritable.py)
    schema = loaded_form(closed, data.draw)
    args = data.draw(st.lists(value_text(closed), min_size=1, max_size=6))
    texts = ['{"name": "t", "arguments": ' + a + "}" for a in args]
    tools = [Tool(name="t", parameters=schema)]
    auto = compile(tools, "json", tool_choice="required", parallel_tool_calls=False)
    plain = compile(tools, "json", tool_choice="required", parallel_tool_calls=False, shape="json")
    assert verdicts_of(auto, texts) == verdicts_of(plain, texts), texts


def test_wide_objects_keep_the_fast_shape() -> None:
    """30 optional members at one level stay one flat terminal (no nesting limit), exact."""
    props = {f"k{i}": {"type": "integer"} for i in range(30)}
    schema = {"type": "object", "properties": props, "required": ["k20"], "additionalProperties": False}
    texts = ['{"k20": 1}', '{"k0": 1, "k20": 2, "k29": 3}', '{"k3": 1, "k7": 2, "k20": 3}', '{"k29": 1}',
             '{"k20": 1, "k3": 2}', '{}', '{"k0": 1, "k1": 2}']
    plain, fast = both_shapes(schema, texts)
    assert fast == plain == ["accepted", "accepted", "accepted", "rejected", "rejected", "rejected", "rejected"]


def test_deep_nesting_falls_back_to_json() -> None:
    """Past llguidance's Lark nesting limit the fast shape steps aside; shallower schemas keep it."""
    def nested(depth: int) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "integer"}
        for _ in range(depth):
            schema = {"type": "object", "properties": {"a": schema}, "additionalProperties": False}
        return schema
    from grammargen.fastjson import MAX_NESTING

    deepest = fast_grammar(nested(MAX_NESTING))  # one optional group a level
    assert deepest is not None and fast_grammar(nested(MAX_NESTING + 1)) is None
    text = '{"a": ' * MAX_NESTING + "7" + "}" * MAX_NESTING
    assert verdicts(deepest, [text, text.replace("7", '"7"')]) == ["accepted", "rejected"]


# -- compiled grammars -------------------------------------------------------------------------

def _tools(n: int) -> list[Tool]:
    """``n`` tools with distinct closed schemas (built directly: no metaschema check, fast)."""
    return [Tool(name=f"tool_{i}", parameters={
        "type": "object", "properties": {"q": {"type": "string", "maxLength": 5 + i % 50},
                                         "n": {"type": "integer", "minimum": 0, "maximum": 10 + i},
                                         "tags": {"type": "object", "properties": {"a": {"type": "boolean"}}}},
        "required": ["q"]}) for i in range(n)]


CALLS = [
    pytest.param('<tool_call>\n{"name": "tool_7", "arguments": {"q": "hi", "n": 17}}\n</tool_call>', "accepted",
                 id="in-range"),
    pytest.param('<tool_call>\n{"name": "tool_7", "arguments": {"q": "hi", "n": 18}}\n</tool_call>', "rejected",
                 id="over-maximum"),
    pytest.param('<tool_call>\n{"name": "tool_7", "arguments": {"q": "hi", "tags": {"a": true}}}\n</tool_call>',
                 "accepted", id="optional-nested-object"),
    pytest.param('<tool_call>\n{"name": "tool_7", "arguments": {"n": 1, "q": "hi"}}\n</tool_call>', "rejected",
                 id="out-of-order"),
    pytest.param('<tool_call>\n{"name": "tool_70", "arguments": {"q": "abcdefghijklmnopqrstuvwxyzabcdefghijkl"}}\n'
                 '</tool_call>', "rejected", id="too-long"),
    pytest.param('<tool_call>\n{"name": "tool_1000", "arguments": {"q": ""}}\n</tool_call>', "rejected",
                 id="unknown-tool"),
]


@pytest.mark.parametrize(("text", "got"), CALLS)
@pytest.mark.parametrize("shape", ["auto", "json"])
def test_both_shapes_accept_and_reject_the_same_calls(shape: str, text: str, got: str) -> None:
    """A 100-tool grammar (names as a prefix tree) decides each call the same in either shape."""
    grammar = compile(_tools(100), "qwen25", tool_choice="required", shape=shape)
    assert ("%json" in grammar.lark) == (shape == "json")
    assert verdicts_of(grammar, [text]) == [got]


def verdicts_of(grammar: Any, texts: list[str]) -> list[str]:
    report = validate(grammar, [Sample(t) for t in texts])
    assert not report.grammar_error, report.grammar_error
    return [r.got for r in report.results]


def test_too_many_symbols_is_a_clear_error_not_a_panic() -> None:
    """3,000 %json argument rules overflow llguidance's symbol table: GrammarError names the limit."""
    with pytest.raises(GrammarError, match=r"65,525 \(3,000 tools: 0 argument terminals of 0 characters, 3,000 %json"):
        compile(_tools(3000), "qwen25", shape="json")


@pytest.mark.parametrize(("n", "shape", "counts"), [(200, "auto", "0 %json"), (100, "json", "100 %json")],
                         ids=["fast-shape", "json-shape"])
def test_too_big_for_the_lexer_budget_is_a_clear_error(n: int, shape: str, counts: str) -> None:
    """10,000 distinct integer ranges in only 200 tools overflow llguidance's initial lexer
    budget (5,000 do as %json): the terminals' size, not just the tool count, makes compile
    check it, and the error names the limit in either shape."""
    names = [f"p{k}" for k in range(50)]
    tools = [Tool(name=f"t{i}", parameters={"type": "object", "required": names, "properties": {
        p: {"type": "integer", "minimum": -(i * 50 + k) * 7, "maximum": (i * 50 + k) * 13 + 999}
        for k, p in enumerate(names)}}) for i in range(n)]
    with pytest.raises(GrammarError, match=rf"initial lexer budget \(limit 1,000,000 fuel; {n} tools: .* {counts}"):
        compile(tools, "qwen25", shape=shape)


def test_shape_must_be_auto_or_json() -> None:
    """An unknown shape is an options error naming the choices."""
    with pytest.raises(OptionsError, match='shape must be "auto" or "json"'):
        compile(_tools(1), "qwen25", shape="regex")


# -- leaves written once per process ------------------------------------------------------------

def test_a_leaf_written_before_brings_its_definitions_into_a_new_grammar() -> None:
    """A string leaf met first in one grammar is reused in another, which still defines what it
    uses (the character class its bounded string repeats in place)."""
    schema = {"type": "object", "properties": {"q": {"type": "string", "minLength": 3, "maxLength": 41}},
              "required": ["q"], "additionalProperties": False}
    first, second = ArgsTerminals(), ArgsTerminals()
    assert first.expression(schema) == second.expression(schema) == '"{\\"q\\": \\""JSON_CHAR{3,41}"\\"}"'
    assert second.definitions() == first.definitions()
    assert {d.split(":")[0] for d in second.definitions()} == {"JSON_CHAR"}
    assert verdicts(fast_grammar(schema) or "", ['{"q": "abc"}', '{"q": "ab"}']) == ["accepted", "rejected"]


def test_leaves_that_differ_only_in_a_values_type_are_not_confused() -> None:
    """1, 1.0 and true are equal in Python but not in JSON: each enum keeps its own text."""
    texts = [ArgsTerminals().expression({"enum": [v]}) for v in (1, True, 1.0)]
    assert texts[0] == '"1"' and texts[1] == '"true"' and texts[2] is None  # a float enum falls back
    bounds = [ArgsTerminals().expression({"type": "integer", "minimum": v}) for v in (1, True)]
    assert bounds[0] == "/(?:[1-9]|[1-9][0-9]{1,})/" and bounds[1] is None  # a boolean bound is no bound: %json words it


@pytest.mark.parametrize("fmt, named", [("pythonic", "PY_STR_2_16"), ("seed-oss", "PYTHON_STRING_2_16")])
def test_a_string_bound_met_again_is_one_shared_terminal(fmt: str, named: str) -> None:
    """In a Python spelling, the first string with given bounds is written in place, every later
    one refers to one terminal of those bounds (llguidance builds it once): each tool still holds
    its strings to them, from the first tool to the last."""
    from grammargen import render

    def schema(i: int) -> dict[str, Any]:  # each tool its own (identical arguments share one terminal)
        inner = {"type": "object", "properties": {"s": {"type": "string", "minLength": 2, "maxLength": 16},
                                                  f"k{i}": {"type": "boolean"}}, "required": ["s"]}
        # (Seed-OSS writes a top-level string raw: the bound sits in a nested object there)
        return {"type": "object", "properties": {"o": inner}, "required": ["o"]} if fmt == "seed-oss" else inner

    tools = [{"type": "function", "function": {"name": f"t{i}", "parameters": schema(i)}} for i in range(3)]
    grammar = compile(tools, fmt, tool_choice="required")
    assert grammar.lark.count(f"{named}:") == 1 and grammar.lark.count(named) == 3, grammar.lark

    def call(i: int, text: str) -> str:
        args = {"o": {"s": text}} if fmt == "seed-oss" else {"s": text}
        return render([{"name": f"t{i}", "arguments": args}], fmt, tools=tools)

    cases = [Sample(call(i, "x" * n), "accept" if 2 <= n <= 16 else "reject", f"t{i} {n}")
             for i in range(3) for n in (1, 2, 16, 17)]
    report = validate(grammar, cases)
    assert not [(r.sample.note, r.got) for r in report.failures]
