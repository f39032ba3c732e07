"""grammargen.vllm's request and output logic, without vLLM (duck-typed request objects)."""

from __future__ import annotations

import importlib.util
import warnings
from types import SimpleNamespace

import pytest

import grammargen
from grammargen import Message, StreamParser, get_profile, render

with warnings.catch_warnings():  # where vLLM is installed, importing it warns (torch, pkg_resources)
    warnings.simplefilter("ignore")
    from grammargen.vllm import (
        ReasoningSplit,
        compile_request,
        marker_ids,
        merge_deltas,
        plugin_names,
        request_tool_choice,
        request_tools,
        split_reasoning,
    )

QWEN = get_profile("qwen25")
TOOLS = [
    {"type": "function", "function": {"name": "add", "description": "Add two numbers",
                                      "parameters": {"type": "object", "properties": {
                                          "x": {"type": "integer"}, "y": {"type": "integer"}},
                                          "required": ["x", "y"]}}},
    {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}},
]


def as_vllm(tool: dict) -> SimpleNamespace:
    """A tool as vLLM hands it over: an object with ``.function.name`` etc., unset fields None."""
    f = tool["function"]
    return SimpleNamespace(type="function", function=SimpleNamespace(
        name=f["name"], description=f.get("description"), parameters=f.get("parameters"), strict=None))


def test_request_tools_from_vllm_objects() -> None:
    """vLLM's tool objects become the OpenAI dicts they came from (unset fields left out)."""
    assert request_tools([as_vllm(t) for t in TOOLS]) == TOOLS
    assert request_tools(TOOLS) == TOOLS
    flat = SimpleNamespace(name="ping", description=None, parameters=None, strict=True)  # Responses API
    assert request_tools([flat]) == [{"type": "function", "function": {"name": "ping", "strict": True}}]


@pytest.mark.parametrize("given, expected", [
    (None, "auto"),
    ("required", "required"),
    (SimpleNamespace(type="function", function=SimpleNamespace(name="add")),
     {"type": "function", "function": {"name": "add"}}),
    (SimpleNamespace(type="function", name="add"), {"type": "function", "function": {"name": "add"}}),
], ids=["unset", "string", "named-chat", "named-responses"])
def test_request_tool_choice(given: object, expected: object) -> None:
    """Every way vLLM carries tool_choice reaches grammargen as a choice it understands."""
    assert request_tool_choice(given) == expected


def test_compile_request_is_the_grammar_of_those_options_and_cached() -> None:
    """A request compiles to what grammargen.compile gives for its options, and a repeat is free."""
    named = SimpleNamespace(type="function", function=SimpleNamespace(name="add"))
    tools = [as_vllm(t) for t in TOOLS]
    grammar = compile_request(tools, named, False, "qwen25")
    expected = grammargen.compile(TOOLS, "qwen25", tool_choice={"type": "function", "function": {"name": "add"}},
                                  parallel_tool_calls=False)
    assert grammar.lark == expected.lark
    assert compile_request([as_vllm(t) for t in TOOLS], named, False, "qwen25") is grammar
    unset = compile_request(tools, None, None, "qwen25")  # vLLM's defaults: auto, parallel
    assert unset.options["tool_choice"] == "auto" and unset.options["parallel_tool_calls"] is True


@pytest.mark.parametrize("reasoning", [True, "opened"])
def test_compile_request_with_reasoning_accepts_what_the_split_reads(reasoning: object) -> None:
    """The grammar the reasoning parser asks for accepts a reasoning block the split takes apart."""
    grammar = compile_request(TOOLS, "required", True, "qwen25", reasoning=reasoning)
    call = render([{"name": "add", "arguments": {"x": 1, "y": 2}}], "qwen25")
    text = ("" if reasoning == "opened" else "<think>") + "\nplan\n</think>\n\n" + call
    assert grammargen.validate(grammar, [text]).ok
    assert split_reasoning(text, QWEN, opened=reasoning == "opened") == ("plan", "\n\n" + call)


def test_compile_request_errors_are_grammargen_errors() -> None:
    """A refused schema raises grammargen's error (the plugin turns it into HTTP 400)."""
    bad = [{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"t": {"type": "array", "uniqueItems": True}}}}}]
    with pytest.raises(grammargen.UnsupportedSchemaError, match="uniqueItems"):
        compile_request(bad, "required", True, "qwen25")


@pytest.mark.parametrize("fmt", ["qwen25", "phi4-mini", "mistral", "deepseekv3"])
def test_merged_stream_deltas_join_to_the_parse(fmt: str) -> None:
    """Deltas merged per chunk (as the plugin sends them) still join to what parse() reads."""
    calls = [{"name": "add", "arguments": {"x": 1, "y": 2}}, {"name": "now", "arguments": {}}]
    text = render(calls, fmt)
    stream = StreamParser(fmt)
    merged = [merge_deltas(stream.feed(text[i:i + 3])) for i in range(0, len(text), 3)]
    merged.append(merge_deltas(stream.close()))
    sent = [d for d in merged if d is not None]
    for delta in sent:
        indices = [c["index"] for c in delta.get("tool_calls", ())]
        assert indices == sorted(set(indices))  # one entry per call in a delta
    whole = grammargen.parse(text, fmt)
    joined = Message.from_deltas(sent)
    assert joined.content == whole.content
    assert [c["function"] for c in joined.tool_calls] == [c["function"] for c in whole.tool_calls]
    assert all(c["id"] for c in joined.tool_calls)  # random per call unless the model writes it


def test_merge_deltas_nothing_is_none() -> None:
    """No deltas, no message: vLLM then sends nothing for this step."""
    assert merge_deltas([]) is None
    assert merge_deltas([{"content": ""}]) is None


@pytest.mark.parametrize("text, opened, expected", [
    ("<think>\nplan\n</think>\n\nHi", False, ("plan", "\n\nHi")),
    ("Hi <think>x</think>", False, (None, "Hi <think>x</think>")),
    ("<thin", False, (None, "<thin")),
    ("plan</think>done", True, ("plan", "done")),
    ("\nstill thinking", True, ("still thinking", None)),
    ("<tool_call>\n{}", False, (None, "<tool_call>\n{}")),
], ids=["block", "no-block", "cut-marker", "opened", "opened-unclosed", "calls-first"])
def test_reasoning_split(text: str, opened: bool, expected: tuple) -> None:
    """The block is reasoning (its padding dropped); text not starting with it is all content."""
    assert split_reasoning(text, QWEN, opened) == expected


@pytest.mark.parametrize("text, opened", [
    ("<think>\nlet me see </thin> no\n</think>\n\nanswer", False),
    ("reason</think>\n\n<tool_call>\n{}\n</tool_call>", True),
    ("plain answer", False),
])
def test_reasoning_split_streamed_equals_whole(text: str, opened: bool) -> None:
    """Fed one character at a time, the split gives what the whole text gives."""
    split = ReasoningSplit.of(QWEN, opened)
    reasoning, content = [], []
    for ch in text:
        r, c = split.feed(ch)
        reasoning.append(r)
        content.append(c)
    r, c = split.feed("", final=True)
    reasoning.append(r)
    content.append(c)
    assert ("".join(reasoning) or None, "".join(content) or None) == split_reasoning(text, QWEN, opened)
    assert split.ended


def test_marker_ids_looked_up_once_per_tokenizer() -> None:
    """The reasoning markers' ids come from the tokenizer's vocabulary, read once per tokenizer."""
    class Tok:
        calls = 0

        def get_vocab(self) -> dict:
            Tok.calls += 1
            return {"<think>": 7, "</think>": 8}

    tok = Tok()
    assert marker_ids(tok, QWEN) == (7, 8)
    assert marker_ids(tok, QWEN) == (7, 8)
    assert Tok.calls == 1
    assert marker_ids(None, QWEN) == (None, None)


def test_plugin_names_cover_aliases() -> None:
    """Each format registers as grammargen-<name> and as grammargen-<alias>."""
    assert plugin_names(QWEN)[0] == "grammargen-qwen25"
    assert plugin_names(QWEN)[1:] == [f"grammargen-{a}" for a in QWEN.aliases]


def test_module_imports_without_vllm() -> None:
    """Without vLLM the helpers import and nothing is registered (no ImportError at import)."""
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed here: the registration is covered by tests/engines")
    import grammargen.vllm as plugin

    assert plugin.REGISTERED == {}
