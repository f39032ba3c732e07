"""Gemma 4 (``gemma4``): ``<|tool_call>call:NAME{key:value,...}<tool_call|>`` in Gemma's own syntax.

Keys bare and sorted as the template's ``dictsort`` sorts them, strings raw between
``<|"|>`` delimiters, ``true``/``false``, null as ``None`` (``null`` read and allowed),
``[a,b]`` and ``{k:v}`` down the tree; the thought channel is reasoning.  Grammar, render
and the reader agree; bare values are typed by the schema where there is one.
"""

from __future__ import annotations

import json

import pytest

import grammargen
import chat_templates as ct
from grammargen.encodings.gemma import gemma_literal, read_call, render_arguments
from grammargen.encodings.pythonic import NeedMore
from grammargen.errors import InputError, OutputParseError, ToolError, UnsupportedSchemaError
from grammargen.parse import Message, StreamParser

Q = '<|"|>'


def _tool(name: str, properties: dict, required: list[str] | None = None) -> dict:
    return {"type": "function", "function": {"name": name, "parameters": {
        "type": "object", "properties": properties, "required": required or []}}}


TOOLS = [
    _tool("get_weather", {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 10},
                          "metric": {"type": "boolean"}, "hours": {"type": "array", "items": {"type": "integer"}},
                          "opts": {"type": "object", "properties": {"lang": {"type": "string"}, "Zone": {"type": "string"}}},
                          "note": {"type": "null"}, "Unit": {"enum": ["celsius", "fahrenheit"]}}, ["city"]),
    _tool("get_time", {}),
]
PROBE = {"city": "Paris", "days": 3, "metric": True, "hours": [9, 12], "opts": {"lang": "fr"}, "note": None}


# -- render ----------------------------------------------------------------------------------

@pytest.mark.parametrize("value, text", [
    ("Paris", f"{Q}Paris{Q}"), ('say "hi"\n', f'{Q}say "hi"\n{Q}'), (True, "true"), (False, "false"),
    (None, "None"), (3, "3"), (3.14, "3.14"), ([9, 12], "[9,12]"), ({"b": 1, "A": [Q[:0]]}, f"{{A:[{Q}{Q}],b:1}}"),
])
def test_values_render_as_the_template_writes_them(value, text):
    """format_argument's spelling: raw strings, lowercase booleans, None, compact lists, sorted keys."""
    assert gemma_literal(value) == text


def test_render_writes_the_templates_probe_turn():
    """The template's typed-values probe turn, byte for byte (its keys sorted)."""
    text = grammargen.render([{"name": "get_weather", "arguments": PROBE}], "gemma4")
    assert text == (f"<|tool_call>call:get_weather{{city:{Q}Paris{Q},days:3,hours:[9,12],metric:true,"
                    f"note:None,opts:{{lang:{Q}fr{Q}}}}}<tool_call|>")


def test_keys_sort_case_insensitively():
    """Jinja's dictsort ignores case: 'Unit' sorts between 'opts' and nothing after 'u'."""
    assert render_arguments({"b": 1, "Unit": 2, "a": 3}) == "{a:3,b:1,Unit:2}"


def test_a_string_holding_the_delimiter_is_refused():
    """Nothing inside a Gemma string is escaped, so a value holding <|"|> can't be written."""
    with pytest.raises(InputError, match="can't hold"):
        grammargen.render([{"name": "f", "arguments": {"x": f"a{Q}b"}}], "gemma4")


# -- the reader ----------------------------------------------------------------------------

@pytest.mark.parametrize("text, schema, arguments", [
    pytest.param(f"f{{a:{Q}x, y{Q},b:[{Q}1{Q},2]}}", None, {"a": "x, y", "b": ["1", 2]}, id="strings-arrays"),
    pytest.param("f{a:true,b:None,c:null,d:-7,e:1.5e10}", None,
                 {"a": True, "b": None, "c": None, "d": -7, "e": 15000000000.0}, id="bare-scalars"),
    pytest.param("f{a:42,b:hello}", {"properties": {"a": {"type": "string"}}}, {"a": "42", "b": "hello"},
                 id="typed-by-schema"),
    pytest.param(f"f{{o:{{k:{{{Q}q{Q}:1}}}}}}", None, {"o": {"k": {"q": 1}}}, id="nested-and-quoted-key"),
    pytest.param("f{}", None, {}, id="empty"),
])
def test_reads_gemma_values(text, schema, arguments):
    """Gemma's values read as JSON values; bare ones follow the schema's type where it names one."""
    name, got, end = read_call(text, 0, True, {"f": schema} if schema else None)
    assert (name, got, end) == ("f", arguments, len(text))


@pytest.mark.parametrize("text", ["f{a:", f"f{{a:{Q}x", "f{a:1", "f{a:[1,"])
def test_a_cut_call_waits_for_more(text):
    """Text that ends inside the arguments waits in a stream, and is an error at the end."""
    with pytest.raises(NeedMore):
        read_call(text, 0, False)
    with pytest.raises(OutputParseError):
        read_call(text, 0, True)


# -- grammar ---------------------------------------------------------------------------------

def _verdicts(texts: list[str], **options) -> list[str]:
    grammar = grammargen.compile(TOOLS, "gemma4", **options)
    return [r.got for r in grammargen.validate(grammar, texts).results]


def _call(args: str, name: str = "get_weather") -> str:
    return f"<|tool_call>call:{name}{{{args}}}<tool_call|>"


@pytest.mark.parametrize("args, verdict", [
    pytest.param(f"city:{Q}Paris{Q},days:3,hours:[9,12],metric:true,note:None,opts:{{lang:{Q}fr{Q}}},Unit:{Q}celsius{Q}",
                 "accepted", id="every-type"),
    pytest.param(f"city:{Q}P{Q},note:null", "accepted", id="null-spelled-null"),
    pytest.param(f"city:{Q}東京 \"q\"\n{Q}", "accepted", id="raw-string"),
    pytest.param(f"city:{Q}P{Q},opts:{{lang:{Q}fr{Q},Zone:{Q}z{Q}}}", "accepted", id="nested-sorted"),
    pytest.param(f"days:3,city:{Q}P{Q}", "rejected", id="unsorted"),
    pytest.param(f"city:{Q}P{Q},opts:{{Zone:{Q}z{Q},lang:{Q}fr{Q}}}", "rejected", id="nested-unsorted"),
    pytest.param("days:3", "rejected", id="missing-required"),
    pytest.param(f"city:{Q}P{Q},days:11", "rejected", id="out-of-range"),
    pytest.param(f"city:{Q}P{Q},metric:True", "rejected", id="python-true"),
    pytest.param(f"city:{Q}P{Q}, days:3", "rejected", id="space"),
    pytest.param("city:Paris", "rejected", id="bare-string"),
    pytest.param(f"city:{Q}P{Q},Unit:{Q}kelvin{Q}", "rejected", id="enum"),
    pytest.param(f"city:{Q}P{Q},wind:1", "rejected", id="extra-key"),
])
def test_grammar_accepts_and_rejects(args, verdict):
    """Every value type in Gemma's spelling is accepted; each near miss is rejected."""
    assert _verdicts([_call(args)], tool_choice="required") == [verdict]


def test_two_calls_and_no_arguments():
    """Calls follow one another with nothing between; a tool without parameters is ``{}``."""
    text = _call(f"city:{Q}P{Q}") + _call("", "get_time")
    assert _verdicts([text, text.replace("}<tool_call|><|tool_call>", "}<tool_call|>\n<|tool_call>")]) == \
        ["accepted", "rejected"]


def test_generated_samples_are_as_labelled():
    """validate's generated samples come out as labelled."""
    report = grammargen.validate(grammargen.compile(TOOLS, "gemma4"), grammargen.samples(TOOLS, "gemma4"))
    assert report.ok, [(r.sample.note, r.got, r.message) for r in report.failures]


# -- injection -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["f{x}", " f", "f "])
def test_hostile_tool_names_are_refused(name):
    """A name that could end the name or open a marker is refused."""
    with pytest.raises(ToolError, match="rename the tool"):
        grammargen.compile([_tool(name, {})], "gemma4")


def test_odd_keys_are_written_as_they_are():
    """A key holding ':', ',' or spaces is written literally and, given the tools, read back."""
    key = "a:b, c}"
    tools = [_tool("f", {key: {"type": "string"}, "n": {"type": "integer"}}, [key])]
    text = grammargen.render([{"name": "f", "arguments": {key: "v", "n": 1}}], "gemma4", tools=tools)
    assert grammargen.validate(grammargen.compile(tools, "gemma4", tool_choice="required"), [text]).ok
    got = grammargen.parse(text, "gemma4", tools=tools).tool_calls[0]["function"]["arguments"]
    assert json.loads(got) == {key: "v", "n": 1}


def test_hostile_enum_value_is_a_literal():
    """An enum value spelling the next key and call is one exact literal: read back whole."""
    hostile = "x},evil:{"
    tools = [_tool("f", {"mode": {"enum": [hostile]}}, ["mode"])]
    text = grammargen.render([{"name": "f", "arguments": {"mode": hostile}}], "gemma4", tools=tools)
    report = grammargen.validate(grammargen.compile(tools, "gemma4", tool_choice="required"),
                                 [text, _call(f"mode:{Q}x{Q}" + "},evil:{", "f")])
    assert [r.got for r in report.results] == ["accepted", "rejected"]
    got = grammargen.parse(text, "gemma4", tools=tools).tool_calls
    assert [json.loads(c["function"]["arguments"]) for c in got] == [{"mode": hostile}]


def test_enum_value_spelling_a_marker_is_refused():
    """An enum value holding a special token's text (the call's end marker) can't be written."""
    with pytest.raises(UnsupportedSchemaError, match="special token"):
        grammargen.compile([_tool("f", {"m": {"enum": ["x}<tool_call|>"]}})], "gemma4")


def test_enum_value_holding_the_delimiter_is_refused():
    """An enum value with <|"|> inside can't be a Gemma string: refused at its path."""
    with pytest.raises(UnsupportedSchemaError, match="can't be written"):
        grammargen.compile([_tool("f", {"m": {"enum": [f"a{Q}"]}})], "gemma4")


@pytest.mark.parametrize("fmt", ["gemma4", "functiongemma"])
def test_string_enums_with_prefixes_between_delimiter_tokens(fmt):
    """A string enum is its texts between the delimiter tokens (one terminal of them inside):
    a value that is a prefix of another is still taken whole, and only listed values are."""
    q = Q if fmt == "gemma4" else "<escape>"
    tools = [_tool("f", {"m": {"enum": ["a", "ab", ""]}, "n": {"enum": ["a", 1, None]}}, ["m"])]
    grammar = grammargen.compile(tools, fmt, tool_choice="required")
    call = grammargen.render([{"name": "f", "arguments": {"m": "a"}}], fmt, tools=tools)
    texts = [call, call.replace(f"{q}a{q}", f"{q}ab{q}"), call.replace(f"{q}a{q}", f"{q}{q}"),
             call.replace(f"{q}a{q}", f"{q}abc{q}"), call.replace(f"{q}a{q}", f"{q}b{q}"),
             call.replace(f"{q}a{q}", f"{q}a{q},n:{q}a{q}"), call.replace(f"{q}a{q}", f"{q}a{q},n:None"),
             call.replace(f"{q}a{q}", f"{q}a{q},n:2")]
    assert [r.got for r in grammargen.validate(grammar, texts).results] == ["accepted"] * 3 + ["rejected"] * 2 \
        + ["accepted"] * 2 + ["rejected"]


@pytest.mark.parametrize("key", ["a<tool_call|>", f"a{Q}"])
def test_a_key_spelling_a_special_token_is_refused(key):
    """A property name holding a special token's text (the end marker, or the delimiter whose
    ``"`` the quick search looks for in both its escapings) is refused by name."""
    with pytest.raises(ToolError, match="special token"):
        grammargen.compile([_tool("f", {key: {"type": "string"}})], "gemma4")


# -- parse, stream, reasoning --------------------------------------------------------------

STREAMED = [
    _call(f"city:{Q}Paris, \"FR\"{Q},days:3,hours:[9,12],opts:{{lang:{Q}fr{Q}}}") + _call("", "get_time"),
    "Let me look. " + _call(f"city:{Q}東京{Q}"),
    f"<|channel>thought\nI'm\nthinking\n<channel|>" + _call(f"city:{Q}P{Q}"),
]


@pytest.mark.parametrize("text", STREAMED)
def test_stream_joins_to_parse(text):
    """Fed one character (or one UTF-8 byte) at a time, the deltas join to parse's message."""
    whole = grammargen.parse(text, "gemma4", tools=TOOLS)
    assert whole.tool_calls
    for pieces in ([c for c in text], [bytes([b]) for b in text.encode()]):
        stream = StreamParser("gemma4", TOOLS)
        joined = Message.from_deltas([d for p in pieces for d in stream.feed(p)] + stream.close())
        assert [c["function"] for c in joined.tool_calls] == [c["function"] for c in whole.tool_calls]
        assert (joined.content, joined.reasoning_content) == (whole.content, whole.reasoning_content)


@pytest.mark.parametrize("text, reasoning, content", [
    ("<|channel>thought\nI'm\nthinking<channel|>Hello", "I'm\nthinking", "Hello"),
    ("<|channel>thought\nPlan.\n<channel|>Hi", "Plan.", "Hi"),
    ("<|channel>thought<channel|>Hello", None, "Hello"),
])
def test_thought_channel_is_reasoning(text, reasoning, content):
    """The thought channel, with or without its newlines, is reasoning_content."""
    message = grammargen.parse(text, "gemma4")
    assert (message.reasoning_content, message.content) == (reasoning, content)


def test_render_with_reasoning_matches_the_template():
    """With reasoning_content, render writes the template's thought channel before the calls."""
    if ct.corpus() is None:
        pytest.skip("../shared/corpus/chat-templates is absent (CI has no ../shared): template not rendered")
    turn = ct.turn("google-gemma-4-31B-it.jinja", reasoning="Let me think.")
    calls = [c["function"] for c in ct.CALLS]
    got = grammargen.render(calls, "gemma4", tools=ct.TOOLS, reasoning="Let me think.")
    # the default generation prompt holds "<|channel>thought\n" (an empty thought), so the cut
    # turn starts inside the channel
    assert "<|channel>thought\n" + turn.text == got + "<|tool_response>"


def test_turn_end_closes_a_call():
    """A call closed by the end of turn <turn|> instead of <tool_call|> is read (observed output)."""
    got = grammargen.parse(f"<|tool_call>call:get_time{{}}<turn|>", "gemma4").tool_calls
    assert [c["function"]["name"] for c in got] == ["get_time"]


def test_pattern_and_format_strings_are_enforced():
    """A raw string with a pattern or a known format is held to it between the delimiters."""
    tools = [_tool("f", {"day": {"type": "string", "format": "date"}, "code": {"type": "string", "pattern": "^[A-Z]{2}$"}})]
    text = grammargen.render([{"name": "f", "arguments": {"day": "2026-11-29", "code": "FR"}}], "gemma4", tools=tools)
    report = grammargen.validate(grammargen.compile(tools, "gemma4", tool_choice="required"),
                                 [text, text.replace("FR", "fr"), text.replace("2026-11-29", "tomorrow")])
    assert [r.got for r in report.results] == ["accepted", "rejected", "rejected"]


def test_unknown_format_is_refused():
    """A string format without a regex here is refused, naming the ones known."""
    with pytest.raises(UnsupportedSchemaError, match="known: date"):
        grammargen.compile([_tool("f", {"m": {"type": "string", "format": "hostname"}})], "gemma4")


def test_odd_tool_names_round_trip():
    """A name with quotes, colons or brackets (not '{') is written exactly and read back."""
    name = "a\"b'c:d]<x>"
    tools = [_tool(name, {"x": {"type": "integer"}}, ["x"])]
    text = grammargen.render([{"name": name, "arguments": {"x": 1}}], "gemma4", tools=tools)
    assert grammargen.validate(grammargen.compile(tools, "gemma4", tool_choice="required"), [text]).ok
    assert grammargen.parse(text, "gemma4", tools=tools).tool_calls[0]["function"]["name"] == name


def test_nested_object_streams_split_anywhere():
    """A nested object cut right after its '{' (or inside a key) waits for more in a stream."""
    text = _call(f"city:{Q}P{Q},opts:{{lang:{Q}fr{Q},Zone:{Q}z{Q}}}")
    for cut in range(len(text)):
        stream = StreamParser("gemma4")
        joined = Message.from_deltas(stream.feed(text[:cut]) + stream.feed(text[cut:]) + stream.close())
        assert json.loads(joined.tool_calls[0]["function"]["arguments"])["opts"] == {"lang": "fr", "Zone": "z"}


# -- the <|"|> delimiter is a special token ---------------------------------------------------------

def test_the_string_delimiter_is_a_special_token_reference():
    """``<|"|>`` is listed special but no layout piece uses it: the grammar still names the token,
    so the delimiter spelled out as text is rejected and the token itself accepted."""
    import llguidance

    from grammargen.tokenizer import _bytes_to_unicode, builtin_for, marker_forms

    profile = grammargen.get_profile("gemma4")
    assert marker_forms(profile)[Q].kind == "special"
    grammar = grammargen.compile(TOOLS, "gemma4", tool_choice="required")
    assert grammar.markers[Q] == "special" and '"<|\\"|>"' not in grammar.lark
    tok = builtin_for(profile)
    b2u = _bytes_to_unicode()

    def ids(text_parts: list[tuple[str, bool]]) -> list[int]:
        out: list[int] = []
        for text, special in text_parts:
            out += [tok.hf.token_to_id(text)] if special else [tok.hf.token_to_id(b2u[b]) for b in text.encode()]
        return out

    def taken(parts: list[tuple[str, bool]]) -> bool:
        matcher = llguidance.LLMatcher(tok.ll, grammar.lark, log_level=0)
        return all(matcher.consume_token(t) for t in ids(parts)) and matcher.is_accepting()

    head = [("<|tool_call>", True), ("call:get_weather{city:", False)]
    tail = [("}", False), ("<tool_call|>", True)]
    assert taken(head + [(Q, True), ("Paris", False), (Q, True)] + tail)
    assert not taken(head + [(Q, False), ("Paris", False), (Q, False)] + tail)


def test_a_model_folder_without_the_delimiter_token_gets_text():
    """A tokenizer that lacks ``<|"|>`` (compile's ``tokenizer=``) makes the delimiter text, as it reads."""
    from grammargen.tokenizer import builtin, marker_forms

    forms = marker_forms(grammargen.get_profile("gemma4"), builtin(("<|tool_call>", "<tool_call|>")))
    assert forms[Q].kind == "text" and forms["<|tool_call>"].kind == "special"
