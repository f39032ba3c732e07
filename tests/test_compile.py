"""compile(): every profile x tool_choice x parallel setting, proven by forcing samples through llguidance."""

from __future__ import annotations

import json
from typing import Any

import llguidance
import pytest

import grammargen
from grammargen import Sample, compile, formats, get_profile, render, validate

ADD = {"name": "add", "arguments": {"x": 1, "y": 2}}
MUL = {"name": "mul", "arguments": {"x": 3, "y": 4}}
CHOICES = ["auto", "required", "none", "add"]


def expected(kind: str, choice: str, parallel: bool) -> str:
    """What the grammar must do with a sample of ``kind`` under these options."""
    calls_allowed = choice != "none"
    accept = {
        "text": choice in ("auto", "none"),
        "add": calls_allowed,
        "mul": choice in ("auto", "required"),
        "add+mul": parallel and choice in ("auto", "required"),
        "add+add": parallel and calls_allowed,
    }[kind]
    return "accept" if accept else "reject"


def matrix_samples(fmt: str, choice: str, parallel: bool) -> list[Sample]:
    calls = {"add": [ADD], "mul": [MUL], "add+mul": [ADD, MUL], "add+add": [ADD, ADD]}
    out = [Sample("The answer is 3.", expected("text", choice, parallel), "text")]
    out += [Sample(render(c, fmt), expected(k, choice, parallel), k) for k, c in calls.items()]
    always_reject = {
        "unknown tool": render([{"name": "sub", "arguments": {"x": 1, "y": 2}}], fmt),
        "missing required argument": render([{"name": "add", "arguments": {"x": 1}}], fmt),
        "extra key": render([{"name": "add", "arguments": {"x": 1, "y": 2, "z": 3}}], fmt),
        "wrong type": render([{"name": "add", "arguments": {"x": "1", "y": 2}}], fmt),
        "broken JSON": render([ADD], fmt).replace('"y": 2}', '"y": 2'),
        "keys out of order": render([{"name": "add", "arguments": {"y": 2, "x": 1}}], fmt),
        "loose whitespace": render([ADD], fmt).replace('"x": 1', '"x":   1'),
    }
    valid = render([ADD], fmt)  # JSON-spelled mistakes that a raw encoding (XML) doesn't write are no-ops there
    out += [Sample(t, "reject", k) for k, t in always_reject.items() if t != valid]
    profile = get_profile(fmt)
    if profile.end and choice != "none":
        end_text = "".join(p.value for p in profile.end)
        out.append(Sample(render([ADD], fmt)[: -len(end_text)], "reject", "missing end marker"))
    return out


@pytest.mark.parametrize("parallel", [True, False], ids=["parallel", "single"])
@pytest.mark.parametrize("choice", CHOICES)
@pytest.mark.parametrize("fmt", formats())
def test_matrix(fmt: str, choice: str, parallel: bool, math_tools: list[dict]) -> None:
    """Each profile accepts exactly the outputs its options allow and rejects the rest."""
    grammar = compile(math_tools, fmt, tool_choice=choice, parallel_tool_calls=parallel)
    assert llguidance.LLMatcher.validate_grammar(grammar.lark) == ""
    report = validate(grammar, matrix_samples(fmt, choice, parallel))
    assert report.grammar_error == ""
    bad = [(r.sample.note, r.expected, r.got, r.context) for r in report.failures]
    assert not bad


@pytest.mark.parametrize("fmt", [f for f in formats() if get_profile(f).reasoning])
@pytest.mark.parametrize("reasoning", [True, "required"], ids=["allowed", "required"])
def test_reasoning_block(fmt: str, reasoning: bool | str, math_tools: list[dict]) -> None:
    """The reasoning block may (or must) come first, then text or calls as usual."""
    grammar = compile(math_tools, fmt, reasoning=reasoning)
    with_block = [
        Sample(render([ADD, MUL], fmt, reasoning="Two sums.\nFirst add.")),
        Sample(render([], fmt, reasoning="No tool needed.") + "It is 3."),
        Sample(render([ADD], fmt, reasoning="")),
    ]
    without = [Sample(render([ADD], fmt), "accept" if reasoning is True else "reject"),
               Sample("It is 3.", "accept" if reasoning is True else "reject")]
    r = get_profile(fmt).reasoning
    assert r is not None
    unclosed = [Sample(f"{r.begin}thinking forever", "reject", "unclosed block")]
    report = validate(grammar, with_block + without + unclosed)
    assert not [(x.sample.text, x.got, x.context) for x in report.failures]


def test_reasoning_refused_where_format_has_none(math_tools: list[dict]) -> None:
    """Asking for reasoning in a format without a reasoning block is an options error."""
    with pytest.raises(grammargen.OptionsError, match="no reasoning block"):
        compile(math_tools, "llama3", reasoning=True)


# The exact texts DESIGN.md section 3 lists for each profile (two calls where the format allows).
DESIGN_EXAMPLES = {
    "phi4-mini": '<|tool_call|>[{"name": "add", "arguments": {"x": 1, "y": 2}}, {"name": "mul", "arguments": {"x": 3, "y": 4}}]<|/tool_call|>',
    "qwen25": '<tool_call>\n{"name": "add", "arguments": {"x": 1, "y": 2}}\n</tool_call>\n<tool_call>\n{"name": "mul", "arguments": {"x": 3, "y": 4}}\n</tool_call>',
    "llama3": '{"name": "add", "parameters": {"x": 1, "y": 2}}',
    "mistral": '[TOOL_CALLS] [{"name": "add", "arguments": {"x": 1, "y": 2}, "id": "a1b2c3d4e"}, {"name": "mul", "arguments": {"x": 3, "y": 4}, "id": "f5g6h7i8j"}]',
    "mistral-nemo": '[TOOL_CALLS][{"name": "add", "arguments": {"x": 1, "y": 2}, "id": "a1b2c3d4e"}]',
    "mistral-v11": '[TOOL_CALLS]add[CALL_ID]a1b2c3d4e[ARGS]{"x": 1, "y": 2}[TOOL_CALLS]mul[CALL_ID]f5g6h7i8j[ARGS]{"x": 3, "y": 4}',
    "ministral3": '[TOOL_CALLS]add[ARGS]{"x": 1, "y": 2}[TOOL_CALLS]mul[ARGS]{"x": 3, "y": 4}',
    "deepseekv3": '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>add\n```json\n{"x": 1, "y": 2}\n```<｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>function<｜tool▁sep｜>mul\n```json\n{"x": 3, "y": 4}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>',
    "deepseekv31": '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>add<｜tool▁sep｜>{"x": 1, "y": 2}<｜tool▁call▁end｜><｜tool▁call▁begin｜>mul<｜tool▁sep｜>{"x": 3, "y": 4}<｜tool▁call▁end｜><｜tool▁calls▁end｜>',
    "functools": 'functools[{"name": "add", "arguments": {"x": 1, "y": 2}}, {"name": "mul", "arguments": {"x": 3, "y": 4}}]',
    "granite": '<|tool_call|>[{"name": "add", "arguments": {"x": 1, "y": 2}}]',
    "granite4": '<tool_call>\n{"name": "add", "arguments": {"x": 1, "y": 2}}\n</tool_call>',
    "firefunction": ' functools[{"name": "add", "arguments": {"x": 1, "y": 2}}]',
    "json": '[{"name": "add", "arguments": {"x": 1, "y": 2}}]',
}
IDS = ("a1b2c3d4e", "f5g6h7i8j")


@pytest.mark.parametrize("fmt", sorted(DESIGN_EXAMPLES))
def test_design_examples_accepted_and_rendered(fmt: str, math_tools: list[dict]) -> None:
    """DESIGN.md's example output for each profile is accepted, and render() produces it exactly."""
    example = DESIGN_EXAMPLES[fmt]
    calls = [{**c, "id": i} for c, i in zip([ADD, MUL] if "mul" in example else [ADD], IDS)]
    assert render(calls, fmt) == example
    assert validate(compile(math_tools, fmt, tool_choice="required"), [example]).ok
    parsed = grammargen.parse(example, fmt, tools=math_tools).tool_calls
    assert [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in parsed] == \
        [(c["name"], c["arguments"]) for c in calls]
    if get_profile(fmt).writes_ids:  # ids the model writes are the calls' ids
        assert [c["id"] for c in parsed] == [c["id"] for c in calls]


def test_every_design_format_ships() -> None:
    """Every format of DESIGN's table ships (issue 15's encodings add more, each proven by
    its own template; see test_profiles)."""
    assert set(DESIGN_EXAMPLES) <= set(formats())


def test_llama3_accepts_arguments_key_too(math_tools: list[dict]) -> None:
    """Llama 3 renders "parameters" but also accepts the "arguments" key models often emit."""
    grammar = compile(math_tools, "llama3")
    text = '<|python_tag|>{"name": "add", "arguments": {"x": 1, "y": 2}}; {"name": "mul", "parameters": {"x": 3, "y": 4}}'
    assert validate(grammar, [text]).ok


def test_phi4_guide_travel_output(examples) -> None:
    """The Phi-4 ONNX guide's two-call travel output, wrapped as Phi-4-mini emits it, is accepted."""
    tools = grammargen.load_tools(examples / "travel_tools.json")
    grammar = compile(tools, "phi4-mini")
    calls = json.loads((examples / "travel_calls.json").read_text())
    guide_output = json.dumps(calls)  # the guide prints the array with json's default separators
    wrapped = f"<|tool_call|>{guide_output}<|/tool_call|>"
    missing_date = calls[0] | {"arguments": {k: v for k, v in calls[0]["arguments"].items() if k != "return_date"}}
    report = validate(grammar, [
        Sample(wrapped),
        Sample(f"<|tool_call|>{json.dumps([missing_date])}<|/tool_call|>", "reject", "legacy params are all required"),
        Sample(guide_output, "reject", "the bare array is text that starts like JSON, without the marker"),
    ])
    assert report.results[0].got == "accepted"
    assert report.results[1].got != "accepted"


def test_enum_is_enforced(examples) -> None:
    """A wrong enum value is rejected at the value, a listed one accepted."""
    grammar = compile(grammargen.load_tools(examples / "weather_tools.json"), "qwen25")
    ok = render([{"name": "get_weather", "arguments": {"location": "Paris", "unit": "celsius"}}], "qwen25")
    bad = ok.replace("celsius", "kelvin")
    report = validate(grammar, [Sample(ok), Sample(bad, "reject")])
    assert report.ok
    assert report.results[1].offset == bad.encode().index(b"kelvin")


def test_strict_tool_rejects_extra_keys(examples) -> None:
    """A strict tool with additionalProperties false rejects any extra key."""
    tools = grammargen.load_tools(examples / "delivery_tools.json")
    assert tools[0].strict
    grammar = compile(tools, "llama3", tool_choice="required")
    good = render([{"name": "get_delivery_date", "arguments": {"order_id": "order_70705"}}], "llama3")
    extra = good.replace('"order_70705"', '"order_70705", "priority": true')
    assert validate(grammar, [Sample(good), Sample(extra, "reject")]).ok


def test_open_objects_option(math_tools: list[dict]) -> None:
    """close_objects=False leaves objects without additionalProperties open, as JSON Schema says."""
    extra = render([{"name": "add", "arguments": {"x": 1, "y": 2, "z": 3}}], "json")
    assert validate(compile(math_tools, "json", close_objects=False), [extra]).ok
    assert not validate(compile(math_tools, "json"), [extra]).ok


def test_openai_tool_choice_object(math_tools: list[dict]) -> None:
    """OpenAI's {"type": "function", "function": {"name": ...}} forces that function."""
    grammar = compile(math_tools, "phi4-mini", tool_choice={"type": "function", "function": {"name": "mul"}})
    assert grammar.tool_names == ("mul",)
    assert validate(grammar, [Sample(render([MUL], "phi4-mini")),
                              Sample(render([ADD], "phi4-mini"), "reject")]).ok


@pytest.mark.parametrize("choice", ["sometimes", {"type": "function"}, {"type": "function", "function": {"name": "nope"}}, 3],
                         ids=["bad-word", "no-name", "missing-tool", "number"])
def test_bad_tool_choice(choice: object, math_tools: list[dict]) -> None:
    """An unusable tool_choice is an OptionsError at path tool_choice."""
    with pytest.raises(grammargen.OptionsError) as info:
        compile(math_tools, "phi4-mini", tool_choice=choice)
    assert info.value.path == "tool_choice"


def test_max_calls_bounds_parallel_calls(math_tools: list[dict]) -> None:
    """max_calls=2 accepts two calls and rejects a third."""
    grammar = compile(math_tools, "phi4-mini", max_calls=2)
    assert validate(grammar, [Sample(render([ADD, MUL], "phi4-mini")),
                              Sample(render([ADD, MUL, ADD], "phi4-mini"), "reject")]).ok


def test_identical_schemas_share_one_rule(math_tools: list[dict]) -> None:
    """add and mul have the same schema, so the grammar defines one arguments rule for both."""
    lines = compile(math_tools, "qwen25").lark.splitlines()
    assert len([line for line in lines if line.lower().startswith("args_")]) == 1


def test_tool_without_parameters(math_tools: list[dict]) -> None:
    """A tool with no parameters takes exactly an empty arguments object."""
    tools = [{"name": "ping"}]
    grammar = compile(tools, "qwen25")
    assert validate(grammar, [Sample(render([{"name": "ping", "arguments": {}}], "qwen25")),
                              Sample(render([{"name": "ping", "arguments": {"a": 1}}], "qwen25"), "reject")]).ok


def test_unsupported_keyword_is_an_error_with_path() -> None:
    """An unenforceable keyword names itself and its JSON path; lenient drops it with a warning."""
    tools = [{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"tags": {"type": "array", "uniqueItems": True}}}}}]
    with pytest.raises(grammargen.UnsupportedSchemaError) as info:
        compile(tools)
    assert info.value.path == "tools[0].function.parameters.properties.tags.uniqueItems"
    grammar = compile(tools, lenient=True)
    assert any("uniqueItems" in w and "tools[0].function.parameters" in w for w in grammar.warnings)
    assert "uniqueItems" not in grammar.lark


def test_disjoint_one_of_is_exact_and_overlapping_refused() -> None:
    """oneOf over disjoint types compiles as anyOf; overlapping oneOf is refused."""
    disjoint = [{"name": "f", "parameters": {"type": "object", "properties": {
        "v": {"oneOf": [{"type": "string"}, {"type": "integer"}]}}}}]
    grammar = compile(disjoint, "json")
    assert validate(grammar, [Sample('[{"name": "f", "arguments": {"v": 1}}]'),
                              Sample('[{"name": "f", "arguments": {"v": true}}]', "reject")]).ok
    overlapping = [{"name": "f", "parameters": {"type": "object", "properties": {
        "v": {"oneOf": [{"type": "number"}, {"type": "integer"}]}}}}]
    with pytest.raises(grammargen.UnsupportedSchemaError, match="oneOf"):
        compile(overlapping)


def test_schema_llguidance_refuses_is_blamed_on_its_tool() -> None:
    """A schema llguidance itself refuses is reported at that tool's parameters path."""
    tools = [{"name": "ok", "parameters": {"type": "object", "properties": {}}},
             {"name": "bad", "parameters": {"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}}}]
    with pytest.raises(grammargen.GrammarError) as info:
        compile(tools)
    assert info.value.path == "tools[1].parameters"
    assert "missing" in info.value.message


def test_grammar_metadata_and_guidance(math_tools: list[dict]) -> None:
    """The Grammar carries what made it and the (type, data) pair set_guidance takes."""
    grammar = compile(math_tools, "phi4", tool_choice="required", parallel_tool_calls=False)
    assert grammar.format == "phi4-mini"
    assert grammar.tool_names == ("add", "mul")
    assert grammar.options["tool_choice"] == "required" and grammar.options["parallel_tool_calls"] is False
    assert grammar.guidance == ("lark_grammar", grammar.lark)
    assert grammar.to_json() == {"grammars": [{"lark_grammar": grammar.lark}]}
    assert grammar.markers == {"<|tool_call|>": "special", "<|/tool_call|>": "special", "<think>": "text", "</think>": "text"}


def test_grammar_matcher_is_ready_and_independent(math_tools: list[dict]) -> None:
    """grammar.matcher(): the matcher a caller decodes with, one per call, none sharing state."""
    grammar = compile(math_tools, "qwen25")
    first, second = grammar.matcher(), grammar.matcher()
    tok = grammargen.tokenizer.builtin_for(get_profile("qwen25"))
    call = render([{"name": "add", "arguments": {"x": 1, "y": 2}}], "qwen25")
    for token in tok.ll.tokenize_str(call):
        assert first.consume_token(token), first.get_error()
    assert first.is_accepting()
    assert not second.is_accepting() and not second.is_error()  # untouched by the first
    assert second.consume_tokens(tok.ll.tokenize_str("Hello")) and second.is_accepting()


@pytest.mark.parametrize("reasoning", [True, "required"])
def test_text_reasoning_block_then_text_with_text_markers(reasoning, examples, tmp_path) -> None:
    """Markers all written as text and text allowed before calls: the lazy text-before-calls
    lexeme must not start a reasoning block, or ``<think>`` is never lexed and text after
    the block is left incomplete."""
    import re

    source = examples.parent / "templates" / "formats" / "minimax-m2.toml"
    profile = tmp_path / "text-markers.toml"
    profile.write_text(re.sub(r"(?m)^special\s*=.*$", "special = []", source.read_text()))
    grammar = compile(examples / "travel_tools.json", str(profile), reasoning=reasoning)
    report = validate(grammar, [Sample("<think>No.</think>\n\nIt is 3.", True)])
    assert report.results[0].got == "accepted", report.results[0].message


def test_compile_leaves_the_garbage_collector_as_it_found_it() -> None:
    """compile() pauses Python's cyclic collector while it writes (the collector walked the
    writer's containers again and again): on again after, after an error too, and left off
    where the caller had it off."""
    import gc

    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {
        "a": {"type": "string"}}}}}]
    seen = []
    real = grammargen.compiler.check_writable

    def spy(*args: Any, **kwargs: Any) -> None:
        seen.append(gc.isenabled())
        real(*args, **kwargs)

    assert gc.isenabled()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(grammargen.compiler, "check_writable", spy)
        grammargen.compile(tools, "qwen25")
    assert seen == [False] and gc.isenabled()
    with pytest.raises(grammargen.ToolError):
        grammargen.compile([{"type": "function", "function": {"name": ""}}], "qwen25")
    assert gc.isenabled()
    gc.disable()
    try:
        grammargen.compile(tools, "qwen25")
        assert not gc.isenabled()
    finally:
        gc.enable()
