"""What real models write, read and allowed: the behaviours issue 14 asks of every layout.

Each test is one thing a user of a real model would notice: a call whose arguments vanish,
a model that cannot stop, a reasoning block the prompt opened, an id the model wrote.
"""

from __future__ import annotations

import json

import pytest

from grammargen import (OptionsError, OutputParseError, Sample, StreamParser, compile, formats, get_profile,
                        parse, render, samples, validate)
from grammargen.parse import Message

TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {
        "type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}}}]
WEATHER = {"name": "get_weather", "arguments": {"city": "Paris"}}
TIME = {"name": "get_time", "arguments": {"tz": "Europe/Paris"}}


def calls_of(message: Message) -> list[tuple[str, dict]]:
    return [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in message.tool_calls]


def streamed(text: str, fmt: str, size: int = 3, **options) -> Message:
    parser = StreamParser(fmt, TOOLS, **options)
    deltas = [d for i in range(0, len(text), size) for d in parser.feed(text[i:i + size])]
    return Message.from_deltas(deltas + parser.close())


# -- no silent loss --------------------------------------------------------------------------

def test_phi4_reads_the_parameters_key_of_the_onnx_guide() -> None:
    """Phi-4-mini's ONNX guide writes "parameters": its arguments are read, never {}."""
    text = '<|tool_call|>[{"name":"tool_catalog","parameters":{"query":"weather"}}]<|/tool_call|>'
    assert calls_of(parse(text, "phi4-mini")) == [("tool_catalog", {"query": "weather"})]
    grammar = compile([{"name": "tool_catalog", "parameters": {"type": "object", "properties": {
        "query": {"type": "string"}}, "required": ["query"]}}], "phi4-mini", tool_choice="required")
    spelled = '<|tool_call|>[{"name": "tool_catalog", "parameters": {"query": "weather"}}]<|/tool_call|>'
    assert validate(grammar, [spelled]).ok


@pytest.mark.parametrize("fmt", ["qwen25", "mistral", "json", "granite4"])
def test_arguments_under_an_unlisted_key_are_an_error(fmt: str) -> None:
    """Arguments under a key the format doesn't list raise in strict mode instead of becoming {}."""
    text = render([WEATHER], fmt).replace('"arguments"', '"args"')
    with pytest.raises(OutputParseError, match="unexpected key 'args'"):
        parse(text, fmt)
    assert calls_of(parse(text, fmt, lenient=True)) == [("get_weather", {"city": "Paris"})]


# -- endings -------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", [f for f in formats() if get_profile(f).after_calls])
def test_the_model_can_stop_after_a_trailing_newline(fmt: str) -> None:
    """After the last call a trailing newline is allowed and the model may stop there: the
    grammar never demands another call (Qwen-family outputs end with "</tool_call>\\n")."""
    one = render([WEATHER], fmt)
    grammar = compile(TOOLS, fmt, tool_choice="required")
    report = validate(grammar, [Sample(one + "\n"), Sample(one + "\n\n", "reject")])
    assert report.ok, [(r.sample.text, r.got, r.context) for r in report.failures]


@pytest.mark.parametrize(("fmt", "eot"), [(f, e) for f in formats() for e in get_profile(f).end_of_turn])
def test_end_of_turn_token_is_dropped(fmt: str, eot: str) -> None:
    """An end-of-turn token ending the output (<|im_end|>, <|eot_id|>, </s>...) is neither
    content nor an error, whole or streamed."""
    text = render([WEATHER, TIME], fmt) + eot
    for message in (parse(text, fmt, tools=TOOLS), streamed(text, fmt)):
        assert message.content is None and len(message.tool_calls) == 2
    assert parse("It is sunny." + eot, fmt).content == "It is sunny."
    assert streamed("It is sunny." + eot, fmt).content == "It is sunny."


@pytest.mark.parametrize("fmt", formats())
def test_text_after_the_calls_is_content(fmt: str) -> None:
    """Text after the last call (real Qwen outputs have it) is content, not an error."""
    text = render([WEATHER], fmt) + "\n\nI have asked for the weather."
    for message in (parse(text, fmt, tools=TOOLS), streamed(text, fmt)):
        assert calls_of(message) == [("get_weather", {"city": "Paris"})]
        assert message.content == "I have asked for the weather."


def test_a_call_cut_off_by_the_end_of_turn_token_is_read() -> None:
    """A model that stops at its end-of-turn token right after a complete call, without the
    closing marker, still made that call (the grammar never lets this happen)."""
    text = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}<|im_end|>'
    assert calls_of(parse(text, "qwen25")) == [("get_weather", {"city": "Paris"})]
    with pytest.raises(OutputParseError, match="ends inside the arguments"):
        parse('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Pa', "qwen25")


def test_lenient_never_leaks_layout_pieces_into_content() -> None:
    """A broken second call in lenient mode: the first is kept, and the separator, "]" and the
    end marker stay out of the content."""
    text = '<|tool_call|>[{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": 7}]<|/tool_call|>'
    message = parse(text, "phi4-mini", lenient=True)
    assert calls_of(message) == [("get_weather", {"city": "Paris"})]
    assert message.content == '{"name": 7}'


# -- tool_choice required --------------------------------------------------------------------

@pytest.mark.parametrize("fmt", [f for f in formats() if get_profile(f).content_before_calls])
def test_required_starts_the_calls_at_once(fmt: str) -> None:
    """tool_choice=required (and a named tool) allow no text before the first call; auto does."""
    one = render([WEATHER], fmt)
    for choice in ("required", "get_weather"):
        report = validate(compile(TOOLS, fmt, tool_choice=choice),
                          [Sample(one), Sample("Let me look.\n" + one, "reject")])
        assert report.ok, (choice, [(r.sample.text, r.got) for r in report.failures])
    assert validate(compile(TOOLS, fmt, tool_choice="auto"), [Sample("Let me look.\n" + one)]).ok


# -- reasoning opened by the prompt ----------------------------------------------------------

@pytest.mark.parametrize("fmt", [f for f in formats() if get_profile(f).reasoning])
def test_reasoning_opened_by_the_prompt(fmt: str) -> None:
    """reasoning="opened": the output starts inside the block and must close it; the text
    before the end marker is reasoning_content, never content."""
    r = get_profile(fmt).reasoning
    assert r is not None
    calls = render([WEATHER], fmt)
    text = f"The user wants Paris.{r.end}\n\n{calls}"
    grammar = compile(TOOLS, fmt, reasoning="opened")
    report = validate(grammar, [Sample(text), Sample(f"Thinking.{r.end}\n\nIt is sunny."),
                                Sample(calls, "reject"), Sample(f"Thinking forever {calls}", "reject")])
    assert report.ok, [(x.sample.note, x.sample.text, x.got) for x in report.failures]
    for message in (parse(text, fmt, reasoning="opened"), streamed(text, fmt, reasoning="opened")):
        assert message.reasoning_content == "The user wants Paris."
        assert message.content is None and calls_of(message) == [("get_weather", {"city": "Paris"})]
    assert validate(grammar, samples(TOOLS, fmt, reasoning="opened")).ok


def test_qwen3_empty_think_block_is_accepted_and_rendered() -> None:
    """Qwen3's template writes <think>\\n\\n</think>\\n\\n before the calls: render gives it,
    the grammar (reasoning=True) accepts it."""
    text = render([WEATHER], "qwen3", reasoning="")
    assert text.startswith("<think>\n\n</think>\n\n<tool_call>\n")
    assert validate(compile(TOOLS, "qwen3", reasoning=True), [text]).ok
    assert parse(text, "qwen3").reasoning_content is None


def test_reasoning_option_is_checked() -> None:
    """An unknown reasoning option is an options error naming the choices."""
    with pytest.raises(OptionsError, match='"opened"'):
        compile(TOOLS, "qwen25", reasoning="open")


# -- the layouts the templates render ---------------------------------------------------------

def test_llama3_bare_json_and_python_tag_forms() -> None:
    """Llama 3.x: the bare JSON the templates render, and the <|python_tag|> form, once or
    before each call, all read; the grammar allows the tag and renders without it."""
    bare = '{"name": "get_weather", "parameters": {"city": "Paris"}}'
    assert render([WEATHER], "llama3") == bare
    both = [("get_weather", {"city": "Paris"}), ("get_time", {"tz": "Europe/Paris"})]
    for text in (bare, "<|python_tag|>" + bare):
        assert calls_of(parse(text, "llama3.2")) == both[:1]
    repeated = '<|python_tag|>' + bare + '; <|python_tag|>{"name": "get_time", "parameters": {"tz": "Europe/Paris"}}'
    assert calls_of(parse(repeated, "llama3")) == both
    glued = repeated.replace("; ", "")
    assert calls_of(parse(glued, "llama3")) == both
    grammar = compile(TOOLS, "llama3", tool_choice="required")
    assert validate(grammar, [bare, "<|python_tag|>" + bare, Sample("Hi " + bare, "reject")]).ok


def test_llama3_call_after_text_is_read_and_braces_in_text_are_content() -> None:
    """A call after text is read (vLLM's fixtures); braces in prose stay content."""
    text = 'Here it is: {"name": "get_weather", "parameters": {"city": "Paris"}} Anything else?'
    message = parse(text, "llama3")
    assert calls_of(message) == [("get_weather", {"city": "Paris"})]
    assert message.content == "Here it is: Anything else?"
    prose = "The set {a, b} has two members."
    assert parse(prose, "llama3").to_openai() == {"role": "assistant", "content": prose}
    assert streamed(prose, "llama3", size=2).content == prose


@pytest.mark.parametrize("fmt", ["mistral", "mistral-nemo", "mistral-v11"])
def test_mistral_ids_the_model_writes_are_the_call_ids(fmt: str) -> None:
    """Mistral's 9-character ids are written by the grammar's rule and returned as the call
    ids, whole and streamed; render keeps a given id of that shape."""
    text = render([{**WEATHER, "id": "a1b2c3d4e"}, {**TIME, "id": "f5g6h7i8j"}], fmt)
    for message in (parse(text, fmt, tools=TOOLS), streamed(text, fmt)):
        assert [c["id"] for c in message.tool_calls] == ["a1b2c3d4e", "f5g6h7i8j"]
    grammar = compile(TOOLS, fmt, tool_choice="required")
    assert validate(grammar, [text, Sample(text.replace("a1b2c3d4e", "a1b2c3d4"), "reject"),
                              Sample(text.replace("a1b2c3d4e", "a1b2c3d4_"), "reject")]).ok


def test_mistral_nemo_has_no_space_and_v03_has_one() -> None:
    """[TOOL_CALLS][ (Nemo) and [TOOL_CALLS] [ (v0.3) are each their own format, and each
    parses the other's spacing."""
    assert render([WEATHER], "mistral-nemo").startswith("[TOOL_CALLS][{")
    assert render([WEATHER], "mistral").startswith("[TOOL_CALLS] [{")
    assert len(parse(render([WEATHER], "mistral"), "mistral-nemo").tool_calls) == 1


def test_firefunction_writes_the_leading_space() -> None:
    """FireFunction v2's template writes " functools[" with a leading space; functools has none."""
    assert render([WEATHER], "firefunction").startswith(" functools[{")
    assert render([WEATHER], "functools").startswith("functools[{")
    assert validate(compile(TOOLS, "firefunction", tool_choice="required"), [render([WEATHER], "firefunction")]).ok


def test_granite_reads_both_call_markers() -> None:
    """Granite 3.x writes <|tool_call|> (its token) and, in 3.1, <tool_call> as text: both read
    and allowed, <|tool_call|> rendered."""
    text = render([WEATHER], "granite")
    assert text.startswith("<|tool_call|>[")
    spelled = text.replace("<|tool_call|>", "<tool_call>")
    assert calls_of(parse(spelled, "granite")) == calls_of(parse(text, "granite"))
    assert validate(compile(TOOLS, "granite", tool_choice="required"), [text, spelled]).ok


def test_hunyuan_may_close_its_answer_frame_after_the_calls() -> None:
    """Hunyuan A13B writes its calls inside <answer>...</answer>: after the last call the
    grammar lets it close the frame or stop at the newline, and the parser keeps the closing
    tag out of content, whole and streamed."""
    one = render([WEATHER], "hunyuan")
    grammar = compile(TOOLS, "hunyuan", tool_choice="required")
    samples = [Sample(one + "\n"), Sample(one + "\n</answer>"), Sample(one + "</answer>", "reject"),
               Sample(one + "\n</answer>\n</answer>", "reject")]
    report = validate(grammar, samples)
    assert report.ok, [(r.sample.text, r.got, r.context) for r in report.failures]
    text = "<answer>\n" + one + "\n</answer>"
    for message in (parse(text, "hunyuan", tools=TOOLS), streamed(text, "hunyuan")):
        assert message.content is None and [c["function"]["name"] for c in message.tool_calls] == ["get_weather"]
