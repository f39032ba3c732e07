"""render(): for any valid arguments, the rendered text is what compile()'s grammar accepts."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grammargen import InputError, Sample, compile, formats, get_profile, load_tools, render, validate
from grammargen.tokenizer import BUILTIN_EOS

RICH = load_tools([{"name": "book", "parameters": {
    "type": "object",
    "properties": {
        "city": {"type": "string", "maxLength": 40},
        "nights": {"type": "integer", "minimum": 1, "maximum": 30},
        "budget": {"type": "number"},
        "breakfast": {"type": "boolean"},
        "room": {"type": "string", "enum": ["single", "double", "suite \"deluxe\""]},
        "guests": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"}, "age": {"type": ["integer", "null"]}}, "required": ["name"]}, "maxItems": 3},
        "note": {"type": "string"},
    },
    "required": ["city", "nights"],
}}, {"name": "cancel", "parameters": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}}])

MARKER_TEXT = {m for f in formats() for m in get_profile(f).markers} | {BUILTIN_EOS}
# Text that validate() would tokenize as a special token; the grammar writes it as text.
plain_text = st.text(max_size=30).filter(lambda s: not any(m in s for m in MARKER_TEXT))
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)

guest = st.fixed_dictionaries({"name": plain_text}, optional={"age": st.one_of(st.none(), st.integers(-10**6, 10**6))})
book_args = st.fixed_dictionaries(
    {"city": plain_text.filter(lambda s: len(s) <= 40), "nights": st.integers(1, 30)},
    optional={"budget": st.one_of(finite, st.integers(-10**12, 10**12)), "breakfast": st.booleans(),
              "room": st.sampled_from(["single", "double", 'suite "deluxe"']),
              "guests": st.lists(guest, max_size=3), "note": plain_text})
call = st.one_of(st.builds(lambda a: {"name": "book", "arguments": a}, book_args),
                 st.builds(lambda s: {"name": "cancel", "arguments": {"id": s}}, plain_text))

GRAMMARS = {f: compile(RICH, f) for f in formats()}


@pytest.mark.parametrize("fmt", formats())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls=st.lists(call, min_size=1, max_size=3))
def test_rendered_calls_are_accepted(fmt: str, calls: list[dict]) -> None:
    """Rendering any schema-valid calls (keys in any order) yields text the grammar accepts."""
    shuffled = [{"name": c["name"], "arguments": dict(reversed(list(c["arguments"].items())))} for c in calls]
    text = render(shuffled, fmt, tools=RICH)
    result = validate(GRAMMARS[fmt], [text]).results[0]
    assert result.got == "accepted", (text, result.context, result.message)


def test_render_orders_keys_by_schema() -> None:
    """With tools, argument keys (nested too) follow the schema's property order."""
    text = render([{"name": "book", "arguments": {"guests": [{"age": 3, "name": "a"}], "nights": 2, "city": "X"}}],
                  "json", tools=RICH)
    assert text == '[{"name": "book", "arguments": {"city": "X", "nights": 2, "guests": [{"name": "a", "age": 3}]}}]'


def test_render_accepts_openai_tool_calls_and_string_arguments() -> None:
    """OpenAI tool_calls with JSON-string arguments render like plain calls (decoded once)."""
    openai = [{"id": "call_1", "type": "function", "function": {"name": "cancel", "arguments": '{"id": "7"}'}}]
    assert render(openai, "qwen25") == render([{"name": "cancel", "arguments": {"id": "7"}}], "qwen25")


def test_render_writes_unicode_raw_and_escapes_controls() -> None:
    """Strings are written as models write them: raw Unicode, JSON escapes for control characters."""
    text = render([{"name": "cancel", "arguments": {"id": "é\n\"\\"}}], "json")
    assert text == '[{"name": "cancel", "arguments": {"id": "é\\n\\"\\\\"}}]'
    assert validate(compile(RICH, "json"), [text]).ok


def test_render_content_and_reasoning() -> None:
    """content goes before the calls and reasoning into the profile's block."""
    text = render([{"name": "cancel", "arguments": {"id": "1"}}], "qwen25", content="Sure.", reasoning="think")
    assert text.startswith("<think>\nthink\n</think>\n\nSure.<tool_call>\n")  # Qwen3's padding
    grammar = compile(RICH, "qwen25", reasoning=True)
    assert validate(grammar, [Sample(text)]).ok


@pytest.mark.parametrize(("calls", "message"), [
    ([{"arguments": {}}], "a call needs a name"),
    ([{"name": "x", "arguments": "{broken"}], "arguments are not valid JSON"),
    ([{"name": "x", "arguments": [1]}], "arguments must be a JSON object"),
], ids=["no-name", "broken-string", "array-arguments"])
def test_render_bad_calls(calls: list[dict], message: str) -> None:
    """Malformed calls raise InputError with the call's path."""
    with pytest.raises(InputError, match=message) as info:
        render(calls, "json")
    assert info.value.path.startswith("calls[0]")


def test_render_json_numbers_are_valid_json() -> None:
    """Rendered text decodes back to the same arguments."""
    args = {"city": "Oslo", "nights": 3, "budget": 1e-7}
    text = render([{"name": "book", "arguments": args}], "json", tools=RICH)
    assert json.loads(text)[0]["arguments"] == args


def test_render_orders_keys_through_refs_and_all_of() -> None:
    """Keys reached through $ref and allOf come first, as llguidance enforces, so the rendered call is accepted."""
    schema = {"type": "object", "$defs": {"base": {"properties": {"b": {"type": "integer"}}, "required": ["b"]}},
              "allOf": [{"$ref": "#/$defs/base"}], "properties": {"a": {"type": "integer"}}}
    tools = load_tools([{"name": "f", "parameters": schema}])
    text = render([{"name": "f", "arguments": {"a": 1, "b": 2}}], "json", tools=tools)
    assert text == '[{"name": "f", "arguments": {"b": 2, "a": 1}}]'
    assert validate(compile(tools, "json"), [text]).ok


def test_render_takes_the_raw_tool_list_as_compile_does() -> None:
    """tools= may be the OpenAI list itself, not only loaded Tools: keys follow the schema either way."""
    from grammargen import load_tools

    raw = [{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"b": {"type": "integer"}, "a": {"type": "integer"}}}}}]
    call = {"name": "f", "arguments": {"a": 1, "b": 2}}
    text = render([call], "json", tools=raw)
    assert text == render([call], "json", tools=load_tools(raw))
    assert text.index('"b"') < text.index('"a"')


def test_render_refuses_a_call_of_an_unknown_tool(math_tools) -> None:
    """With tools given, a call naming another tool is an error, not text the grammar refuses."""
    with pytest.raises(InputError) as info:
        render([{"name": "div", "arguments": {"x": 1}}], "qwen25", tools=math_tools)
    assert "unknown tool 'div'" in str(info.value) and "add" in str(info.value)
    assert info.value.path == "calls[0].name"
