"""Render tool calls as the exact text a model emits in a format (the grammar accepts it)."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Iterable, Mapping, Sequence

import jsonschema
import referencing.exceptions

from .encodings import get_encoding
from .errors import InputError
from .lark import json_text
from .profiles import Piece, Profile, get_profile
from .schema import resolve_ref
from .tools import load_tools


def render(calls: Iterable[Mapping[str, Any]], format: str | Profile = "phi4-mini", *,
           tools: Any = None, content: str | None = None,
           reasoning: str | None = None) -> str:
    """The model-native text of ``calls`` (``[{"name", "arguments"}]`` or OpenAI tool_calls).

    With ``tools`` (a tool list in any form :func:`compile` takes), argument keys follow
    each schema's property order, as the grammar demands.  ``content`` is text written
    before the calls, ``reasoning`` the inside of the profile's reasoning block.  Markers are
    written as their text.  An ``index`` piece writes the call's position (0, 1, ...), as
    Kimi K2's and Command R7B's templates number calls.  Where the format makes the model
    write ids of its own shape (Mistral), each
    call's own ``id`` is written when it has the format's shape, else one derived from it
    (or from the call's position), so the text always fits the grammar.
    """
    profile = get_profile(format)
    schemas = {t.name: t.parameters for t in (load_tools(tools) if tools is not None else ())}
    out = []
    if reasoning is not None:
        if profile.reasoning is None:
            raise InputError(f"format {profile.name!r} has no reasoning block")
        r = profile.reasoning
        out.append(f"{r.before}{r.begin}{r.pad}{reasoning}{r.pad}{r.end}{r.gap}")
    calls = list(calls)
    slot = any(p.kind == "content" for p in profile.begin) and bool(calls)
    if content and not slot:
        out.append(f"{profile.content_begin}{content}{profile.content_end}")
    rendered = []
    for i, call in enumerate(calls):
        name, arguments = call_parts(call, f"calls[{i}]")
        if tools is not None and name not in schemas:  # the CLI's --tools refuses it too
            known = ", ".join(list(schemas)[:10]) + (", ..." if len(schemas) > 10 else "")
            raise InputError(f"unknown tool {name!r} (known: {known})", path=f"calls[{i}].name")
        if name in schemas:
            arguments = ordered(arguments, schemas[name])
        ident = call_id(call, i, profile) if profile.shapes_ids else ""
        try:
            rendered.append(_pieces(profile.call, name, arguments, ident, schemas.get(name), i))
        except InputError as exc:  # an encoding cannot write a value: say which call
            raise exc.at(prefix=f"calls[{i}]") from None
    if rendered:
        if content and not slot:
            out.append(profile.calls_after_text)
        begin = _pieces(profile.begin, text=(content or "") if slot else "")
        out.append(profile.before_calls + begin + _pieces(profile.separator).join(rendered)
                   + _pieces(profile.end))
    return "".join(out)


def call_id(call: Mapping[str, Any], index: int, profile: Profile) -> str:
    """The id written for a call: its own when it fits the format's shape, else derived from it."""
    chars, length = profile.id_shape
    given = call.get("id") if isinstance(call, Mapping) else None
    given = given if isinstance(given, str) else ""
    if len(given) == length and all(c in chars for c in given):
        return given
    seed = int.from_bytes(hashlib.sha256(f"{index}:{given}".encode()).digest()[:16], "big")
    out = []
    for _ in range(length):
        seed, k = divmod(seed, len(chars))
        out.append(chars[k])
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


def _pieces(pieces: Sequence[Piece], name: str = "", arguments: Any = None, ident: str = "",
            schema: Any = None, index: int = 0, text: str = "") -> str:
    out = []
    for piece in pieces:
        if piece.kind in ("text", "marker"):
            out.append(piece.value)
        elif piece.kind == "choice":
            out.append(piece.value[0])
        elif piece.kind == "name":
            out.append(name if piece.value == "raw" else json_text(name))
        elif piece.kind == "id":
            out.append(ident)
        elif piece.kind == "index":  # the call's position in the turn, as templates count it
            out.append(str(index))
        elif piece.kind == "content":  # the turn's text, where the layout puts it (Llama 4)
            out.append(text)
        elif piece.kind == "arguments":
            out.append(get_encoding(piece.value).render(arguments, schema))
        elif piece.kind == "call_object":
            body = {"name": name, piece.value[0]: arguments}
            if piece.id_key:
                body[piece.id_key] = ident
            out.append(json_text(body))
    return "".join(out)


def ordered(value: Any, schema: Any, root: Any = None, depth: int = 0) -> Any:
    """``value`` with object keys in the order llguidance enforces, through $ref/allOf/anyOf.

    llguidance's order: the declared properties (those of ``$ref`` and ``allOf`` first),
    then undeclared required keys, then the rest.  ``root`` resolves ``#`` references.
    """
    root = schema if root is None else root
    parts = _schema_parts(value, schema, root, depth)
    if isinstance(value, dict):
        subs: dict[str, Any] = {}
        extra: Any = None
        for part in parts:
            for key, sub in (part.get("properties") or {}).items():
                subs.setdefault(key, sub)
            if extra is None and isinstance(part.get("additionalProperties"), dict):
                extra = part["additionalProperties"]
        required = [k for p in parts for k in p.get("required") or [] if isinstance(k, str)]
        keys = list(dict.fromkeys([k for k in subs if k in value]
                                  + [k for k in required if k in value] + list(value)))
        return {k: ordered(value[k], subs.get(k) or _pattern_schema(k, parts) or extra,
                                root, depth + 1) for k in keys}
    if isinstance(value, list):
        prefix = next((p["prefixItems"] for p in parts if isinstance(p.get("prefixItems"), list)), [])
        items = next((p["items"] for p in parts if isinstance(p.get("items"), dict)), None)
        return [ordered(v, prefix[i] if i < len(prefix) else items, root, depth + 1)
                for i, v in enumerate(value)]
    return value


def _pattern_schema(key: str, parts: list[dict[str, Any]]) -> Any:
    for part in parts:
        for pattern, sub in (part.get("patternProperties") or {}).items():
            if re.search(pattern, key):
                return sub
    return None


def _schema_parts(value: Any, schema: Any, root: dict[str, Any], depth: int) -> list[dict]:
    """The subschemas that apply to ``value``: its $ref, allOf, the schema, the matching anyOf/oneOf branch."""
    if not isinstance(schema, dict) or depth > 50:
        return []
    parts = []
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#"):  # llguidance puts $ref's and allOf's keys first
        try:
            parts += _schema_parts(value, resolve_ref(root, ref), root, depth + 1)
        except LookupError:
            pass
    for sub in schema.get("allOf") or []:
        parts += _schema_parts(value, sub, root, depth + 1)
    parts.append(schema)
    for key in ("anyOf", "oneOf"):
        for sub in schema.get(key) or []:
            if isinstance(sub, dict) and not _errors_quiet(value, sub, root):
                parts += _schema_parts(value, sub, root, depth + 1)
                break
    return parts


def _errors_quiet(value: Any, sub: dict[str, Any], root: dict[str, Any]) -> bool:
    """True when ``value`` fails ``sub`` (its references resolved against ``root``)."""
    cls = jsonschema.validators.validator_for(root, default=jsonschema.Draft202012Validator)
    try:
        return not cls(root).evolve(schema=sub).is_valid(value)
    except (jsonschema.exceptions.SchemaError, referencing.exceptions.Unresolvable, RecursionError):
        return True
