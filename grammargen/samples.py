"""Generated samples: model outputs a grammar must accept, and near misses it must reject.

Accept cases are valid calls built from each tool's schema (the schema the grammar
enforces, after :func:`grammargen.schema.prepare`): every property present, only the
required ones, each enum value, every branch of a union -- rendered exactly as the
format writes them.  Every generated argument object is checked with ``jsonschema``
first, so a sample is never "valid" by our say-so alone.  Reject cases change one thing
each: an unknown tool, a missing required argument, an extra key, a wrong type, an enum
violation, broken JSON, a missing end marker, and the mistakes the options forbid.
Generation is deterministic: the same tools, format, options and ``seed`` give the same list.
"""

from __future__ import annotations

import copy
import random
import re
from typing import Any, Iterator, Sequence

import jsonschema

from .compiler import _tool_choice as tool_choice_mode  # one reading of tool_choice
from .encodings import get_encoding
from .errors import GrammarGenError, InputError, OptionsError
from .lark import json_text
from .profiles import Profile, get_profile
from .parse import parse
from .render import ordered, render
from .schema import prepare, resolve_ref
from .tokenizer import load_tokenizer, marker_forms
from .tools import Tool, load_tools
from .validate import Sample

UNKNOWN_TOOL = "no_such_tool"
EXTRA_KEY = "unexpected_key"
TEXT_REPLY = "The forecast for Paris is sunny, 21 °C."
# Strings that exercise JSON escaping and non-ASCII text inside arguments.
STRINGS = ("Paris", "San Francisco", "café ☕", 'say "hi"', "two\nlines", "C:\\temp\\x", "東京")
FORMATS = {
    "date": "2024-05-01", "date-time": "2024-05-01T12:30:00Z", "time": "12:30:00Z",
    "email": "user@example.com", "uri": "https://example.com/a", "hostname": "example.com",
    "uuid": "123e4567-e89b-12d3-a456-426614174000", "ipv4": "192.0.2.1", "ipv6": "2001:db8::1",
}
MAX_DEPTH = 6  # recursive schemas ($ref cycles) stop growing here
ENUM_VALUES_PER_PROPERTY = 4
COMPILE_OPTIONS = {"tool_choice", "parallel_tool_calls", "reasoning", "tokenizer", "lenient",
                   "close_objects", "max_calls", "check"}


class _CannotGenerate(Exception):
    """No value satisfying the schema could be built (e.g. a ``pattern`` we cannot invert)."""


def samples(tools: Any, format: str | Profile = "phi4-mini", *, seed: int = 0,
            **options: Any) -> list[Sample]:
    """Accept and reject samples for ``tools`` in ``format``, under compile ``options``.

    ``options`` are those of :func:`grammargen.compile` (``tool_choice``,
    ``parallel_tool_calls``, ``reasoning``, ``lenient``, ``close_objects``, ``max_calls``;
    ``tokenizer`` and ``check`` change nothing here), so the samples match the grammar
    compiled with the same options.
    """
    unknown = set(options) - COMPILE_OPTIONS
    if unknown:
        raise OptionsError(f"unknown option(s): {', '.join(sorted(unknown))}")
    tool_list = load_tools(tools)
    return _Generator(tool_list, get_profile(format), random.Random(seed), **options).run()


class _Generator:
    def __init__(self, tools: list[Tool], profile: Profile, rng: random.Random, *,
                 tool_choice: Any = "auto", parallel_tool_calls: bool = True,
                 reasoning: bool | str = False, lenient: bool = False, close_objects: bool = True,
                 max_calls: int | None = None, tokenizer: Any = None, **_: Any) -> None:
        self.tools = tools
        self.profile = profile
        self.rng = rng
        self.mode, self.allowed = tool_choice_mode(tool_choice, tools)
        self.parallel = parallel_tool_calls and max_calls != 1
        self.reasoning = reasoning
        tok = load_tokenizer(tokenizer, profile) if tokenizer is not None else None
        self.forms = marker_forms(profile, tok)
        self.schemas = {t.name: prepare(t.parameters, t.name, lenient=lenient,
                                        close_objects=close_objects).schema for t in tools}
        kinds = {p.kind: p.value for p in profile.call}
        self.encoding = get_encoding(kinds.get("arguments", "json"))

    def run(self) -> list[Sample]:
        out: list[Sample] = []
        calls = {t.name: list(self._valid_arguments(t)) for t in self.tools}
        first = next(((t, calls[t.name][0]) for t in self.allowed if calls.get(t.name)), None)
        if self.mode == "none":
            out.append(self._sample(TEXT_REPLY, "accept", "plain text"))
            if first:
                out.append(self._calls([first], "reject", "a call when tool_choice is none"))
            return out
        for tool in self.allowed:
            for arguments, note in calls[tool.name]:
                out.append(self._calls([(tool, (arguments, note))], "accept", f"{tool.name}: {note}"))
            out += self._tool_rejects(tool, calls[tool.name])
        if self.mode == "auto":
            out.append(self._sample(TEXT_REPLY, "accept", "plain text"))
        else:
            out.append(self._sample(TEXT_REPLY, "reject", "text when a call is required"))
        excluded = [t for t in self.tools if t not in self.allowed and calls[t.name]]
        if excluded:
            call = (excluded[0], calls[excluded[0].name][0])
            out.append(self._calls([call], "reject", "a call of a tool tool_choice excludes"))
        if first:
            out += self._format_samples(first, [(t, calls[t.name]) for t in self.allowed])
        return out

    # -- accept cases --------------------------------------------------------------------
    def _valid_arguments(self, tool: Tool) -> Iterator[tuple[dict[str, Any], str]]:
        """Distinct valid argument objects for ``tool``, each with what it covers."""
        schema = self.schemas[tool.name]
        seen: set[str] = set()
        makers = [("all properties", lambda: _Values(schema, self.rng).make(schema, full=True)),
                  ("required properties only", lambda: _Values(schema, self.rng).make(schema, full=False))]
        for path, values in _enums(schema, schema):
            for value in values[:ENUM_VALUES_PER_PROPERTY]:
                makers.append((f"{'.'.join(path)} = {json_text(value)}",
                               lambda p=path, v=value: _with(_Values(schema, self.rng).make(schema, True), p, v)))
        for note, make in makers:
            try:
                arguments = make()
            except _CannotGenerate:
                continue
            key = json_text(arguments)
            if isinstance(arguments, dict) and key not in seen and _valid(arguments, schema):
                seen.add(key)
                yield arguments, note

    def _format_samples(self, first: tuple[Tool, tuple[dict[str, Any], str]],
                        calls: list[tuple[Tool, list[tuple[dict[str, Any], str]]]]) -> list[Sample]:
        """Samples about the call section itself, built on one valid call."""
        out: list[Sample] = []
        tool, (arguments, _) = first
        one = self._render([(tool, arguments)])
        pair = [first, next(((t, c[0]) for t, c in calls if c and t.name != tool.name), first)]
        if self.parallel:
            out.append(self._calls(pair, "accept", "two calls"))
        else:
            out.append(self._calls(pair, "reject", "two calls when parallel is off"))
        before = "Let me check that.\n"
        if self.mode == "auto" and self.profile.content_before_calls:
            out.append(self._sample(before + one, "accept", "text before the calls"))
        elif self.mode == "required" and self.profile.content_before_calls:
            out.append(self._sample(before + one, "reject", "text before the calls when a call is required"))
        elif self.mode == "auto" and self._lead_is_token():
            # (where the calls start with plain text, such text is simply a text reply)
            out.append(self._sample(before + one, "reject",
                                    "text before the calls where the format forbids it"))
        out.append(self._sample(self._render([(UNKNOWN_TOOL, arguments)]), "reject", "unknown tool"))
        args_text = json_text(ordered(arguments, self.schemas[tool.name]))
        broken = args_text[:-1] + ",}"  # a trailing comma: {"x": 1,} or {,}
        if args_text in one:
            out.append(self._sample(one.replace(args_text, broken, 1), "reject", "broken JSON"))
        end = _end_marker(self.profile)
        if end and one.endswith(end):
            out.append(self._sample(one[:-len(end)], "reject", "missing end marker"))
        for after in self.profile.after_calls:
            out.append(self._sample(one + after, "accept", "what models write after their last call"))
            out.append(self._sample(one + after + TEXT_REPLY, "reject", "text after the calls"))
        if self.reasoning == "required":
            out.append(Sample(one, "reject", "no reasoning block when it is required"))
        elif self.reasoning == "opened":
            out.append(Sample(one, "reject", "the reasoning block the prompt opened is never closed"))
        elif self.reasoning is True and self.profile.reasoning:
            r = self.profile.reasoning
            out.append(Sample(f"{r.begin}The user wants this.{r.end}{r.gap}{one}", "accept",
                              "a reasoning block first"))
        return out

    def _lead_is_token(self) -> bool:
        first = (self.profile.begin or self.profile.call)[0]
        return first.kind == "marker" and self.forms[first.value].kind != "text"

    # -- reject cases ---------------------------------------------------------------------
    def _tool_rejects(self, tool: Tool, valid: list[tuple[dict[str, Any], str]]) -> list[Sample]:
        if not valid:
            return []
        schema = self.schemas[tool.name]
        base = valid[0][0]
        out = []
        for note, arguments in _mutations(base, schema):
            if _valid(arguments, schema):
                continue
            try:
                sample = self._calls([(tool, (arguments, note))], "reject", f"{tool.name}: {note}")
            except InputError:
                continue  # a value this encoding cannot write at all
            if self.encoding.name != "json" and self._reads_as_valid(sample.text):
                continue  # raw values: "1" for an integer is 1 (the wrong type is not in the text)
            out.append(sample)
        out += self._closing_tag_samples(tool, valid)
        return out

    def _reads_as_valid(self, text: str) -> bool:
        try:
            parse(text, self.profile, tools=self.tools,
                  reasoning="opened" if self.reasoning == "opened" else None)
        except GrammarGenError:
            return False
        return True

    def _closing_tag_samples(self, tool: Tool, valid: list[tuple[dict[str, Any], str]]) -> list[Sample]:
        """Raw-value encodings: a string value holding its own closing tag (the grammar refuses it)."""
        variant = getattr(self.encoding, "variant", None)
        tag = getattr(variant, "tag", "")
        if not tag:
            return []
        for arguments, _ in valid:
            for key, value in arguments.items():
                if isinstance(value, str) and value:
                    text = self._calls([(tool, (arguments, ""))], "reject", "").text
                    opened = variant.open_text(key) + value  # type: ignore[union-attr]
                    if opened in text:
                        bad = text.replace(opened, opened + tag + " more", 1)
                        return [self._sample(bad, "reject", f"{tool.name}: {key} holds its closing tag")]
        return []

    # -- text ------------------------------------------------------------------------------
    def _render(self, calls: Sequence[tuple[Tool | str, dict[str, Any]]]) -> str:
        plain = [{"name": t if isinstance(t, str) else t.name, "arguments": a} for t, a in calls]
        # a call of a tool not in the list (a near miss) is written without schemas: render
        # refuses unknown names when given the tools
        known = all(call["name"] in self.schemas for call in plain)
        return render(plain, self.profile, tools=self.tools if known else None)

    def _calls(self, calls: Sequence[tuple[Tool, tuple[dict[str, Any], str]]], expect: str,
               note: str) -> Sample:
        return self._sample(self._render([(t, a) for t, (a, _) in calls]), expect, note)

    def _sample(self, text: str, expect: str, note: str) -> Sample:
        """A sample with the reasoning block the options ask for put in front."""
        r = self.profile.reasoning
        if self.reasoning == "required" and r:
            text = f"{r.begin}The user wants this.{r.end}{r.gap}{text}"
        elif self.reasoning == "opened" and r:  # the prompt wrote the begin marker
            text = f"The user wants this.{r.end}{r.gap}{text}"
        return Sample(text, expect, note)  # type: ignore[arg-type]


def _end_marker(profile: Profile) -> str | None:
    """The marker that closes the call section, if the format has one."""
    last = (profile.end or profile.call)[-1:]
    return last[0].value if last and last[0].kind == "marker" else None


def _valid(value: Any, schema: dict[str, Any]) -> bool:
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    return jsonschema.Draft202012Validator(schema, format_checker=checker).is_valid(value)


def _with(arguments: Any, path: Sequence[str], value: Any) -> Any:
    """``arguments`` with the property at ``path`` set to ``value`` (parents created)."""
    out = copy.deepcopy(arguments)
    node = out
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(node, dict) else None
    if not isinstance(node, dict):
        raise _CannotGenerate(f"no object at {'.'.join(path[:-1])}")
    node[path[-1]] = value
    return out


def _enums(schema: Any, root: dict[str, Any], path: tuple[str, ...] = ()
           ) -> Iterator[tuple[tuple[str, ...], list[Any]]]:
    """(property path, enum values) for every enum property reachable through objects."""
    schema = _resolve(schema, root)
    if not isinstance(schema, dict):
        return
    for key, sub in (schema.get("properties") or {}).items():
        sub = _resolve(sub, root)
        if isinstance(sub, dict) and isinstance(sub.get("enum"), list):
            yield (*path, key), sub["enum"]
        elif len(path) < MAX_DEPTH:
            yield from _enums(sub, root, (*path, key))


def _mutations(base: dict[str, Any], schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Arguments that differ from ``base`` in one way each, with the name of the mistake."""
    required = [k for k in schema.get("required", []) if k in base]
    if required:
        yield f"missing required argument {required[0]!r}", {k: v for k, v in base.items() if k != required[0]}
    if schema.get("additionalProperties") is False:
        yield "extra key", {**base, EXTRA_KEY: "x"}
    wrong_type = next(((key, {**base, key: wrong}) for key in base
                       for wrong in (12345, "text", True, None, [1], {"k": 1})
                       if type(wrong) is not type(base[key]) and not _valid({**base, key: wrong}, schema)),
                      None)
    if wrong_type:
        yield f"wrong type for {wrong_type[0]!r}", wrong_type[1]
    for path, values in _enums(schema, schema):
        if path[0] in base and all(isinstance(v, str) for v in values):
            try:
                yield f"enum violation at {'.'.join(path)}", _with(base, path, "not_" + "_".join(values)[:40])
            except _CannotGenerate:
                continue
            break


def _resolve(schema: Any, root: dict[str, Any]) -> Any:
    """Follow local ``$ref``s (``#/$defs/x``, ``#/definitions/x``)."""
    for _ in range(MAX_DEPTH):
        if not (isinstance(schema, dict) and isinstance(schema.get("$ref"), str)):
            return schema
        try:
            node = resolve_ref(root, schema["$ref"])
        except LookupError as exc:
            raise _CannotGenerate(str(exc)) from exc
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**node, **rest} if isinstance(node, dict) else node
    raise _CannotGenerate("$ref chain too deep")


class _Values:
    """Builds one JSON value satisfying a schema (checked by jsonschema afterwards)."""

    def __init__(self, root: dict[str, Any], rng: random.Random) -> None:
        self.root = root
        self.rng = rng

    def make(self, schema: Any, full: bool, depth: int = 0) -> Any:
        schema = _resolve(schema, self.root)
        if schema is True or schema == {}:
            return self.rng.choice(STRINGS)
        if schema is False or not isinstance(schema, dict):
            raise _CannotGenerate("no value satisfies false")
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return self.rng.choice(schema["enum"])
        if isinstance(schema.get("allOf"), list):
            return self.make(_merge_all_of(schema, self.root), full, depth)
        if isinstance(schema.get("anyOf"), list):
            branches = schema["anyOf"]
            rest = {k: v for k, v in schema.items() if k != "anyOf"}
            for branch in self.rng.sample(branches, len(branches)):
                try:
                    value = self.make({**rest, **_resolve(branch, self.root)} if isinstance(
                        _resolve(branch, self.root), dict) else branch, full, depth)
                except _CannotGenerate:
                    continue
                if _valid(value, {**schema, "$defs": self.root.get("$defs", {}),
                                  "definitions": self.root.get("definitions", {})}):
                    return value
            raise _CannotGenerate("no anyOf branch could be generated")
        kind = _kind(schema)
        return getattr(self, f"_{kind}")(schema, full, depth)

    def _object(self, schema: dict[str, Any], full: bool, depth: int) -> dict[str, Any]:
        props = schema.get("properties") or {}
        required = set(schema.get("required") or ())
        out = {}
        for key, sub in props.items():
            if key in required or (full and depth < MAX_DEPTH):
                out[key] = self.make(sub, full, depth + 1)
        for key in required - set(props):
            extra = schema.get("additionalProperties", True)
            out[key] = self.make(extra if isinstance(extra, dict) else True, full, depth + 1)
        extra = schema.get("additionalProperties")
        if full and not props and isinstance(extra, dict) and depth < MAX_DEPTH:
            out["key"] = self.make(extra, full, depth + 1)
        return out

    def _array(self, schema: dict[str, Any], full: bool, depth: int) -> list[Any]:
        prefix = schema.get("prefixItems") or []
        items = schema.get("items", True)
        low = schema.get("minItems", 0)
        high = schema.get("maxItems", 10**6)
        count = max(low, len(prefix), 2 if full and depth < MAX_DEPTH else low)
        if items is False:
            count = len(prefix)
        count = min(count, high)
        return [self.make(prefix[i] if i < len(prefix) else items, full, depth + 1)
                for i in range(count)]

    def _string(self, schema: dict[str, Any], full: bool, depth: int) -> str:
        fmt = schema.get("format")
        if fmt in FORMATS:
            value = FORMATS[fmt]
        elif fmt is not None:
            raise _CannotGenerate(f"format {fmt!r}")
        else:
            value = self.rng.choice(STRINGS)
        if "pattern" in schema:
            value = next((c for c in (value, *STRINGS, "abc", "ABC", "123", "a1") if
                          _plainly_matches(schema["pattern"], c)), None)
            if value is None:
                raise _CannotGenerate("pattern")
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        if len(value) < low:
            value += "x" * (low - len(value))
        if high is not None:
            value = value[:high]
        return value

    def _integer(self, schema: dict[str, Any], full: bool, depth: int) -> int:
        return int(self._bounded(schema, integer=True))

    def _number(self, schema: dict[str, Any], full: bool, depth: int) -> float | int:
        return self._bounded(schema, integer=False)

    def _bounded(self, schema: dict[str, Any], integer: bool) -> float | int:
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        high = schema.get("maximum", schema.get("exclusiveMaximum", low + 100))
        step = schema.get("multipleOf")
        if step:
            value = (int(low // step) + 1) * step
            return int(value) if float(value).is_integer() else value  # models write 3, not 3.0
        value: float | int = self.rng.randint(int(low) + 1, max(int(low) + 1, int(high) - 1))
        if not integer:
            value = value + 0.5 if value + 0.5 < high else value
        return value

    def _boolean(self, schema: dict[str, Any], full: bool, depth: int) -> bool:
        return self.rng.choice((True, False))

    def _null(self, schema: dict[str, Any], full: bool, depth: int) -> None:
        return None


def _plainly_matches(pattern: str, text: str) -> bool:
    """``text`` matches ``pattern`` whole and with ASCII classes: what every regex engine agrees on.

    JSON Schema patterns are unanchored and Unicode-aware, but engines differ on both; a
    generated *accept* sample must not hinge on that difference.
    """
    try:
        return re.fullmatch(pattern, text, re.ASCII) is not None
    except re.error:
        return False


def _kind(schema: dict[str, Any]) -> str:
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), t[0] if t else None)
    if t in ("object", "array", "string", "integer", "number", "boolean", "null"):
        return t
    if "properties" in schema or "additionalProperties" in schema or "required" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    if any(k in schema for k in ("minimum", "maximum", "multipleOf")):
        return "number"
    return "string"


def _merge_all_of(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """allOf branches folded into one schema (properties merged, required joined)."""
    out: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    for branch in schema["allOf"]:
        branch = _resolve(branch, root)
        if not isinstance(branch, dict):
            continue
        for key, value in branch.items():
            if key == "properties":
                out["properties"] = {**out.get("properties", {}), **value}
            elif key == "required":
                out["required"] = list(dict.fromkeys([*out.get("required", []), *value]))
            else:
                out.setdefault(key, value)
    return out
