"""The largest inputs grammargen takes, checked before any building starts.

Past a limit the input is refused with a clear :class:`InputError` / :class:`ToolError`
naming the limit, instead of a Python ``RecursionError``, a hang, or an llguidance error
about its own internals.  (:mod:`grammargen.limits` checks the built grammar against
llguidance's parser limits; this module checks the input before that.)  The numbers come
from measurements with llguidance 1.9.1 (see the README's "Limits" section):

* schema depth: llguidance reads a ``%json`` schema with a JSON recursion limit of 128
  nesting levels (an object schema nested 63 deep passes, 64 deep fails); 100 leaves room
  for the grammar's own wrapping.  Real tool schemas stay under 20 (BFCL, JSONSchemaBench).
* enum size: 50,000 short values compile; 100,000 exceed llguidance's lexer size limit.
* name length: a 10,000-character name costs 8 s per validation (byte tokenizer), 1,000 under 1 s;
  real names stay within 64 characters (OpenAI's own limit).
* special markers: the built-in tokenizer makes each a token, and llguidance 1.9.1 panics on a
  token over 1,025 bytes; real markers are under 32.
* tool count and file size: compile time grows with the tool count.
"""

from __future__ import annotations

from typing import Any

from .errors import InputError, ProfileError, ToolError, join_path, path_of

MAX_INPUT_BYTES = 16 * 1024 * 1024  # a tools document (file, stdin or JSON string)
MAX_TOOLS = 10_000  # tools in one list (grammar size is checked separately, in capacity.py)
MAX_NAME_LENGTH = 1024  # characters in a tool name
MAX_SCHEMA_DEPTH = 100  # JSON nesting levels of one tool's parameters schema
MAX_ENUM_VALUES = 10_000  # values in one enum
MAX_MARKER_BYTES = 256  # UTF-8 bytes of a profile's special marker (llguidance panics past 1,025)


def check_input_size(size: int) -> None:
    """Refuse a tools document larger than :data:`MAX_INPUT_BYTES`."""
    if size > MAX_INPUT_BYTES:
        raise InputError(f"the input is over {MAX_INPUT_BYTES:,} bytes (the limit); "
                         "split the tool list")


def check_tool_count(count: int) -> None:
    """Refuse a tool list longer than :data:`MAX_TOOLS`."""
    if count > MAX_TOOLS:
        raise InputError(f"{count:,} tools; the limit is {MAX_TOOLS:,} tools in one list")


def check_name_length(name: str, path: str) -> None:
    """Refuse a tool name longer than :data:`MAX_NAME_LENGTH` characters."""
    if len(name) > MAX_NAME_LENGTH:
        raise ToolError(f"tool name is {len(name):,} characters; the limit is {MAX_NAME_LENGTH}",
                        path=path)


def schema_too_deep(path: str) -> ToolError:
    """The error for a schema nested deeper than :data:`MAX_SCHEMA_DEPTH` (schema.normalize counts)."""
    return ToolError(f"schema nested more than {MAX_SCHEMA_DEPTH} levels deep (the limit)", path=path)


def enum_too_long(schema: Any, node: dict[str, Any], path: str) -> ToolError:
    """The error for ``node``'s enum, longer than :data:`MAX_ENUM_VALUES`, with its path in ``schema``."""
    count = len(node["enum"])
    return ToolError(f"enum has {count:,} values; the limit is {MAX_ENUM_VALUES:,}",
                     path=join_path(path, path_of([*_parts_to(schema, node), "enum"])))


def _parts_to(root: Any, target: Any) -> list[Any]:
    """The keys and indices from ``root`` down to the container ``target`` (found by identity)."""
    stack: list[tuple[Any, list[Any]]] = [(root, [])]
    while stack:
        node, parts = stack.pop()
        if node is target:
            return parts
        items = node.items() if isinstance(node, dict) else enumerate(node)
        stack.extend((v, [*parts, k]) for k, v in items if isinstance(v, (dict, list)))
    return []


def check_marker_length(marker: str, source: str) -> None:
    """Refuse a profile's special marker longer than :data:`MAX_MARKER_BYTES` (it becomes a token)."""
    size = len(str(marker).encode())
    if size > MAX_MARKER_BYTES:
        raise ProfileError(f"special marker {str(marker)[:40]!r}... is {size:,} bytes; the limit is "
                           f"{MAX_MARKER_BYTES}", source=source, path="special")
