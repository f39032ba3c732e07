"""Render tool calls as the exact text a model emits in a format (the grammar accepts it)."""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping, Sequence

from .errors import InputError
from .lark import json_text
from .profiles import Piece, Profile, get_profile
from .tools import Tool


def render(calls: Iterable[Mapping[str, Any]], format: str | Profile = "phi4-mini", *,
           tools: Sequence[Tool] | None = None, content: str | None = None,
           reasoning: str | None = None) -> str:
    """The model-native text of ``calls`` (``[{"name", "arguments"}]`` or OpenAI tool_calls).

    With ``tools``, argument keys follow each schema's property order, as the grammar
    demands.  ``content`` is text written before the calls, ``reasoning`` the inside of the
    profile's reasoning block.  Markers are written as their text.
    """
    profile = get_profile(format)
    schemas = {t.name: t.parameters for t in tools or ()}
    out = []
    if reasoning is not None:
        if profile.reasoning is None:
            raise InputError(f"format {profile.name!r} has no reasoning block")
        r = profile.reasoning
        out.append(f"{r.begin}{reasoning}{r.end}{r.gap}")
    if content:
        out.append(content)
    rendered = []
    for i, call in enumerate(calls):
        name, arguments = call_parts(call, f"calls[{i}]")
        if name in schemas:
            arguments = ordered(arguments, schemas[name])
        rendered.append(_pieces(profile.call, name, arguments))
    if rendered:
        out.append(_pieces(profile.begin) + _pieces(profile.separator).join(rendered)
                   + _pieces(profile.end))
    return "".join(out)


def call_parts(call: Mapping[str, Any], path: str = "") -> tuple[str, dict[str, Any]]:
    """(name, arguments dict) of a plain or OpenAI-shaped call; JSON-string arguments decoded once."""
    if not isinstance(call, Mapping):
        raise InputError("a call must be a JSON object", path=path)
    body = call.get("function") if isinstance(call.get("function"), Mapping) else call
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise InputError("a call needs a name", path=f"{path}.name")
    arguments = body.get("arguments", body.get("parameters", {}))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError as exc:
            raise InputError(f"arguments are not valid JSON: {exc.msg}", path=f"{path}.arguments") from exc
    if not isinstance(arguments, dict):
        raise InputError("arguments must be a JSON object", path=f"{path}.arguments")
    return name, arguments


def _pieces(pieces: Sequence[Piece], name: str = "", arguments: Any = None) -> str:
    out = []
    for piece in pieces:
        if piece.kind in ("text", "marker"):
            out.append(piece.value)
        elif piece.kind == "choice":
            out.append(piece.value[0])
        elif piece.kind == "name":
            out.append(name if piece.value == "raw" else json_text(name))
        elif piece.kind == "arguments":
            out.append(json_text(arguments))
        elif piece.kind == "call_object":
            out.append(json_text({"name": name, piece.value[0]: arguments}))
    return "".join(out)


def ordered(value: Any, schema: Any) -> Any:
    """``value`` with object keys in the schema's property order (llguidance enforces it)."""
    if not isinstance(schema, dict):
        return value
    if isinstance(value, dict):
        props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        keys = [k for k in props if k in value] + [k for k in value if k not in props]
        extra = schema.get("additionalProperties")
        return {k: ordered(value[k], props.get(k, extra)) for k in keys}
    if isinstance(value, list):
        prefix = schema.get("prefixItems") if isinstance(schema.get("prefixItems"), list) else []
        items = schema.get("items")
        return [ordered(v, prefix[i] if i < len(prefix) else items) for i, v in enumerate(value)]
    return value
