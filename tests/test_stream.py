"""StreamParser: OpenAI deltas as output arrives; joined, they are exactly what parse() returns."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grammargen import OutputParseError, formats, get_profile, render
from grammargen.parse import Message, StreamParser, parse

CALLS = [{"name": "get_weather", "arguments": {"location": "Zürich ☂", "note": "</tool_call>]"}},
         {"name": "now", "arguments": {}}]
MARKER_CHARS = set("<[|｜")  # what markers start with; the sample prose below has none


def samples() -> list:
    """For every format: its rendering of two calls, with prose and reasoning where it has them."""
    out = []
    for fmt in formats():
        profile = get_profile(fmt)
        content = "Let me look: ça va." if profile.content_before_calls else None
        reasoning = "User asks; think ✓." if profile.reasoning else None
        out.append(pytest.param(fmt, render(CALLS, fmt, content=content, reasoning=reasoning), id=fmt))
        out.append(pytest.param(fmt, "Plain answer, no calls.\n", id=f"{fmt}-text"))
    out.append(pytest.param("qwen25", '<tool_call>{"arguments": "{\\"a\\": [1, {}]}", "name": "now"}</tool_call>',
                            id="qwen25-string-arguments-reversed"))
    out.append(pytest.param("deepseekv3", "<｜tool▁calls▁begin｜>\n<｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n"
                                          '```json\n{"p": "v"}\n```\n<｜tool▁call▁end｜>\n<｜tool▁calls▁end｜>',
                            id="deepseekv3-lightllm-doc"))
    return out


SAMPLES = samples()


def without_ids(message: Message) -> dict:
    """The OpenAI message with the (random) call ids blanked."""
    out = message.to_openai()
    for call in out.get("tool_calls", ()):
        call["id"] = "-"
    return out


def stream(fmt: str, chunks: list) -> list[dict]:
    """All deltas of feeding ``chunks`` then closing."""
    parser = StreamParser(fmt)
    deltas = [d for chunk in chunks for d in parser.feed(chunk)]
    return deltas + parser.close()


def check_deltas(deltas: list[dict], fmt: str, text: str) -> None:
    """Joined deltas equal parse(); each call opens with one header; content holds no marker part."""
    assert without_ids(Message.from_deltas(deltas)) == without_ids(parse(text, fmt))
    opened: list[int] = []
    for delta in deltas:
        assert set(delta) in ({"content"}, {"reasoning_content"}, {"tool_calls"})
        assert all(v for v in delta.values())  # nothing empty is sent
        for key in ("content", "reasoning_content"):
            assert not MARKER_CHARS & set(delta.get(key, "")), delta
        for part in delta.get("tool_calls", ()):
            if "id" in part:
                assert part["index"] == len(opened) and part["type"] == "function"
                assert part["function"]["name"] and part["function"]["arguments"] == ""
                opened.append(part["index"])
            else:
                assert part["index"] == opened[-1] and set(part["function"]) == {"arguments"}


@pytest.mark.parametrize(("fmt", "text"), SAMPLES)
def test_split_at_every_byte(fmt: str, text: str) -> None:
    """Split anywhere in its UTF-8 bytes (inside markers and characters too), the stream joins to the parse."""
    data = text.encode()
    for i in range(len(data) + 1):
        check_deltas(stream(fmt, [data[:i], data[i:]]), fmt, text)


@pytest.mark.parametrize(("fmt", "text"), SAMPLES)
@settings(max_examples=30, deadline=None)
@given(cuts=st.lists(st.integers(0, 10_000), max_size=12))
def test_random_chunkings(fmt: str, text: str, cuts: list[int]) -> None:
    """Any chunking of the output into pieces gives the same joined message."""
    points = sorted({c % (len(text) + 1) for c in cuts})
    chunks = [text[a:b] for a, b in zip([0, *points], [*points, len(text)])]
    check_deltas(stream(fmt, chunks), fmt, text)


def test_content_arrives_before_the_output_ends() -> None:
    """Content is passed on as it comes, not held until the end."""
    parser = StreamParser("qwen25")
    assert parser.feed("Checking the") == [{"content": "Checking the"}]
    assert parser.feed(" weather") == [{"content": " weather"}]


def test_possible_marker_is_held_then_released() -> None:
    """A tail that could start a marker waits; once it is plain text, it is sent."""
    parser = StreamParser("qwen25")
    assert parser.feed("a <tool") == [{"content": "a"}]
    assert parser.feed("box> b") == [{"content": " <toolbox> b"}]
    assert parser.close() == []


def test_marker_prefix_never_leaks() -> None:
    """When the held tail turns out to be the call marker, no piece of it was sent as content."""
    parser = StreamParser("qwen25")
    deltas = parser.feed("Hi <tool_") + parser.feed('call>\n{"name": "now", "arguments": {}}\n</tool_call>')
    deltas += parser.close()
    assert [d["content"] for d in deltas if "content" in d] == ["Hi"]


def test_arguments_stream_in_pieces() -> None:
    """Fed a character at a time, the arguments arrive in many pieces after one header."""
    text = render([{"name": "get_weather", "arguments": {"location": "Paris", "days": 3}}], "phi4-mini")
    deltas = stream("phi4-mini", list(text))
    pieces = [d["tool_calls"][0]["function"]["arguments"] for d in deltas[1:]]
    assert deltas[0]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert len(pieces) > 10 and json.loads("".join(pieces)) == {"location": "Paris", "days": 3}


def test_header_waits_for_the_name() -> None:
    """Arguments written before the name are held, then sent right after the call's header."""
    parser = StreamParser("qwen25")
    first = parser.feed('<tool_call>{"arguments": {"x": 1}, ')
    rest = parser.feed('"name": "f"}</tool_call>') + parser.close()
    assert first == []
    assert rest[0]["tool_calls"][0]["function"]["name"] == "f"
    assert rest[1]["tool_calls"][0]["function"] == {"arguments": '{"x": 1}'}


def test_parallel_indices() -> None:
    """Each call of a parallel section gets the next index, in order."""
    text = render([{"name": n, "arguments": {}} for n in ("a", "b", "c")], "deepseekv31")
    deltas = stream("deepseekv31", [text])
    headers = [p for d in deltas for p in d["tool_calls"] if "id" in p]
    assert [(h["index"], h["function"]["name"]) for h in headers] == [(0, "a"), (1, "b"), (2, "c")]


def test_truncated_stream_raises_on_close() -> None:
    """Output cut inside a call is an error when the stream closes, at the end offset."""
    text = '<tool_call>\n{"name": "now", "arguments": {"a": '
    parser = StreamParser("qwen25")
    parser.feed(text)
    with pytest.raises(OutputParseError, match="ends inside the arguments") as caught:
        parser.close()
    assert caught.value.offset == len(text)


def test_strict_stream_stops_at_the_fault() -> None:
    """A fault raises from feed() as soon as it is seen, and again on any later call."""
    parser = StreamParser("qwen25", [{"name": "now", "parameters": {"type": "object"}}])
    with pytest.raises(OutputParseError, match="unknown tool 'fly'"):
        parser.feed('<tool_call>{"name": "fly", ')
    with pytest.raises(OutputParseError):
        parser.feed("more")


def test_lenient_stream_sends_the_rest_as_content() -> None:
    """In lenient mode the text from the fault on follows as content and closing succeeds."""
    parser = StreamParser("qwen25", lenient=True)
    deltas = parser.feed('Hi <tool_call>{"name": "f", "arguments": {"a": 1}}</tool_call> bye') + parser.close()
    message = Message.from_deltas(deltas)
    assert message.content == "Hi bye"
    assert [c["function"]["name"] for c in message.tool_calls] == ["f"]


BROKEN = [
    pytest.param("qwen25", '<tool_call>\n{"name": "now", "arguments": {"a": tru}}\n</tool_call>', id="invalid-json"),
    pytest.param("phi4-mini", '<|tool_call|>[{"name": "now", "arguments": {}}] and more', id="missing-end-marker"),
    pytest.param("deepseekv31", "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>now<｜tool▁sep｜>{}<｜tool▁call", id="unclosed"),
    pytest.param("qwen25", "<think>never ends", id="unclosed-reasoning"),
]


@pytest.mark.parametrize(("fmt", "text"), BROKEN)
def test_stream_fails_where_parse_fails(fmt: str, text: str) -> None:
    """Fed a character at a time, broken output raises the same error, at the same offset, as parse().

    The stream raises as soon as the fault shows, so the excerpt after "found" may be shorter.
    """
    with pytest.raises(OutputParseError) as whole:
        parse(text, fmt)
    with pytest.raises(OutputParseError) as streamed:
        stream(fmt, list(text))
    assert streamed.value.offset == whole.value.offset
    assert str(streamed.value).split(", found")[0] == str(whole.value).split(", found")[0]
