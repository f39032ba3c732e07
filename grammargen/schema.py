"""JSON Schema handling: dialect normalization, the metaschema check, and the keyword table.

Two steps, run at two times:

* :func:`normalize` (at load time) maps the non-standard type names that real tool
  lists use (BFCL's ``dict``/``float``/``tuple``/``any``, Java and JavaScript names)
  onto JSON Schema and checks the result against its metaschema.
* :func:`prepare` (at compile time) walks the schema with the keyword table below and
  returns the schema llguidance will enforce.  Every keyword is either *enforced*,
  an *annotation* (dropped: it constrains nothing), or *unsupported*: an error naming
  the keyword and its path, or with ``lenient`` a warning.  Nothing is loosened silently.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import jsonschema.validators
import jsonschema_rs

from .errors import ToolError, UnsupportedSchemaError, join_path, path_of
from .input_limits import MAX_ENUM_VALUES, MAX_SCHEMA_DEPTH, enum_too_long, schema_too_deep

# Type names found in real tool lists (BFCL, Java/JS generators) -> JSON Schema.
# ``None`` means "no type constraint" (BFCL's ``any``).
TYPE_ALIASES: dict[str, str | None] = {
    "dict": "object", "HashMap": "object", "Map": "object", "Object": "object", "map": "object",
    "float": "number", "double": "number", "Double": "number", "Float": "number",
    "long": "integer", "Long": "integer", "int": "integer", "Integer": "integer",
    "short": "integer", "byte": "integer", "Bigint": "integer", "BigInt": "integer",
    "tuple": "array", "list": "array", "Array": "array", "ArrayList": "array", "List": "array",
    "String": "string", "str": "string", "char": "string", "Character": "string",
    "Boolean": "boolean", "bool": "boolean",
    "any": None, "Any": None,
}

# Keywords whose subschemas we walk, by how they hold them.
SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})
SCHEMA_LISTS = frozenset({"anyOf", "allOf", "oneOf", "prefixItems"})
SCHEMA_ONE = frozenset({"additionalProperties", "items", "not", "if", "then", "else", "contains",
                        "propertyNames", "unevaluatedProperties", "unevaluatedItems", "additionalItems"})
SCHEMA_LISTS_OR_ONE = SCHEMA_LISTS | SCHEMA_ONE

# The keyword table.  Enforced keywords pass through to llguidance's %json.
ENFORCED = frozenset({
    "type", "enum", "const",
    "properties", "required", "additionalProperties", "patternProperties",
    "minProperties", "maxProperties",
    "items", "prefixItems", "minItems", "maxItems",
    "minLength", "maxLength", "pattern", "format",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
    "anyOf", "allOf", "$ref", "$defs", "definitions",
    "$id", "$anchor",  # identifiers: kept so a $ref can name them (llguidance resolves both)
})
# Annotations constrain nothing; they are dropped from the grammar (and so can't inject anything).
ANNOTATIONS = frozenset({
    "title", "description", "default", "examples", "$comment", "deprecated", "readOnly",
    "writeOnly", "$schema", "$vocabulary", "contentMediaType",
    "contentEncoding", "contentSchema",
})
# Validation keywords llguidance cannot enforce.  ``oneOf`` is enforced when its branches
# are provably disjoint (then it equals anyOf), and unsupported otherwise.
UNSUPPORTED = frozenset({
    "not", "uniqueItems", "if", "then", "else", "contains", "minContains", "maxContains",
    "dependentRequired", "dependentSchemas", "dependencies", "propertyNames",
    "unevaluatedProperties", "unevaluatedItems", "$dynamicRef", "$dynamicAnchor",
    "$recursiveRef", "$recursiveAnchor", "additionalItems", "oneOf",
})


def normalize(schema: Any, path: str) -> dict[str, Any]:
    """Map dialect type names onto JSON Schema and check the metaschema.

    ``path`` is where the schema sits in the input, for error messages.  The input is
    not changed: the result is a new schema.
    """
    if not isinstance(schema, dict):
        raise ToolError(f"a schema must be a JSON object, not {_kind(schema)}", path=path)
    try:
        fixed = _map_types(schema, 1)
    except _TooDeep:
        raise schema_too_deep(path) from None
    except _EnumTooLong as exc:
        raise enum_too_long(schema, exc.args[0], path) from None
    message, where = _metaschema_error(fixed)
    if message is not None:
        raise ToolError(f"invalid JSON Schema: {message}", path=join_path(path, path_of(where)))
    return fixed


def _metaschema_error(schema: dict[str, Any]) -> tuple[str | None, list[Any]]:
    """The metaschema's objection to ``schema`` (a message and the path in it), or ``(None, [])``.

    jsonschema-rs judges first: it is ~60x faster, and checking the metaschema was nearly
    all of ``load_tools``' time.  Only when it objects does jsonschema (the reference, with
    the clearer messages) look: it words the error, and where it finds none the schema
    passes (jsonschema-rs is stricter about ``format`` values: a huge ``pattern``, a
    ``$ref`` with a space).  jsonschema-rs reads patterns as ECMA-262 regexes, as JSON
    Schema says, so ``\\p{L}`` is valid here (Python's ``re``, which jsonschema uses, refused it).
    """
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    fast = _fast_metaschema(cls)
    if fast is not None and fast.is_valid(schema):
        return None, []
    checker = metaschema_2020() if cls is jsonschema.Draft202012Validator else cls(
        cls.META_SCHEMA, format_checker=cls.FORMAT_CHECKER)
    error = jsonschema.exceptions.best_match(checker.iter_errors(schema))
    if error is None:
        return None, []
    return error.message, list(error.absolute_path)


@functools.cache
def _fast_metaschema(cls: Any) -> Any:
    """jsonschema-rs's validator for the metaschema of ``cls``'s draft, formats checked.

    For 2020-12, the merged metaschema of :func:`metaschema_2020`: the official one's
    ``$dynamicRef`` across eight vocabularies made jsonschema-rs take 46 µs a tool schema,
    the merged one 22 µs (half of ``load_tools``' time), with the same verdicts (tested on
    the corpora)."""
    url = cls.META_SCHEMA.get("$id") or cls.META_SCHEMA.get("id")
    try:
        if cls is jsonschema.Draft202012Validator:
            return jsonschema_rs.validator_for(metaschema_2020().schema, validate_formats=True)
        return jsonschema_rs.validator_for({"$schema": url, "$ref": url}, validate_formats=True)
    except (ValueError, jsonschema_rs.ReferencingError):  # a draft it does not ship
        return None


@functools.cache
def metaschema_2020() -> jsonschema.Draft202012Validator:
    """Draft 2020-12's metaschema with its vocabularies merged and ``$dynamicRef`` made ``$ref``.

    It accepts and rejects the same schemas with the same messages and paths, 2-3x faster:
    jsonschema resolves every ``$dynamicRef`` of the real one anew, and checking the
    metaschema was nearly all of ``load_tools``' time.
    """
    from jsonschema_specifications import REGISTRY

    base = "https://json-schema.org/draft/2020-12/meta/"
    merged: dict[str, Any] = {"type": ["object", "boolean"], "properties": {}, "$defs": {}}
    for vocabulary in ("core", "applicator", "unevaluated", "validation", "meta-data",
                       "format-annotation", "content"):
        meta = REGISTRY.contents(base + vocabulary)
        merged["properties"].update(meta.get("properties", {}))
        merged["$defs"].update(meta.get("$defs", {}))
    text = json.dumps(merged).replace('{"$dynamicRef": "#meta"}', '{"$ref": "#"}')
    cls = jsonschema.Draft202012Validator
    return cls(json.loads(text), format_checker=cls.FORMAT_CHECKER)


def resolve_ref(root: Any, ref: str) -> Any:
    """The node a local ``$ref`` (``#``, ``#/$defs/x``, ``#/a~1b``) points at in ``root``.

    Raises LookupError when it points nowhere, or is not a local JSON pointer.
    """
    if not ref.startswith("#") or (len(ref) > 1 and not ref.startswith("#/")):
        raise LookupError(f"not a local JSON pointer: {ref}")
    node = root
    for token in ref[2:].split("/") if len(ref) > 1 else []:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise LookupError(f"unresolvable $ref {ref}")
    return node


class _TooDeep(Exception):
    """A container nested past MAX_SCHEMA_DEPTH."""


class _EnumTooLong(Exception):
    """A schema (the argument) whose enum holds more than MAX_ENUM_VALUES values."""


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _map_types(node: Any, depth: int) -> Any:
    """A copy of ``node`` with ``type`` names mapped, recursively, and old tuple-form ``items``.

    It also keeps the input limits, counting every JSON container as a level from the
    schema (``depth``), so it never recurses deeper than that.
    """
    if isinstance(node, list):
        if depth > MAX_SCHEMA_DEPTH:
            raise _TooDeep
        return [_map_types(v, depth + 1) for v in node]
    if not isinstance(node, dict):
        return node
    if depth > MAX_SCHEMA_DEPTH:
        raise _TooDeep
    out: dict[str, Any] = dict(node)  # most keywords hold scalars: nothing to map, copy or count
    for key, value in node.items():
        if type(value) in _SCALARS:
            continue
        if (type(value) is list and key not in SCHEMA_LISTS_OR_ONE and depth < MAX_SCHEMA_DEPTH
                and _SCALARS.issuperset(map(type, value))):
            out[key] = value[:]  # enum, required...: a list of scalars (the common case) copied at C speed
            continue
        if key in SCHEMA_MAPS and isinstance(value, dict):
            if depth + 1 > MAX_SCHEMA_DEPTH:
                raise _TooDeep
            out[key] = {k: _map_types(v, depth + 2) for k, v in value.items()}
        elif key in SCHEMA_LISTS_OR_ONE:
            out[key] = _map_types(value, depth + 1)
        elif isinstance(value, (dict, list)):
            out[key] = _copy_json(value, depth + 1)  # enum, const, default...: kept as they are
    enum = out.get("enum")
    if isinstance(enum, list) and len(enum) > MAX_ENUM_VALUES:
        raise _EnumTooLong(node)
    t = out.get("type")
    if isinstance(t, str) and t in TYPE_ALIASES:
        mapped = TYPE_ALIASES[t]
        if mapped is None:
            del out["type"]
        else:
            out["type"] = mapped
    elif isinstance(t, list):
        mapped_list = [TYPE_ALIASES.get(x, x) if isinstance(x, str) else x for x in t]
        if None in mapped_list:
            del out["type"]
        else:
            out["type"] = list(dict.fromkeys(mapped_list))
    if isinstance(out.get("items"), list):  # draft-04 tuple form
        out["prefixItems"] = out.pop("items")
        extra = out.pop("additionalItems", None)
        if extra is not None:
            out["items"] = extra
    return out


def _copy_json(value: Any, depth: int) -> Any:
    """A copy of parsed JSON (dicts, lists, scalars), what ``copy.deepcopy`` does 3x faster;
    containers past MAX_SCHEMA_DEPTH raise _TooDeep."""
    if isinstance(value, dict):
        if depth > MAX_SCHEMA_DEPTH:
            raise _TooDeep
        return {k: _copy_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        if depth > MAX_SCHEMA_DEPTH:
            raise _TooDeep
        return [_copy_json(v, depth + 1) for v in value]
    return value


@dataclass
class Prepared:
    """The schema llguidance will enforce, and what was dropped to get it (lenient only)."""

    schema: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def prepare(schema: dict[str, Any], path: str, *, lenient: bool = False,
            close_objects: bool = True) -> Prepared:
    """Walk ``schema`` with the keyword table; return what llguidance should enforce.

    ``close_objects``: an object that lists ``properties`` and says nothing about
    ``additionalProperties`` gets ``additionalProperties: false`` (models invent keys).
    """
    warnings: list[str] = []
    close: set[str] | bool = close_objects
    if close_objects:
        close = _all_of_refs(schema)  # definitions that allOf composes stay open
    out = _prepare(schema, path, lenient, close, warnings, in_all_of=False, root=True)
    if not isinstance(out, dict):
        out = {}
    return Prepared(out, warnings)


def _all_of_refs(schema: Any) -> set[str] | bool:
    """``{"$defs/x", ...}``: the root definitions some allOf uses as a branch.

    Closing such a definition would forbid the keys its allOf siblings add.  Truthy even
    when empty, so it doubles as the close flag.
    """
    found: set[str] = set()
    if '"allOf"' not in json.dumps(schema, default=str):  # no allOf: skip the Python walk
        return True

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for branch in node.get("allOf") or [] if isinstance(node.get("allOf"), list) else []:
                ref = branch.get("$ref") if isinstance(branch, dict) else None
                if isinstance(ref, str) and ref.startswith("#/"):
                    found.add(ref[2:])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return found or True


def _prepare(node: Any, path: str, lenient: bool, close: set[str] | bool, warnings: list[str],
             in_all_of: bool, root: bool = False, parts: tuple[Any, ...] = ()) -> Any:
    """One node; ``path`` + ``parts`` say where it is (joined only for a message)."""
    if isinstance(node, bool):
        return node
    if not isinstance(node, dict):  # normalize() already guaranteed schemas; be defensive
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ENFORCED:
            pass
        elif key == "oneOf" and isinstance(value, list) and _disjoint(value):
            key = "anyOf"
        elif key in UNSUPPORTED:
            message = f"unsupported JSON Schema keyword {key!r}: the grammar cannot enforce it"
            if key == "oneOf":
                message = "unsupported 'oneOf' whose branches may overlap: the grammar can only enforce anyOf"
            _refuse(message, join_path(path, path_of([*parts, key])), lenient, warnings)
            continue
        else:
            continue  # annotation or unknown vocabulary: constrains nothing
        if key == "format" and not format_supported(value):
            _refuse(f"unsupported string format {value!r}", join_path(path, path_of([*parts, key])),
                    lenient, warnings)
            continue
        if key in SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {k: _prepare(v, path, lenient, close, warnings,
                                    root and isinstance(close, set) and f"{key}/{k}" in close,
                                    parts=(*parts, key, k))
                        for k, v in value.items()}
        elif key in SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_prepare(v, path, lenient, close, warnings, key == "allOf", parts=(*parts, key, i))
                        for i, v in enumerate(value)]
        elif key in SCHEMA_ONE:
            out[key] = _prepare(value, path, lenient, close, warnings, False, parts=(*parts, key))
        else:
            out[key] = value
    if (close and "properties" in out and not in_all_of
            and not {"additionalProperties", "patternProperties", "allOf", "$ref"} & out.keys()):
        out["additionalProperties"] = False
    return out


def _refuse(message: str, where: str, lenient: bool, warnings: list[str]) -> None:
    """An unenforceable keyword: an error, or with ``lenient`` a warning (and it is dropped)."""
    if not lenient:
        raise UnsupportedSchemaError(message + " (pass lenient to drop it with a warning)", path=where)
    warnings.append(f"{where}: {message}; dropped (lenient)")


def _disjoint(branches: list[Any]) -> bool:
    """True when no JSON value can match two branches: anyOf then means exactly oneOf.

    Provable cases only: each branch pins its values (const/enum) with no overlap, or each
    branch has a type set and the sets do not overlap (integer counts as a number).
    """
    if not all(isinstance(b, dict) for b in branches):
        return False
    if all("const" in b or "enum" in b for b in branches):
        seen: set[str] = set()
        for b in branches:
            values = [b["const"]] if "const" in b else b["enum"]
            keys = {json.dumps(v, sort_keys=True) for v in values}
            if keys & seen:
                return False
            seen |= keys
        return True
    types: set[str] = set()
    for b in branches:
        t = b.get("type")
        if t is None:
            return False
        ts = set([t] if isinstance(t, str) else t)
        if "number" in ts:
            ts.add("integer")
        if "integer" in ts:
            ts.add("number")
        if ts & types:
            return False
        types |= ts
    return True


@functools.cache
def format_supported(fmt: Any) -> bool:
    """Ask llguidance whether it enforces this ``format`` (its list changes between releases)."""
    import llguidance

    if not isinstance(fmt, str):
        return False
    grammar = "start: %json " + json.dumps({"type": "string", "format": fmt})
    is_error, _ = llguidance.LLMatcher.validate_grammar_with_warnings(grammar)
    return not is_error


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")
