"""The argument-encodings framework: the registry, and a profile naming an encoding."""

from __future__ import annotations

import json

import pytest

import grammargen
from grammargen.emit import emit
from grammargen.encodings import get_encoding, names
from grammargen.errors import ProfileError
from grammargen.profiles import get_profile, load_profile
from grammargen.tokenizer import builtin_for


def test_json_is_registered_with_its_three_readings():
    """The JSON object is an encoding like any other: grammar, render and read."""
    enc = get_encoding("json")
    assert "json" in names()
    assert enc.lead == "{"
    assert enc.render({"a": 1}, None) == '{"a": 1}'


def test_unknown_encoding_lists_the_known_ones():
    """A misspelt encoding name says which ones exist."""
    with pytest.raises(ProfileError, match="known: .*json"):
        get_encoding("jsno")


def test_profile_with_unknown_encoding_is_refused(tmp_path):
    """A profile naming an encoding nobody defines fails on load, at the piece's path."""
    file = tmp_path / "x.toml"
    file.write_text('name = "x"\nreference = "r"\n[layout]\n'
                    'call = [{ marker = "<c>" }, { name = "raw" }, { text = ">" }, { arguments = "yaml" }]\n')
    with pytest.raises(ProfileError, match="unknown argument encoding 'yaml'") as info:
        load_profile(file)
    assert "layout.call[3]" in str(info.value)


def test_json_encoding_round_trips_through_the_registry():
    """compile, render and parse of a JSON format all go through the registry."""
    tools = [{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}}}]
    text = grammargen.render([{"name": "f", "arguments": {"a": 3}}], "qwen25", tools=tools)
    assert grammargen.parse(text, "qwen25", tools=tools).tool_calls[0]["function"]["arguments"] == '{"a": 3}'
    assert "ARGS_0" in grammargen.compile(tools, "qwen25").lark


EMPTY_ONLY = [{"type": "function", "function": {"name": "f", "parameters": {
    "type": "object", "properties": {"s": {"type": "string", "maxLength": 0},
                                     "t": {"type": "string", "maxLength": 3}},
    "required": ["s", "t"]}}}]


@pytest.mark.parametrize("fmt, quote_as_text", [(f, False) for f in grammargen.formats()]
                         + [("gemma4", True), ("functiongemma", True)])
def test_a_string_with_max_length_zero_is_the_empty_string(fmt, quote_as_text):
    """maxLength 0 compiles in every encoding (llguidance refuses a count ending at 0, so the
    writers spell the empty string): "" is accepted and parses back, "a" is refused.  Gemma's
    quote is text (not a token) with a tokenizer that lacks it, as Qwen's does."""
    tokenizer = builtin_for(get_profile("qwen25")) if quote_as_text else None
    grammar = grammargen.compile(EMPTY_ONLY, fmt, tokenizer=tokenizer)
    ok, bad = (grammargen.render([{"name": "f", "arguments": {"s": s, "t": "ab"}}], fmt, tools=EMPTY_ONLY)
               for s in ("", "a"))
    verdicts = grammargen.validate(grammar, [ok, bad], tokenizer=tokenizer).results
    assert [r.got for r in verdicts] == ["accepted", "rejected"]
    call = grammargen.parse(ok, fmt, tools=EMPTY_ONLY).tool_calls[0]["function"]
    assert call["name"] == "f" and json.loads(call["arguments"]) == {"s": "", "t": "ab"}
    assert emit(grammar, "xgrammar").strip()  # the printers take it too (GBNF refuses gpt-oss by design)
