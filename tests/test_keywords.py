"""No silent loosening: every JSON Schema keyword is enforced, refused, or warned about; whitespace is bounded.

For each keyword of the draft 2020-12 vocabulary (and the older ones real tool lists still
use) one row says what grammargen does with it.  An enforced keyword is proven by a pair of
instances that jsonschema itself judges valid and invalid, where the invalid one breaks only
that keyword: the grammar must accept the first and reject the second.  An unsupported
keyword must raise :class:`UnsupportedSchemaError` at its path, or with ``lenient`` compile
with a warning naming it.  An annotation must constrain nothing and reach no grammar.
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest

import grammargen
from grammargen import Sample, UnsupportedSchemaError, schema as schema_mod

# Draft 2020-12: core, applicator, unevaluated, validation, meta-data, format, content vocabularies.
DRAFT_2020_12 = {
    "$schema", "$id", "$ref", "$anchor", "$dynamicRef", "$dynamicAnchor", "$vocabulary", "$comment", "$defs",
    "prefixItems", "items", "contains", "additionalProperties", "properties", "patternProperties",
    "dependentSchemas", "propertyNames", "if", "then", "else", "allOf", "anyOf", "oneOf", "not",
    "unevaluatedItems", "unevaluatedProperties",
    "type", "const", "enum", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
    "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "maxContains", "minContains",
    "maxProperties", "minProperties", "required", "dependentRequired",
    "title", "description", "default", "deprecated", "readOnly", "writeOnly", "examples",
    "format", "contentEncoding", "contentMediaType", "contentSchema",
}
# Keywords of older drafts that tool lists still carry.
OLDER = {"definitions", "dependencies", "additionalItems", "$recursiveRef", "$recursiveAnchor"}


def obj(props: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(props), **extra}


# keyword -> (parameters schema, valid arguments, invalid arguments breaking only that keyword)
ENFORCED_ROWS: dict[str, tuple[dict[str, Any], Any, Any]] = {
    "type": (obj({"u": {"type": "integer"}}), {"u": 3}, {"u": "3"}),
    "enum": (obj({"u": {"type": "string", "enum": ["a", "b"]}}), {"u": "b"}, {"u": "c"}),
    "const": (obj({"u": {"type": "string", "const": "on"}}), {"u": "on"}, {"u": "off"}),
    "properties": (obj({"u": {"type": "boolean"}}), {"u": True}, {"u": 1}),
    "required": (obj({"u": {"type": "integer"}, "v": {"type": "integer"}}), {"u": 1, "v": 2}, {"u": 1}),
    "additionalProperties": ({"type": "object", "properties": {"u": {"type": "integer"}},
                              "additionalProperties": False}, {"u": 1}, {"u": 1, "w": 2}),
    "patternProperties": ({"type": "object", "patternProperties": {"^n_": {"type": "integer"}}},
                          {"n_a": 1}, {"n_a": "x"}),
    "minProperties": ({"type": "object", "additionalProperties": {"type": "integer"}, "minProperties": 2},
                      {"a": 1, "b": 2}, {"a": 1}),
    "maxProperties": ({"type": "object", "additionalProperties": {"type": "integer"}, "maxProperties": 1},
                      {"a": 1}, {"a": 1, "b": 2}),
    "items": (obj({"u": {"type": "array", "items": {"type": "integer"}}}), {"u": [1, 2]}, {"u": [1, "2"]}),
    "prefixItems": (obj({"u": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]}}),
                    {"u": [1, "a"]}, {"u": ["a", 1]}),
    "minItems": (obj({"u": {"type": "array", "items": {"type": "integer"}, "minItems": 2}}),
                 {"u": [1, 2]}, {"u": [1]}),
    "maxItems": (obj({"u": {"type": "array", "items": {"type": "integer"}, "maxItems": 2}}),
                 {"u": [1, 2]}, {"u": [1, 2, 3]}),
    "minLength": (obj({"u": {"type": "string", "minLength": 3}}), {"u": "abc"}, {"u": "ab"}),
    "maxLength": (obj({"u": {"type": "string", "maxLength": 3}}), {"u": "abc"}, {"u": "abcd"}),
    "pattern": (obj({"u": {"type": "string", "pattern": "^[a-z]+[0-9]$"}}), {"u": "ab1"}, {"u": "ab"}),
    "format": (obj({"u": {"type": "string", "format": "date"}}), {"u": "2024-02-29"}, {"u": "2024-13-01"}),
    "minimum": (obj({"u": {"type": "integer", "minimum": 5}}), {"u": 5}, {"u": 4}),
    "maximum": (obj({"u": {"type": "integer", "maximum": 5}}), {"u": 5}, {"u": 6}),
    "exclusiveMinimum": (obj({"u": {"type": "integer", "exclusiveMinimum": 5}}), {"u": 6}, {"u": 5}),
    "exclusiveMaximum": (obj({"u": {"type": "integer", "exclusiveMaximum": 5}}), {"u": 4}, {"u": 5}),
    "multipleOf": (obj({"u": {"type": "integer", "multipleOf": 3}}), {"u": 9}, {"u": 10}),
    "anyOf": (obj({"u": {"anyOf": [{"type": "integer"}, {"type": "boolean"}]}}), {"u": True}, {"u": "x"}),
    "allOf": (obj({"u": {"allOf": [{"type": "integer"}, {"minimum": 2}]}}), {"u": 2}, {"u": 1}),
    "oneOf": (obj({"u": {"oneOf": [{"type": "integer"}, {"type": "string"}]}}), {"u": "x"}, {"u": False}),
    "$ref": ({**obj({"u": {"$ref": "#/$defs/small"}}), "$defs": {"small": {"type": "integer", "maximum": 3}}},
             {"u": 3}, {"u": 4}),
    "$defs": ({**obj({"u": {"$ref": "#/$defs/flag"}}), "$defs": {"flag": {"type": "boolean"}}},
              {"u": False}, {"u": 0}),
    "definitions": ({**obj({"u": {"$ref": "#/definitions/flag"}}), "definitions": {"flag": {"type": "boolean"}}},
                    {"u": False}, {"u": 0}),
}

# keyword -> a parameters schema using it where the grammar cannot enforce it
UNSUPPORTED_ROWS: dict[str, dict[str, Any]] = {
    "not": obj({"u": {"not": {"type": "string"}}}),
    "uniqueItems": obj({"u": {"type": "array", "uniqueItems": True}}),
    "if": obj({"u": {"if": {"type": "integer"}, "then": {"minimum": 1}}}),
    "then": obj({"u": {"then": {"minimum": 1}}}),
    "else": obj({"u": {"else": {"minimum": 1}}}),
    "contains": obj({"u": {"type": "array", "contains": {"type": "integer"}}}),
    "minContains": obj({"u": {"type": "array", "minContains": 2}}),
    "maxContains": obj({"u": {"type": "array", "maxContains": 2}}),
    "dependentRequired": {**obj({"u": {"type": "integer"}}), "dependentRequired": {"u": ["v"]}},
    "dependentSchemas": {**obj({"u": {"type": "integer"}}), "dependentSchemas": {"u": {"required": ["v"]}}},
    "dependencies": {**obj({"u": {"type": "integer"}}), "dependencies": {"u": ["v"]}},
    "propertyNames": {"type": "object", "propertyNames": {"maxLength": 3}},
    "unevaluatedProperties": {**obj({"u": {"type": "integer"}}), "unevaluatedProperties": False},
    "unevaluatedItems": obj({"u": {"type": "array", "unevaluatedItems": False}}),
    "$dynamicRef": obj({"u": {"$dynamicRef": "#meta"}}),
    "$dynamicAnchor": obj({"u": {"$dynamicAnchor": "meta", "type": "integer"}}),
    "$recursiveRef": obj({"u": {"$recursiveRef": "#"}}),
    "$recursiveAnchor": {"$schema": "https://json-schema.org/draft/2019-09/schema",
                         **obj({"u": {"$recursiveAnchor": True, "type": "integer"}})},
    "additionalItems": obj({"u": {"type": "array", "prefixItems": [{"type": "integer"}],
                                  "additionalItems": {"type": "string"}}}),
    "oneOf": obj({"u": {"oneOf": [{"type": "integer"}, {"minimum": 2}]}}),  # overlapping branches
}

# identifiers: kept, so that a $ref can name a subschema by them
IDENTIFIER_ROWS: dict[str, dict[str, Any]] = {
    "$anchor": {**obj({"u": {"$ref": "#small"}}), "$defs": {"s": {"$anchor": "small", "type": "integer", "maximum": 3}}},
    "$id": {"$id": "urn:example:tool", **obj({"u": {"$ref": "urn:example:tool#/$defs/s"}}),
            "$defs": {"s": {"type": "integer", "maximum": 3}}},
}

# keyword -> a value that must not change what is accepted (and must not reach the grammar)
ANNOTATION_ROWS: dict[str, Any] = {
    "title": "INJECT_title\"]/.*/", "description": "INJECT_desc %ignore /.*/", "default": "INJECT_default",
    "examples": ["INJECT_examples"], "$comment": "INJECT_comment", "deprecated": True, "readOnly": True,
    "writeOnly": True, "$schema": "https://json-schema.org/draft/2020-12/schema", "$vocabulary": {"urn:inject": True}, "contentMediaType": "text/inject",
    "contentEncoding": "base64", "contentSchema": {"type": "string", "title": "INJECT_content"},
}


def tool(parameters: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": "f", "parameters": parameters}}]


def without(node: Any, keyword: str) -> Any:
    """``node`` with ``keyword`` removed from every schema in it."""
    if isinstance(node, list):
        return [without(v, keyword) for v in node]
    if isinstance(node, dict):
        return {k: without(v, keyword) for k, v in node.items() if k != keyword}
    return node


def call_text(arguments: Any) -> str:
    return grammargen.render([{"name": "f", "arguments": arguments}], "json")


def test_every_keyword_has_one_decision() -> None:
    """Every keyword of the vocabulary is in exactly one of the table's classes: enforced, annotation, unsupported."""
    classes = [schema_mod.ENFORCED, schema_mod.ANNOTATIONS, schema_mod.UNSUPPORTED]
    for keyword in DRAFT_2020_12 | OLDER:
        assert sum(keyword in c for c in classes) == 1, keyword


def test_every_keyword_has_a_row_here() -> None:
    """Each keyword of the vocabulary is exercised below by an enforced, unsupported or annotation row."""
    rows = set(ENFORCED_ROWS) | set(UNSUPPORTED_ROWS) | set(ANNOTATION_ROWS) | set(IDENTIFIER_ROWS)
    assert (DRAFT_2020_12 | OLDER) - rows == set()


@pytest.mark.parametrize("keyword", sorted(ENFORCED_ROWS))
def test_enforced_keyword_rejects_an_instance_breaking_only_it(keyword: str) -> None:
    """An enforced keyword: the grammar accepts a valid instance and rejects one that breaks only this keyword."""
    parameters, valid, invalid = ENFORCED_ROWS[keyword]
    checker = jsonschema.Draft202012Validator(parameters, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    assert checker.is_valid(valid)
    assert not checker.is_valid(invalid)
    if keyword not in ("$defs", "definitions"):  # containers: without them the $ref dangles
        loosened = jsonschema.Draft202012Validator(without(parameters, keyword))
        assert loosened.is_valid(invalid), "the invalid instance must break only this keyword"
    for shape in ("auto", "json"):
        grammar = grammargen.compile(tool(parameters), "json", tool_choice="required", shape=shape)
        assert grammar.warnings == ()
        report = grammargen.validate(grammar, [Sample(call_text(valid)), Sample(call_text(invalid), "reject")])
        assert report.ok, (shape, [r.to_json() for r in report.failures])


@pytest.mark.parametrize("keyword", sorted(IDENTIFIER_ROWS))
def test_identifier_keyword_can_be_named_by_a_ref(keyword: str) -> None:
    """A $ref naming a subschema by its $anchor or by its $id resolves, and the subschema is enforced."""
    grammar = grammargen.compile(tool(IDENTIFIER_ROWS[keyword]), "json", tool_choice="required")
    report = grammargen.validate(grammar, [Sample(call_text({"u": 3})), Sample(call_text({"u": 4}), "reject")])
    assert report.ok, [r.to_json() for r in report.failures]


@pytest.mark.parametrize("keyword", sorted(UNSUPPORTED_ROWS))
def test_unsupported_keyword_is_refused_at_its_path(keyword: str) -> None:
    """An unsupported keyword raises UnsupportedSchemaError whose JSON path ends at that keyword."""
    with pytest.raises(UnsupportedSchemaError) as info:
        grammargen.compile(tool(UNSUPPORTED_ROWS[keyword]), "json")
    assert info.value.path.startswith("tools[0].function.parameters")
    assert info.value.path.endswith(f".{keyword}") or info.value.path.endswith(f'["{keyword}"]')
    assert "lenient" in info.value.message


@pytest.mark.parametrize("keyword", sorted(UNSUPPORTED_ROWS))
def test_unsupported_keyword_is_warned_about_when_lenient(keyword: str) -> None:
    """With lenient, an unsupported keyword is dropped with a warning that names it and its path."""
    grammar = grammargen.compile(tool(UNSUPPORTED_ROWS[keyword]), "json", lenient=True)
    assert any(keyword in w and "dropped" in w for w in grammar.warnings), grammar.warnings


def test_unknown_format_is_refused_or_warned() -> None:
    """A format llguidance cannot check is refused, and with lenient dropped with a warning naming it."""
    parameters = obj({"u": {"type": "string", "format": "colour"}})
    with pytest.raises(UnsupportedSchemaError, match="'colour'"):
        grammargen.compile(tool(parameters), "json")
    grammar = grammargen.compile(tool(parameters), "json", lenient=True)
    assert any("colour" in w for w in grammar.warnings)


@pytest.mark.parametrize("keyword", sorted(ANNOTATION_ROWS))
def test_annotation_constrains_nothing_and_reaches_no_grammar(keyword: str) -> None:
    """An annotation neither changes what is accepted nor puts its text into the grammar."""
    parameters = obj({"u": {"type": "integer", "maximum": 9, keyword: ANNOTATION_ROWS[keyword]}})
    grammar = grammargen.compile(tool(parameters), "json", tool_choice="required")
    assert grammar.warnings == ()
    assert "INJECT" not in grammar.lark and "inject" not in grammar.lark
    report = grammargen.validate(grammar, [Sample(call_text({"u": 9})), Sample(call_text({"u": 10}), "reject")])
    assert report.ok, [r.to_json() for r in report.failures]


# -- whitespace is bounded -------------------------------------------------------------------
CALLS = [{"name": "add", "arguments": {"x": 1, "y": 2}}, {"name": "mul", "arguments": {"x": 3, "y": 4}}]


def test_no_grammar_ignores_whitespace(math_tools: list[dict[str, Any]]) -> None:
    """No profile's grammar has a %ignore or flexible JSON whitespace, under any tool_choice."""
    for name in grammargen.formats():
        for choice in ("auto", "required", "none"):
            for shape in ("auto", "json"):
                lark = grammargen.compile(math_tools, name, tool_choice=choice, shape=shape).lark
                assert "%ignore" not in lark, name
                assert '"whitespace_flexible": true' not in lark, name
                for rule in re.findall(r"%json (\{.*\})", lark):
                    assert '"whitespace_flexible": false' in rule, (name, rule[:80])


@pytest.mark.parametrize("name", grammargen.formats())
def test_no_extra_whitespace_anywhere_in_the_calls(name: str, math_tools: list[dict[str, Any]]) -> None:
    """In every profile, one extra space or newline anywhere inside the call section is rejected."""
    grammar = grammargen.compile(math_tools, name, tool_choice="required")
    text = grammargen.render(CALLS, name)
    positions = range(1, len(text) + 1)  # at 0 it is content before the calls, where a format allows it
    after = grammargen.get_profile(name).after_calls  # the things allowed after the calls
    samples = [Sample(text)] + [Sample(text[:i] + extra + text[i:],
                                       "accept" if i == len(text) and extra in after else "reject",
                                       f"{extra!r} at {i}")
                                for i in positions for extra in (" ", "\n")]
    report = grammargen.validate(grammar, samples)
    assert report.ok, [(r.sample.note, r.got) for r in report.failures][:10]

