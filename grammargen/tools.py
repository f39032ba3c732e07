"""Load tool lists in every common dialect and normalize them to one :class:`Tool` type.

Dialects (detected per entry, so a list may mix them):

* OpenAI Chat Completions ``{"type": "function", "function": {...}}``
* OpenAI Responses ``{"type": "function", "name": ..., "parameters": ...}``
* bare ``{"name", "description", "parameters"}``
* MCP ``{"name", "inputSchema"}`` and Anthropic ``{"name", "input_schema"}``
* the legacy flat parameter map of the Phi-4-mini ONNX guide
  (``"parameters": {"city": {"type": "string"}}``: every listed parameter required)
* BFCL's non-standard type names (see :mod:`grammargen.schema`)

A wrapper object ``{"tools": [...]}`` is accepted too.
"""

from __future__ import annotations

import functools
import json
import re
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

from .collector import collector_paused
from .errors import GrammarError, GrammarGenError, InputError, ToolError
from .input_limits import MAX_INPUT_BYTES, check_input_size, check_name_length, check_tool_count
from .schema import normalize

T = TypeVar("T")
EMPTY_OBJECT: dict[str, Any] = {"type": "object", "properties": {}}


@dataclass(frozen=True)
class Tool:
    """One callable function: its name, description and arguments schema (JSON Schema)."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: dict(EMPTY_OBJECT))
    strict: bool = False
    path: str = ""  # where it came from in the input, e.g. ``tools[1].function``
    source: str = field(default="", compare=False)  # the file it came from, for error messages

    def to_openai(self) -> dict[str, Any]:
        """The tool as an OpenAI Chat Completions tool object."""
        function: dict[str, Any] = {"name": self.name}
        if self.description:
            function["description"] = self.description
        function["parameters"] = self.parameters
        if self.strict:
            function["strict"] = True
        return {"type": "function", "function": function}


def load_tools(source: Any, *, source_name: str = "") -> list[Tool]:
    """Load a tool list from a path, a JSON string, ``-`` (stdin), or already-parsed data.

    A non-empty list of :class:`Tool` (already loaded) is returned as it is, so every
    entry point can take either.  Raises :class:`InputError` for unreadable or malformed input and :class:`ToolError` for
    an invalid tool; each names the file and the JSON path of the problem.
    """
    if isinstance(source, (list, tuple)) and source and all(isinstance(t, Tool) for t in source):
        return list(source)
    name = source_name
    if not name and isinstance(source, (str, os.PathLike)) and _looks_like_path(source):
        name = "<stdin>" if str(source) == "-" else str(source)
    try:
        with collector_paused():
            tools = _load(_read(source))
    except GrammarGenError as exc:
        raise exc.at(source=name or None)
    return [replace(t, source=name) for t in tools] if name else tools


def names_the_tools_file(fn: Callable[..., T]) -> Callable[..., T]:
    """Decorate a function taking tools first: its tool and schema errors name the tools' file.

    Schema problems are found at compile time, long after loading; the :class:`Tool` still
    knows its file, so the error line reads ``tools.json: tools[0]...: what is wrong``.
    """
    @functools.wraps(fn)
    def wrapper(tools: Any, *args: Any, **kwargs: Any) -> T:
        try:
            return fn(tools, *args, **kwargs)
        except (ToolError, GrammarError) as exc:
            raise exc.at(source=_source_of(tools) or None)
    return wrapper


def _source_of(tools: Any) -> str:
    if isinstance(tools, (list, tuple)):
        return next((t.source for t in tools if isinstance(t, Tool) and t.source), "")
    if isinstance(tools, (str, os.PathLike)) and _looks_like_path(tools):
        return "<stdin>" if str(tools) == "-" else str(tools)
    return ""


def read_json(source: Any) -> Any:
    """Read JSON from a path, ``-`` (stdin), a JSON string, or pass parsed data through."""
    return _read(source)


def _looks_like_path(source: Any) -> bool:
    if isinstance(source, os.PathLike):
        return True
    text = str(source)
    return text == "-" or not text.lstrip().startswith(("[", "{"))


def _read(source: Any) -> Any:
    if isinstance(source, (list, dict)):
        return source
    if isinstance(source, bytes):
        check_input_size(len(source))
        return _parse_json(source)
    if isinstance(source, (str, os.PathLike)):
        if str(source) == "-":
            import sys

            raw = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
            check_input_size(len(raw))
            return _parse_json(raw)
        if isinstance(source, str) and not _looks_like_path(source):
            raw = source.encode()
            check_input_size(len(raw))
            return _parse_json(raw)
        path = Path(source)
        try:
            if path.is_file():
                check_input_size(path.stat().st_size)
            raw = path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read file: {exc.strerror or exc}") from exc
        return _parse_json(raw)
    raise InputError(f"cannot load tools from a {type(source).__name__}")


def _parse_json(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except RecursionError as exc:
        raise InputError("JSON nested too deeply to read") from exc


def _load(data: Any) -> list[Tool]:
    prefix = "tools"  # the path label for list entries, wrapped or not: tools[2].function...
    if isinstance(data, dict) and "tools" in data:
        data = data["tools"]
    elif isinstance(data, dict):
        data = [data]  # a single tool object
    if not isinstance(data, list):
        raise InputError("expected a JSON array of tools (or an object with a \"tools\" array)")
    if not data:
        raise InputError("the tool list is empty")
    check_tool_count(len(data))
    tools: list[Tool] = []
    seen: dict[str, str] = {}
    for i, entry in enumerate(data):
        tool = _tool(entry, f"{prefix}[{i}]")
        if tool.name in seen:
            raise ToolError(f"duplicate tool name {tool.name!r} (first defined at {seen[tool.name]})",
                            path=_name_path(tool.path))
        seen[tool.name] = tool.path
        tools.append(tool)
    return tools


def _name_path(tool_path: str) -> str:
    return f"{tool_path}.name"


def _tool(entry: Any, path: str) -> Tool:
    if not isinstance(entry, dict):
        raise InputError("a tool must be a JSON object", path=path)
    body = entry
    if isinstance(entry.get("function"), dict):  # Chat Completions
        body, path = entry["function"], f"{path}.function"
    elif entry.get("type") not in (None, "function"):
        raise ToolError(f"unsupported tool type {entry.get('type')!r} (only function tools)",
                        path=f"{path}.type")
    name = check_name(body.get("name"), f"{path}.name")
    description = body.get("description") or ""
    if not isinstance(description, str):
        raise ToolError("description must be a string", path=f"{path}.description")
    for key in ("parameters", "inputSchema", "input_schema"):
        if key in body:
            params, params_path = body[key], f"{path}.{key}"
            break
    else:
        params, params_path = None, f"{path}.parameters"
    if params is None:
        schema: dict[str, Any] = dict(EMPTY_OBJECT)
    else:
        if not isinstance(params, dict):
            raise ToolError("parameters must be a JSON object (a JSON Schema)", path=params_path)
        if _is_legacy_map(params):
            params = _from_legacy_map(params)
        schema = normalize(params, params_path)  # also keeps the depth and enum limits
    strict = bool(body.get("strict", entry.get("strict", False)))
    return Tool(name=name, description=description, parameters=schema, strict=strict, path=path)


def check_name(name: Any, path: str) -> str:
    """A tool name is any non-empty string without control characters (BFCL uses dots)."""
    if not isinstance(name, str):
        raise ToolError("missing tool name" if name is None else "tool name must be a string",
                        path=path)
    if not name:
        raise ToolError("tool name is empty", path=path)
    check_name_length(name, path)
    bad = _CONTROL_OR_SURROGATE.search(name)
    if bad is not None:
        raise ToolError(f"tool name contains the control character {bad.group()!r}", path=path)
    return name


# Unicode categories Cc (C0, DEL, C1) and Cs, as one search instead of a lookup a character.
_CONTROL_OR_SURROGATE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")  # (escapes read by re: mypyc keeps no lone surrogates)


_SCHEMA_WORDS = {"type", "properties", "$ref", "anyOf", "oneOf", "allOf", "$schema", "items",
                 "required", "additionalProperties", "enum", "const", "$defs", "definitions"}


def _is_legacy_map(params: dict[str, Any]) -> bool:
    """The Phi-4 guide's ``{"param": {"type": ..., "description": ...}}`` map, not a schema."""
    return (bool(params) and not (_SCHEMA_WORDS & params.keys())
            and all(isinstance(v, dict) for v in params.values()))


def _from_legacy_map(params: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": dict(params), "required": list(params)}


def tool_names(tools: Iterable[Tool]) -> list[str]:
    return [t.name for t in tools]
