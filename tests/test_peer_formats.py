"""The formats only peers define: MiniMax M1, Jamba, xLAM, Hunyuan A13B and InternLM2 (issue 15).

No chat template of these families is in ../shared/corpus, so each profile follows the
model's own template where a peer ships it (vLLM's examples/tool_chat_template_*.jinja,
Jamba Mini 1.7's template) and the peer's tool parser.  Proven here, without the corpus:
the two-call turn those templates write, the grammar for the travel tools in every
tool_choice and parallel mode, and the peers' real-output fixtures read whole and streamed.
"""

from __future__ import annotations

import json

import pytest

import grammargen
from conftest import EXAMPLES, load_benchmark
from grammargen import Message, Sample, StreamParser, parse, render

real = load_benchmark("real_outputs")

# FunctionGemma joins once its profile is bundled (it needs Gemma's syntax with <escape>
# strings, an argument encoding of grammargen/encodings/gemma.py).
FORMATS = ["minimax-m1", "jamba", "xlam", "hunyuan", "internlm"] + \
    [f for f in ["functiongemma"] if f in grammargen.formats()]
CALLS = [{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}},
         {"name": "add", "arguments": {"x": 1, "y": 2.5}}]
CALL = '{"name": "get_weather", "ARGS": {"city": "Paris", "days": 3}}'
SECOND = '{"name": "add", "ARGS": {"x": 1, "y": 2.5}}'

# The turn each family's template writes for CALLS (after the generation prompt, before the
# end-of-turn token); Jamba's was checked against its template rendered with the HF Jinja
# settings (trim_blocks, lstrip_blocks): "<|assistant|>" is followed by a space, then the block.
TURNS = {
    "minimax-m1": f"<tool_calls>\n{CALL}\n{SECOND}\n</tool_calls>",
    "jamba": f" <tool_calls>[\n    {CALL},\n    {SECOND}\n]</tool_calls>",
    "xlam": f"[{CALL}, {SECOND}]",
    "hunyuan": f"<tool_calls>[{CALL}, {SECOND}]</tool_calls>",
    # InternLM's chat format writes "parameters" (vLLM's template "arguments": both are read).
    "internlm": (f"<|action_start|><|plugin|>\n{CALL.replace('ARGS', 'parameters')}<|action_end|>"
                 f"<|action_start|><|plugin|>\n{SECOND.replace('ARGS', 'parameters')}<|action_end|>"),
    # Gemma's syntax: keys bare and sorted, strings between <escape>, one block per call.
    "functiongemma": ("<start_function_call>call:get_weather{city:<escape>Paris<escape>,days:3}<end_function_call>"
                      "<start_function_call>call:add{x:1,y:2.5}<end_function_call>"),
}
TURNS = {k: v.replace("ARGS", "arguments") for k, v in TURNS.items()}

def travel_tools() -> list[dict]:
    return json.loads((EXAMPLES / "travel_tools.json").read_text(encoding="utf-8"))


def cases(fmt: str) -> list[dict]:
    return [c for c in real.load_cases() if c["format"] == fmt]


def calls_of(message: Message) -> list[dict]:
    return [{"name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])}
            for c in message.tool_calls]


@pytest.mark.parametrize("fmt", FORMATS)
def test_render_writes_the_template_turn(fmt: str) -> None:
    """render() gives the family's template turn byte for byte, and the grammar accepts it."""
    assert render(CALLS, fmt) == TURNS[fmt]
    tools = [{"name": "get_weather", "parameters": {"type": "object", "properties": {
        "city": {"type": "string"}, "days": {"type": "integer"}}, "required": ["city"]}},
        {"name": "add", "parameters": {"type": "object", "properties": {
            "x": {"type": "number"}, "y": {"type": "number"}}, "required": ["x", "y"]}}]
    grammar = grammargen.compile(tools, fmt, tool_choice="required")
    assert grammargen.validate(grammar, [Sample(TURNS[fmt])]).ok


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_turn_parses_back_whole_and_streamed(fmt: str) -> None:
    """parse and StreamParser (one character at a time) read the template turn as CALLS."""
    text = TURNS[fmt]
    assert calls_of(parse(text, fmt)) == CALLS
    stream = StreamParser(fmt)
    deltas = [d for ch in text for d in stream.feed(ch)] + stream.close()
    message = Message.from_deltas(deltas)
    assert calls_of(message) == CALLS and message.content is None


@pytest.mark.parametrize("parallel", [True, False], ids=["parallel", "single"])
@pytest.mark.parametrize("choice", ["auto", "required", "none", "booking_flight_tickets"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_travel_tools_in_every_mode(fmt: str, choice: str, parallel: bool) -> None:
    """The grammar for the travel tools accepts every generated valid sample and rejects every
    near miss, in each tool_choice and parallel mode (what `grammargen validate` checks)."""
    tools = travel_tools()
    options = {"tool_choice": choice, "parallel_tool_calls": parallel}
    grammar = grammargen.compile(tools, fmt, **options)
    samples = grammargen.samples(tools, fmt, **options)
    assert {s.expect for s in samples} >= ({"accept", "reject"} if choice != "none" else {"accept"})
    report = grammargen.validate(grammar, samples)
    assert report.grammar_error == ""
    assert not [(r.sample.note, r.expected, r.got, r.context) for r in report.failures]


@pytest.mark.parametrize("fmt", FORMATS)
def test_peer_fixtures_parse_to_the_expected_calls(fmt: str) -> None:
    """Every real-output fixture of the family agrees with the peer, whole and streamed
    (xLAM's ```json fence, [TOOL_CALLS] and <tool_call> wrappers are read and kept out of the
    content, never written: templates/formats/xlam.toml's read_wrappers)."""
    found = cases(fmt)
    assert len(found) >= 5
    for case in found:
        assert real.judge(case, lenient=False) is None, (case["id"], real.judge(case, lenient=False))
        assert real.judge_stream(case, chunk=1) is None, (case["id"], real.judge_stream(case, chunk=1))


def test_minimax_m1_ignores_a_call_written_inside_its_reasoning() -> None:
    """A <tool_calls> block inside <think> is reasoning text; only the one after it is a call."""
    text = ('<think>Maybe <tool_calls>\n{"name": "add", "arguments": {"x": 1, "y": 2}}\n</tool_calls></think>\n\n'
            'Checking. <tool_calls>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_calls>')
    message = parse(text, "minimax-m1")
    assert calls_of(message) == [{"name": "get_weather", "arguments": {"city": "Oslo"}}]
    assert "add" in message.reasoning_content and message.content == "Checking."


def test_internlm_reads_arguments_and_writes_parameters() -> None:
    """vLLM's template writes "arguments", InternLM's own format "parameters": both are read,
    both are allowed by the grammar, and render writes "parameters"."""
    tools = [{"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}}]
    grammar = grammargen.compile(tools, "internlm", tool_choice="required")
    for key in ("parameters", "arguments"):
        text = f'<|action_start|><|plugin|>\n{{"name": "f", "{key}": {{"a": 1}}}}<|action_end|>'
        assert calls_of(parse(text, "internlm")) == [{"name": "f", "arguments": {"a": 1}}]
        assert grammargen.validate(grammar, [Sample(text)]).ok
    assert '"parameters": {"a": 1}' in render([{"name": "f", "arguments": {"a": 1}}], "internlm")
    # Decoded with spaces between special tokens (SGLang's InternlmDetector reads that form).
    spaced = '<|action_start|> <|plugin|>\n{"name": "f", "parameters": {"a": 1}}<|action_end|>'
    assert calls_of(parse(spaced, "internlm")) == [{"name": "f", "arguments": {"a": 1}}]


def test_jamba_and_internlm_markers_are_special_tokens_minimax_and_hunyuan_text() -> None:
    """Jamba's and InternLM's markers are tokens of their tokenizers (vLLM keeps special tokens
    for them); Hunyuan A13B writes its tags as text (its reasoning parser matches "<think>\\n"
    as three tokens), and so does MiniMax M1's <tool_calls> as vLLM reads it."""
    tools = travel_tools()
    forms = {fmt: grammargen.compile(tools, fmt).markers for fmt in FORMATS}
    assert forms["jamba"] == {"<tool_calls>": "special", "</tool_calls>": "special"}
    assert set(forms["internlm"].values()) == {"special"}
    assert set(forms["hunyuan"].values()) == {"text"}
    assert forms["minimax-m1"]["<tool_calls>"] == "text"


def test_xlam_grammar_allows_the_array_alone() -> None:
    """xLAM's templates write the array and nothing else: with a call required, text before
    it, a ```json fence, [TOOL_CALLS] or <tool_call> tags are refused."""
    tools = travel_tools()
    grammar = grammargen.compile(tools, "xlam", tool_choice="required")
    call = next(s.text for s in grammargen.samples(tools, "xlam", tool_choice="required")
                if s.expect == "accept" and s.text.startswith("[{"))
    report = grammargen.validate(grammar, [
        Sample(call), Sample(f"Sure. {call}", "reject"), Sample(f"```json\n{call}\n```", "reject"),
        Sample(f"[TOOL_CALLS]{call}", "reject"), Sample(f"<tool_call>{call}</tool_call>", "reject")])
    assert not [(r.sample.text, r.got) for r in report.failures]


@pytest.mark.parametrize("fmt", FORMATS)
def test_prompt_shows_the_tools_and_the_call_layout(fmt: str) -> None:
    """The prompt holds every travel tool's name and the family's call markers."""
    text = grammargen.prompt(travel_tools(), fmt)
    for tool in grammargen.load_tools(EXAMPLES / "travel_tools.json"):
        assert tool.name in text
    first = {"minimax-m1": "<tool_calls>\n{", "jamba": "<tool_calls>[", "xlam": '[{"name": ',
             "hunyuan": "<tool_calls>[{", "internlm": "<|action_start|><|plugin|>",
             "functiongemma": "<start_function_call>call:"}[fmt]
    assert first in text
