"""Issue 15's JSON layouts and the layout pieces they brought, as a user of each format sees them.

Each new format's own template turn is proven in tests/test_templates.py (with ../shared) and
its real outputs in tests/test_real_outputs.py; this file needs neither: it checks what each
new piece or key does -- ids written across several pieces, the call index, text between the
model's own markers, Functionary's bare recipient, gpt-oss's two header orders, older layouts
read but never written -- and that a profile misusing them is refused when loaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import grammargen
from grammargen import ProfileError, Sample, StreamParser, compile, parse, render, validate
from grammargen.parse import Message
from grammargen.profiles import load_profile

TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
        "required": ["city"]}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {
        "type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}}},
]
CALLS = [{"name": "get_weather", "arguments": {"city": "Zürich", "unit": "c"}},
         {"name": "get_time", "arguments": {"tz": "Europe/Zurich"}}]


def calls_of(message: Message) -> list[tuple[str, dict[str, Any], str]]:
    return [(c["function"]["name"], json.loads(c["function"]["arguments"]), c["id"]) for c in message.tool_calls]


def streamed(text: str, fmt: str, **options: Any) -> Message:
    parser = StreamParser(fmt, TOOLS, **options)
    deltas = [d for i in range(0, len(text), 2) for d in parser.feed(text[i:i + 2])]
    return Message.from_deltas(deltas + parser.close())


def accepts(fmt: str, samples: list[Sample], **options: Any) -> None:
    report = validate(compile(TOOLS, fmt, **options), samples)
    assert not report.failures, [(r.sample.text, r.sample.expect, r.got, r.context) for r in report.failures]


# -- ids the model writes across pieces (id_of) and the call index ----------------------------------

KIMI = ('<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>'
        '{"city": "Zürich", "unit": "c"}<|tool_call_end|><|tool_call_begin|>functions.get_time:1'
        '<|tool_call_argument_begin|>{"tz": "Europe/Zurich"}<|tool_call_end|><|tool_calls_section_end|>')


def test_kimi_ids_are_what_the_model_wrote() -> None:
    """Kimi K2's functions.NAME:INDEX is written by render, accepted, and returned as each call's id, whole and streamed."""
    assert render(CALLS, "kimi-k2", tools=TOOLS) == KIMI
    want = [("get_weather", CALLS[0]["arguments"], "functions.get_weather:0"),
            ("get_time", CALLS[1]["arguments"], "functions.get_time:1")]
    assert calls_of(parse(KIMI, "kimi-k2", tools=TOOLS)) == want
    assert calls_of(streamed(KIMI, "kimi-k2")) == want
    accepts("kimi-k2", [Sample(KIMI), Sample(KIMI.replace(":1<", ":7<")),  # conversation-wide counters
                        Sample(KIMI.replace(":1<", ":01<"), "reject"),
                        Sample(KIMI.replace(":1<", ":<"), "reject"),
                        Sample(KIMI.replace("functions.get_time", "get_time"), "reject")],
            tool_choice="required")


def test_kimi_reads_a_call_without_functions_prefix_but_keeps_it_out_of_text() -> None:
    """A name without "functions." is read (its id as written); "functions." in plain text stays text."""
    text = KIMI.replace("functions.get_time", "get_time")
    assert [c[2] for c in calls_of(parse(text, "kimi-k2"))] == ["functions.get_weather:0", "get_time:1"]
    plain = "Call functions.get_weather:0 with a city."
    assert parse(plain, "kimi-k2").to_openai() == {"role": "assistant", "content": plain}


def test_kimi_thinking_demands_its_block() -> None:
    """kimi-k2-thinking with reasoning="required" accepts <think></think> before the section and not the section alone."""
    accepts("kimi-k2-thinking", [Sample("<think></think>" + KIMI), Sample("<think>Two calls.</think>" + KIMI),
                                 Sample(KIMI, "reject")], tool_choice="required", reasoning="required")
    message = parse("<think>Two calls.</think>" + KIMI, "kimi-k2-thinking")
    assert message.reasoning_content == "Two calls." and len(message.tool_calls) == 2


def test_a_call_section_ends_a_reasoning_block_the_model_never_closed() -> None:
    """<think> then the section without </think>: the thought is reasoning and the calls are read;
    the same section inside a block closed later stays reasoning (whole and streamed)."""
    unclosed = "<think>Let me check." + KIMI
    for message in (parse(unclosed, "kimi-k2", tools=TOOLS), streamed(unclosed, "kimi-k2")):
        assert message.reasoning_content == "Let me check." and len(message.tool_calls) == 2
    closed = "<think>I could write " + KIMI + " but no.</think>It is noon."
    for message in (parse(closed, "kimi-k2", tools=TOOLS), streamed(closed, "kimi-k2")):
        assert (message.content, message.tool_calls) == ("It is noon.", [])
        assert message.reasoning_content == "I could write " + KIMI + " but no."


def test_command_r7b_call_index_is_the_id() -> None:
    """Command R7B's "tool_call_id" is the call's position: render writes 0 and 1, parse returns them as ids."""
    text = render(CALLS, "command-r7b", tools=TOOLS)
    assert text.startswith('<|START_ACTION|>[\n    {"tool_call_id": "0", "tool_name": "get_weather", ')
    assert '},\n    {"tool_call_id": "1", "tool_name": "get_time", "parameters": {"tz": ' in text
    assert [c[2] for c in calls_of(parse(text, "command-r7b", tools=TOOLS))] == ["0", "1"]
    accepts("command-r7b", [Sample(text), Sample(text.replace('"tool_call_id": "1"', '"tool_call_id": "x"'), "reject")],
            tool_choice="required")


# -- text between the model's own markers (content_begin / content_end) ----------------------------

def test_command_r7b_response_markers_stay_out_of_content() -> None:
    """<|START_RESPONSE|>...<|END_RESPONSE|> is rendered around text, accepted, and read as the text alone."""
    text = render([], "command-r7b", content="Hi, Zürich is sunny.")
    assert text == "<|START_RESPONSE|>Hi, Zürich is sunny.<|END_RESPONSE|>"
    for message in (parse(text, "command-r7b"), streamed(text, "command-r7b")):
        assert message.content == "Hi, Zürich is sunny." and not message.tool_calls
    thought = "<|START_THINKING|>Plan.<|END_THINKING|>" + text
    assert parse(thought, "command-r7b").reasoning_content == "Plan."
    accepts("command-r7b", [Sample(text), Sample(thought)], reasoning=True)
    accepts("command-r7b", [Sample(text, "reject")], tool_choice="required")


# -- Functionary v3.2: the bare recipient -----------------------------------------------------------

FUNCTIONARY = 'get_weather\n{"city": "Zürich", "unit": "c"}>>>get_time\n{"tz": "Europe/Zurich"}'


def test_functionary_calls_text_and_text_then_calls() -> None:
    """Calls start with the recipient; text is written after all\\n, and calls after text follow >>>."""
    assert render(CALLS, "functionary-v32", tools=TOOLS) == FUNCTIONARY
    both = render(CALLS, "functionary-v32", tools=TOOLS, content="Let me check.")
    assert both == "all\nLet me check.>>>" + FUNCTIONARY
    for text, content in ((FUNCTIONARY, None), (both, "Let me check."), ("all\nIt is sunny.", "It is sunny.")):
        for message in (parse(text, "functionary-v32", tools=TOOLS), streamed(text, "functionary-v32")):
            assert message.content == content
            assert len(message.tool_calls) == (0 if text.startswith("all\nIt") else 2)
    accepts("functionary-v32", [Sample(FUNCTIONARY), Sample(both), Sample("all\nIt is sunny."),
                                Sample("get_weather\n{\"city\": 3}", "reject"),
                                Sample("sub\n{\"x\": 1}", "reject")])


def test_functionary_bare_text_is_text_only_where_it_cannot_be_a_call() -> None:
    """Text without all\\n is read as text unless its first line is a word alone (a recipient)."""
    assert parse("The answer is 3.", "functionary-v32").content == "The answer is 3."
    assert parse('ipython\n{"code": "1"}', "functionary-v32").tool_calls[0]["function"]["name"] == "ipython"
    accepts("functionary-v32", [Sample("The answer is 3."), Sample("get it?", "reject")])


# -- gpt-oss: the model's header order written, the template's read too ---------------------------

GPT_OSS = '<|channel|>commentary to=functions.get_time <|constrain|>json<|message|>{"tz": "Europe/Zurich"}'


def test_gpt_oss_writes_the_documented_form_and_reads_the_templates() -> None:
    """render writes the recipient in the channel header; the template's role-header form parses to the same call."""
    assert render(CALLS[1:], "gpt-oss", tools=TOOLS) == GPT_OSS
    history = ' to=functions.get_time<|channel|>commentary json<|message|>{"tz": "Europe/Zurich"}<|call|>'
    for text in (GPT_OSS, GPT_OSS + "<|call|>", history,
                 '<|channel|>commentary to=functions.get_time<|message|>{"tz": "Europe/Zurich"}'):
        got = calls_of(parse(text, "gpt-oss", tools=TOOLS))
        assert [(n, a) for n, a, _ in got] == [("get_time", {"tz": "Europe/Zurich"})], text
    accepts("gpt-oss", [Sample(GPT_OSS), Sample(history.removesuffix("<|call|>"), "reject")],
            tool_choice="required", parallel_tool_calls=False)


def test_gpt_oss_analysis_is_reasoning_and_final_is_content() -> None:
    """The analysis channel is reasoning_content (with or without its <|end|>); the final channel is content."""
    text = "<|channel|>analysis<|message|>Need the time.<|end|><|start|>assistant" + GPT_OSS
    message = parse(text, "gpt-oss", tools=TOOLS)
    assert message.reasoning_content == "Need the time." and len(message.tool_calls) == 1
    final = "<|channel|>analysis<|message|>Easy.<|start|>assistant<|channel|>final<|message|>It is noon.<|return|>"
    for message in (parse(final, "gpt-oss"), streamed(final, "gpt-oss")):
        assert (message.reasoning_content, message.content) == ("Easy.", "It is noon.")
    accepts("gpt-oss", [Sample(text), Sample("<|channel|>final<|message|>It is noon.")], reasoning=True)


# -- older layouts read, never written (read_also) --------------------------------------------------

@pytest.mark.parametrize("text", [
    '<|tool_call_start|>[{"name": "get_time", "arguments": {"tz": "UTC"}}]<|tool_call_end|>',
    '<|tool_call_start|>{"name": "get_time", "parameters": {"tz": "UTC"}}<|tool_call_end|>',
    "<|tool_call_start|>[get_time(tz='UTC')]<|tool_call_end|>",
], ids=["json-list", "json-block", "pythonic"])
def test_lfm2_reads_its_older_json_calls(text: str) -> None:
    """LFM2's older JSON calls parse like its pythonic ones, whole and streamed."""
    for message in (parse(text, "lfm2", tools=TOOLS), streamed(text, "lfm2")):
        assert [(n, a) for n, a, _ in calls_of(message)] == [("get_time", {"tz": "UTC"})]


def test_lfm2_grammar_and_render_keep_to_the_pythonic_layout() -> None:
    """read_also is never written: render writes pythonic calls and the grammar refuses the JSON ones."""
    assert render(CALLS[1:], "lfm2", tools=TOOLS) == "<|tool_call_start|>[get_time(tz='Europe/Zurich')]<|tool_call_end|>"
    accepts("lfm2", [Sample('<|tool_call_start|>[{"name": "get_time", "arguments": {"tz": "UTC"}}]<|tool_call_end|>',
                            "reject")], tool_choice="required")


# -- wrappers read around the calls (read_wrappers), other read-only forms of real outputs -----------

XLAM_CALL = '[{"name": "get_time", "arguments": {"tz": "UTC"}}]'


@pytest.mark.parametrize("text", [
    f"Checking.\n```json\n{XLAM_CALL}\n```",
    f"Checking.[TOOL_CALLS]{XLAM_CALL}",
    f"Checking.<tool_call>{XLAM_CALL}</tool_call>",
    f"Checking. {XLAM_CALL}",
], ids=["json-fence", "tool-calls-marker", "tool-call-tags", "bare"])
def test_xlam_wrappers_are_read_and_kept_out_of_content(text: str) -> None:
    """xLAM's calls in a ```json fence, after [TOOL_CALLS] or in <tool_call> tags: the calls, and only the text as content."""
    for message in (parse(text, "xlam", tools=TOOLS), streamed(text, "xlam")):
        assert message.content == "Checking."
        assert [(n, a) for n, a, _ in calls_of(message)] == [("get_time", {"tz": "UTC"})]


def test_a_wrapper_without_calls_stays_text() -> None:
    """A ```json fence holding other JSON is the model's text, kept whole."""
    text = 'The result:\n```json\n{"tz": "UTC"}\n```'
    assert parse(text, "xlam").content == streamed(text, "xlam").content == text


def test_wrappers_are_never_written_nor_allowed() -> None:
    """render writes the bare array, and the grammar refuses the fence a parser forgives."""
    assert render(CALLS[1:], "xlam", tools=TOOLS) == '[{"name": "get_time", "arguments": {"tz": "Europe/Zurich"}}]'
    accepts("xlam", [Sample(f"```json\n{XLAM_CALL}\n```", "reject"), Sample(XLAM_CALL)], tool_choice="required")


@pytest.mark.parametrize(("fmt", "text"), [
    ("nemotron-nano-v2", '<TOOLCALL>{"name": "get_time", "arguments": {"tz": "UTC"}}</TOOLCALL>'),
    ("gemma4", '<|tool_call>:call:get_time{tz:<|"|>UTC<|"|>}<tool_call|>'),
    ("gemma4", '<|tool_call>call:get_time{tz:<|"|>UTC<|"|>}<turn|>'),
], ids=["nemotron-bare-object", "gemma4-stray-colon", "gemma4-closed-by-turn-end"])
def test_observed_variants_read_whole_and_streamed(fmt: str, text: str) -> None:
    """Forms real outputs show (a single call not in a list, a stray colon, a call closed by the end of
    turn) read the same whole and streamed two characters at a time."""
    for message in (parse(text, fmt, tools=TOOLS), streamed(text, fmt)):
        assert [(n, a) for n, a, _ in calls_of(message)] == [("get_time", {"tz": "UTC"})] and not message.content


HUNYUAN_CALL = '<tool_calls>[{"name": "get_time", "arguments": {"tz": "UTC"}}]</tool_calls>'


@pytest.mark.parametrize(("text", "content", "reasoning"), [
    (f"<think>\nThe user wants the time.\n</think>\n<answer>\n{HUNYUAN_CALL}\n</answer>", None,
     "The user wants the time."),
    (f"<think>\n\n</think>\n<answer>\nChecking. {HUNYUAN_CALL}\n</answer>", "Checking.", None),
    (f"<answer>{HUNYUAN_CALL}</answer>", None, None),
    ("<think>\nEasy.\n</think>\n<answer>\n助手：It is noon.\n</answer><|eos|>", "It is noon.", "Easy."),
    ("助手：It is noon.", "It is noon.", None),
], ids=["thinking-call", "empty-thought-text-and-call", "no-newlines", "thinking-text", "template-text"])
def test_hunyuan_answer_frame_is_read(text: str, content: str | None, reasoning: str | None) -> None:
    """Hunyuan A13B's <think>...</think><answer>...</answer> frame: the thought is reasoning, the
    answer's text content (its "助手：" opening dropped), calls inside it read, whole and streamed."""
    want = [("get_time", {"tz": "UTC"})] if "tool_calls" in text else []
    for message in (parse(text, "hunyuan", tools=TOOLS), streamed(text, "hunyuan")):
        assert (message.content, message.reasoning_content) == (content, reasoning)
        assert [(n, a) for n, a, _ in calls_of(message)] == want


def test_hunyuan_grammar_lets_the_model_write_its_frame() -> None:
    """The grammar allows the thought and the <answer> frame around text and before calls; render
    writes the turn as the template's history does, with no frame."""
    assert render(CALLS[1:], "hunyuan", tools=TOOLS) == (
        '<tool_calls>[{"name": "get_time", "arguments": {"tz": "Europe/Zurich"}}]</tool_calls>')
    framed = [f"<think>\nThe user wants the time.\n</think>\n<answer>\n{HUNYUAN_CALL}\n",
              "<think>\nEasy.\n</think>\n<answer>\n助手：It is noon.\n</answer>"]
    accepts("hunyuan", [Sample(t) for t in framed], reasoning=True)
    accepts("hunyuan", [Sample(f"<answer>\n{HUNYUAN_CALL}\n"), Sample("<answer>\n助手：It is noon.\n</answer>")])


def test_command_r7b_citation_tags_are_dropped_from_text() -> None:
    """Cohere's <co>span</co: 0:[1]> grounding tags leave the plan and the response as their
    consumers show them, the spans kept, whole and streamed; a tag never closed stays text."""
    text = ("<|START_THINKING|>Found it <co>in result 1</co: 0:[1]>.<|END_THINKING|>"
            "<|START_RESPONSE|>It is <co>noon</co: 0:[1,2],1:[0]> in Zürich.<|END_RESPONSE|>")
    for message in (parse(text, "command-r7b"), streamed(text, "command-r7b")):
        assert (message.reasoning_content, message.content) == ("Found it in result 1.", "It is noon in Zürich.")
    kept = "<|START_RESPONSE|>A </co: tag" + "." * 300 + "<|END_RESPONSE|>"
    assert parse(kept, "command-r7b").content == streamed(kept, "command-r7b").content == kept[18:-16]


BARE = ("Checking. <|tool_calls_section_begin|><|tool_call_begin|>0 <|tool_call_argument_begin|>{ARGS}"
        "<|tool_call_end|><|tool_calls_section_end|>")


def test_kimi_thinking_call_written_with_its_counter_alone() -> None:
    """A call whose id is the bare counter "0" is for the one tool its arguments fit, with "0" as its
    id, whole and streamed; it is never written or allowed."""
    text = BARE.replace("{ARGS}", '{"tz": "UTC"}')
    for message in (parse(text, "kimi-k2-thinking", tools=TOOLS), streamed(text, "kimi-k2-thinking")):
        assert calls_of(message) == [("get_time", {"tz": "UTC"}, "0")] and message.content == "Checking."
    accepts("kimi-k2-thinking", [Sample(text, "reject")])


@pytest.mark.parametrize(("args", "tools", "message"), [
    ('{"tz": "UTC"}', None, "give the tool list"),
    ('{"city": "Oslo"}', TOOLS + [{"name": "book", "parameters": {"type": "object", "properties": {
        "city": {"type": "string"}}}}], "fit get_weather, book"),
    ('{"zone": "UTC"}', TOOLS, "fit no tool"),
], ids=["no-tools", "ambiguous", "no-fit"])
def test_kimi_counter_alone_is_an_error_where_no_one_tool_fits(args: str, tools: Any, message: str) -> None:
    """Without tools, or with arguments that fit several tools or none, the call is not guessed."""
    with pytest.raises(grammargen.OutputParseError, match=message):
        parse(BARE.replace("{ARGS}", args), "kimi-k2-thinking", tools=tools)


# -- Apertus and Llama 4 ------------------------------------------------------------------------

def test_apertus_name_is_the_key_and_a_missing_suffix_is_forgiven() -> None:
    """[{"get_time": {...}}] reads as a call; a model that stopped before <|tools_suffix|> still parses."""
    text = render(CALLS, "apertus", tools=TOOLS)
    assert text.startswith('<|tools_prefix|>[{"get_weather": {"city": "Zürich"')
    assert len(parse(text.removesuffix("<|tools_suffix|>"), "apertus", tools=TOOLS).tool_calls) == 2
    accepts("apertus", [Sample(text), Sample(text.replace('{"get_time": ', '{"name": "get_time", "arguments": '),
                                             "reject")], tool_choice="required")


def test_llama4_text_goes_between_the_python_tags() -> None:
    """With text and calls, Llama 4's text sits inside <|python_start|>...<|python_end|>: written, allowed, read."""
    text = render(CALLS, "llama4", tools=TOOLS, content="Checking both.")
    assert text.startswith("<|python_start|>Checking both.<|python_end|>{")
    for message in (parse(text, "llama4", tools=TOOLS), streamed(text, "llama4")):
        assert message.content == "Checking both." and len(message.tool_calls) == 2
    accepts("llama4", [Sample(text)])
    accepts("llama4", [Sample(text, "reject")], tool_choice="required")


def test_llama4_calls_are_glued_after_an_empty_python_pair() -> None:
    """<|python_start|><|python_end|> then the JSON calls with no separator, as the template writes them."""
    text = render(CALLS, "llama4", tools=TOOLS)
    assert text.startswith('<|python_start|><|python_end|>{"name": "get_weather", "parameters": {')
    assert '}}{"name": "get_time", "parameters": ' in text
    assert len(parse(text, "llama4", tools=TOOLS).tool_calls) == 2
    accepts("llama4", [Sample(text), Sample(text.replace("}}{", "}}, {"), "reject")], tool_choice="required")


# -- profiles that misuse the new keys are refused when loaded -------------------------------------

BASE = '''name = "acme"
reference = "https://example.com"
'''


@pytest.mark.parametrize(("toml", "message"), [
    ('[layout]\ncall = [{ id_of = [{ id_of = [{ text = "x" }] }] }, { arguments = "json" }, { name = "raw" }]\n',
     "do not nest"),
    ('[layout]\ncall = [{ id_of = [] }, { name = "raw" }, { text = ":" }, { arguments = "json" }]\n', "non-empty"),
    ('[layout]\ncall = [{ text = "<" }, { name = "raw" }, { text = ":" }, { index = "1" }, { text = ">" }, '
     '{ arguments = "json" }]\n', "counted from 0"),
    ('[layout]\nbegin = [{ id_of = [{ text = "x" }] }]\ncall = [{ call_object = ["arguments"] }]\n', "only appear in"),
    ('calls_after_text = ">>>"\n[layout]\ncall = [{ call_object = ["arguments"] }]\n', "needs content_begin"),
    ('content_end = "</r>"\n[layout]\ncall = [{ call_object = ["arguments"] }]\n', "needs content_begin"),
    ('[layout]\ncall = [{ call_object = ["arguments"] }]\n[[read_also]]\ncall = [{ text = "x" }]\n',
     "exactly one call_object"),
    ('call_id = "[a-z]{3}"\n[layout]\ncall = [{ call_object = ["arguments"] }]\n[[read_also]]\n'
     'call = [{ call_object = ["arguments"], id = "id" }]\n', "writes no ids"),
    ('[layout]\ncall = [{ content = "text" }, { call_object = ["arguments"] }]\n', "only appear once, in layout.begin"),
    ('read_wrappers = [{ end = "```" }]\n[layout]\ncall = [{ call_object = ["arguments"] }]\n', "non-empty begin"),
    ('may_omit_name = true\n[layout]\ncall = [{ call_object = ["arguments"] }]\n', "id_of group with an index"),
], ids=["id_of-nested", "id_of-empty", "index-from-1", "id_of-outside-call", "calls_after_text-alone",
        "content_end-alone", "read_also-without-arguments", "read_also-with-ids", "content-in-call",
        "read_wrappers-without-begin", "may_omit_name-without-counter"])
def test_misused_layout_keys_are_refused(tmp_path: Path, toml: str, message: str) -> None:
    """Each rule of the new keys is checked when the file loads, naming the file."""
    path = tmp_path / "acme.toml"
    path.write_text(BASE + toml, encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert message in str(info.value) and "acme.toml" in str(info.value)


def test_new_formats_ship_with_prompts() -> None:
    """Every issue-15 JSON layout is a shipped format whose prompt names the tools (their schemas as
    JSON are checked for every format in tests/test_prompt.py)."""
    for fmt in ("llama4", "apertus", "kimi-k2", "kimi-k2-thinking", "functionary-v32", "command-r7b", "gpt-oss"):
        assert fmt in grammargen.formats()
        text = grammargen.prompt(TOOLS, fmt)
        assert "get_weather" in text and "get_time" in text
