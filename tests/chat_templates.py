"""Render the corpus chat templates the Hugging Face way and cut out the assistant turn.

The real chat templates in ../shared/corpus/chat-templates/ are what each model was trained
on, so the assistant turn they render for a tool-calling conversation is the text a profile
must reproduce, accept and parse.  This module rebuilds the corpus conversation (FORMATS.md),
renders it as transformers' ``apply_chat_template`` does (jinja2 sandbox, ``trim_blocks`` and
``lstrip_blocks``, loop controls, ``tojson`` keeping non-ASCII, ``raise_exception``,
``strftime_now`` pinned to the corpus date, the ``{% generation %}`` block) and cuts out the
turn: what the conversation has after the text it shares with the generation prompt.

``rendered/summary.json`` records, per template, the message shape that renders both calls and
the turn the corpus rendered; :func:`turn` must reproduce that byte for byte before anything
is compared with grammargen, which proves this renderer.  ../shared is absent in CI:
:func:`corpus` returns None there and the callers skip.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = Path(__file__).resolve().parent.parent
# GRAMMARGEN_CHAT_TEMPLATES points at another copy of the corpus (a missing path shows the CI skips).
CORPUS = Path(os.environ.get("GRAMMARGEN_CHAT_TEMPLATES",
                             ROOT.parent / "shared" / "corpus" / "chat-templates"))
# The corpus pinned the templates' clock to this date (rendered/*.txt headers say so).
CORPUS_DATE = datetime(2024, 7, 26, 12, 0, 0)

SYSTEM = "You are a helpful assistant."
USER = "What is the weather like in the French capital, and what time is it there?"
TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Get the current weather for a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "City name"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "get_time", "description": "Get the local time in a time zone.",
        "parameters": {"type": "object", "properties": {
            "tz": {"type": "string", "description": "IANA time zone name"}},
            "required": ["tz"]}}},
]
# The two calls of the corpus conversation, in OpenAI tool_calls shape (ids as the corpus gave them).
CALLS = [
    {"id": "CALL00001", "type": "function",
     "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}},
    {"id": "CALL00002", "type": "function",
     "function": {"name": "get_time", "arguments": {"tz": "Europe/Paris"}}},
]
# The corpus's typed-values probe: one get_weather call with a value of every JSON type, which
# shows how a template spells numbers, booleans, arrays, objects and null (rendered with TOOLS).
PROBE = {"city": "Paris", "days": 3, "metric": True, "hours": [9, 12], "opts": {"lang": "fr"}, "note": None}
PROBE_CALLS = [{"id": "CALL00001", "type": "function", "function": {"name": "get_weather", "arguments": PROBE}}]
# The same tools with a schema that admits the probe, keys in the probe's order (for grammargen).
PROBE_TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Get the current weather for a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string"}, "days": {"type": "integer"}, "metric": {"type": "boolean"},
            "hours": {"type": "array", "items": {"type": "integer"}},
            "opts": {"type": "object", "properties": {"lang": {"type": "string"}}},
            "note": {"type": "null"}},
            "required": ["city"]}}},
    TOOLS[1],
]
RESULTS = [
    {"role": "tool", "tool_call_id": "CALL00001", "name": "get_weather",
     "content": '{"temperature": 18, "condition": "sunny"}'},
    {"role": "tool", "tool_call_id": "CALL00002", "name": "get_time", "content": '{"time": "14:05"}'},
]


def corpus() -> Path | None:
    """The chat-template corpus folder, or None where ../shared is absent (CI)."""
    return CORPUS if (CORPUS / "rendered" / "summary.json").is_file() else None


@cache
def summary() -> dict[str, dict[str, Any]]:
    """``rendered/summary.json`` by template file name (top-level templates only, not variants/)."""
    assert corpus() is not None
    rows = json.loads((CORPUS / "rendered" / "summary.json").read_text(encoding="utf-8"))
    present = {p.name for p in CORPUS.glob("*.jinja")}
    return {row["file"]: row for row in rows if row["file"] in present}


def template_files() -> list[str]:
    """Every top-level ``*.jinja`` of the corpus, sorted (empty where the corpus is absent)."""
    return sorted(p.name for p in CORPUS.glob("*.jinja")) if corpus() else []


# -- the Hugging Face rendering environment ---------------------------------------------------

class TemplateError(Exception):
    """What ``raise_exception`` raises in a template (transformers raises jinja2's TemplateError)."""


def _raise(message: str) -> None:
    raise TemplateError(message)


def _tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None,
            separators: tuple[str, str] | None = None, sort_keys: bool = False) -> str:
    # transformers' own filter: jinja2's escapes HTML characters and ASCII-encodes
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


class _Generation(jinja2.ext.Extension):
    """``{% generation %}...{% endgeneration %}``: transformers marks the assistant's text; it renders as is."""

    tags = {"generation"}

    def parse(self, parser: Any) -> jinja2.nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.Scope(body, lineno=lineno)


@cache
def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[_Generation, jinja2.ext.loopcontrols])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = CORPUS_DATE.strftime
    return env


@cache
def _template(file: str) -> jinja2.Template:
    return _environment().from_string((CORPUS / file).read_text(encoding="utf-8"))


# -- the corpus conversation --------------------------------------------------------------------

@dataclass(frozen=True)
class Shape:
    """How a template is given the conversation: what summary.json records as the shape that renders."""

    args_as: str  # "dict" | "json-string"
    content: str  # "None" | "empty" | "absent"
    tools_shape: str  # "openai" | "bare-functions"
    n_calls: int  # 2, or 1 where the template refuses two calls (Llama 3.x, gpt-oss)

    @classmethod
    def of(cls, row: dict[str, Any]) -> Shape:
        return cls(row["args_as"], row["content"], row["tools_shape"], row["n_calls"])


def calls(n: int = 2, *, probe: bool = False, ids: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """The conversation's first ``n`` calls, or the typed-values probe (OpenAI shape, arguments as dicts).

    ``ids``: the calls' ids instead of the corpus's (Kimi K2 Thinking's template writes them
    verbatim, and Moonshot's own have the form ``functions.NAME:INDEX``).
    """
    out = copy.deepcopy(PROBE_CALLS if probe else CALLS[:n])
    for call, given in zip(out, ids or ()):
        call["id"] = given
    return out


def messages(shape: Shape, *, assistant: bool = True, results: bool = False,
             probe: bool = False, reasoning: str | None = None,
             ids: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """System and user; then the assistant turn calling the tools (or the probe); then the tool results.

    ``reasoning``: the assistant turn's ``reasoning_content`` (templates that render it write a
    reasoning block before the calls).
    """
    out: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}]
    if not assistant:
        return out
    tool_calls = calls(shape.n_calls, probe=probe, ids=ids)
    if shape.args_as == "json-string":
        for call in tool_calls:
            call["function"]["arguments"] = json.dumps(call["function"]["arguments"], ensure_ascii=False)
    turn: dict[str, Any] = {"role": "assistant", "tool_calls": tool_calls}
    if shape.content != "absent":
        turn["content"] = None if shape.content == "None" else ""
    if reasoning is not None:
        turn["reasoning_content"] = reasoning
    out.append(turn)
    if results:
        out.extend(copy.deepcopy(RESULTS[:len(tool_calls)]))
    return out


def render_template(file: str, msgs: list[dict[str, Any]], shape: Shape, *,
                    add_generation_prompt: bool, **switches: Any) -> str:
    """One template rendered as ``apply_chat_template(..., tokenize=False)`` renders it."""
    row = summary()[file]
    tools = [t["function"] for t in TOOLS] if shape.tools_shape == "bare-functions" else TOOLS
    context: dict[str, Any] = {
        "messages": msgs, "tools": copy.deepcopy(tools), "add_generation_prompt": add_generation_prompt,
        "bos_token": row["bos_token"], "eos_token": row["eos_token"],
        # FireFunction v2 reads its tools from `functions` (a JSON string) and the date from `datetime`
        "functions": json.dumps([t["function"] for t in TOOLS], indent=4, ensure_ascii=False),
        "datetime": CORPUS_DATE.strftime("%b %d %Y %H:%M:%S GMT"),
    }
    context.update(switches)
    return _template(file).render(**context)


@dataclass(frozen=True)
class Turn:
    """The assistant turn cut out of a template's render, and what the generation prompt has there instead."""

    file: str
    text: str  # the model's own text, up to and including its end-of-turn text (and any glue after it)
    prompt_tail: str  # the generation prompt's text after the shared prefix (e.g. an opened "<think>\n")
    shape: Shape
    calls: tuple[dict[str, Any], ...]  # the calls the turn renders (OpenAI shape, arguments as dicts)


def _shared(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


# Where the shared text may end: after a newline or a marker's closing character.  Two texts
# that merely start alike ("<t" of "<think>" and "<tool_call>", gpt-oss's "assistant" before
# " to=functions...") share no marker, so that partial text belongs to the turn.
BOUNDARY = ("\n", ">", "]")


@cache
def turn(file: str, probe: bool = False, reasoning: str | None = None,
         ids: tuple[str, ...] | None = None, **switches: Any) -> Turn:
    """The assistant turn of ``file``: the conversation's text after what it shares with the generation prompt.

    ``probe``: the turn calls get_weather once with :data:`PROBE` instead of the two calls;
    ``reasoning``: the turn carries that ``reasoning_content``; ``ids``: the calls' ids.

    Both renders are read from the end of the user's message (templates such as Mistral's put
    the system message inside the last user message only when no reply follows, so the texts
    before it differ); the shared text then ends at the last :data:`BOUNDARY`.
    """
    shape = Shape.of(summary()[file])
    conversation = render_template(file, messages(shape, probe=probe, reasoning=reasoning, ids=ids), shape,
                                   add_generation_prompt=False, **switches)
    prompt = render_template(file, messages(shape, assistant=False), shape, add_generation_prompt=True,
                             **switches)
    conversation = conversation[conversation.rindex(USER) + len(USER):]
    prompt = prompt[prompt.rindex(USER) + len(USER):]
    n = _shared(conversation, prompt)
    while n and not conversation[:n].endswith(BOUNDARY):
        n -= 1
    return Turn(file, conversation[n:], prompt[n:], shape, tuple(calls(shape.n_calls, probe=probe, ids=ids)))


def probe_turn(row: dict[str, Any]) -> str | None:
    """summary.json's rendering of the typed-values probe (the turn, as :func:`turn` cuts it), if recorded."""
    for key, text in (row.get("extra_cases") or {}).items():
        if key.startswith("typed-values probe"):
            return text
    return None


def first_difference(expected: str, got: str, context: int = 40) -> str:
    """Where two strings first differ, both shown around that character (for assertion messages)."""
    if expected == got:
        return "equal"
    n = _shared(expected, got)
    lo = max(0, n - context)
    return (f"first difference at character {n} (expected {len(expected)} chars, got {len(got)}):\n"
            f"  expected: {expected[lo:n + context]!r}\n"
            f"  got:      {got[lo:n + context]!r}\n"
            f"            {' ' * len(repr(expected[lo:n])[:-1])}^")


def corpus_renders(file: str) -> dict[str, str]:
    """The whole renders ``rendered/<template>.txt`` holds: G1 (generation prompt), A (conversation
    to the assistant turn), B (with the tool results), D (B with a generation prompt).

    Each block is ``===== <letter> <what> ===...`` on its own line, the render, a newline and
    ``===== end``.
    """
    text = (CORPUS / "rendered" / f"{file.removesuffix('.jinja')}.txt").read_text(encoding="utf-8")
    blocks: dict[str, str] = {}
    for part in text.split("\n===== ")[1:]:
        header, _, body = part.partition("\n")
        key = header.split(" ", 1)[0]
        if key in ("G1", "A", "B", "D"):
            blocks.setdefault(key, body)
    return blocks


def whole_renders(file: str) -> dict[str, str]:
    """This module's renders of the same four conversations, for comparison with :func:`corpus_renders`."""
    shape = Shape.of(summary()[file])
    return {
        "G1": render_template(file, messages(shape, assistant=False), shape, add_generation_prompt=True),
        "A": render_template(file, messages(shape), shape, add_generation_prompt=False),
        "B": render_template(file, messages(shape, results=True), shape, add_generation_prompt=False),
        "D": render_template(file, messages(shape, results=True), shape, add_generation_prompt=True),
    }
