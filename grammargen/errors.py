"""One error root, with subclasses a caller can catch by stage.

Every error knows *where* the problem is: the file it came from (``source``)
and a JSON path inside it (``path``, e.g. ``tools[2].function.parameters``).
``str(error)`` is the one line the CLI prints after ``error: ``.
"""

from __future__ import annotations

import json


class GrammarGenError(Exception):
    """Root of every error grammargen raises on bad input or failed checks."""

    def __init__(self, message: str, *, path: str = "", source: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.source = source

    def at(self, *, source: str | None = None, prefix: str = "") -> GrammarGenError:
        """Return this error relocated: a source file and/or a path prefix added."""
        if source is not None and not self.source:
            self.source = source
        if prefix:
            self.path = join_path(prefix, self.path)
        return self

    def __str__(self) -> str:
        parts = [p for p in (self.source, self.path) if p]
        return ": ".join(parts + [self.message])


class InputError(GrammarGenError, ValueError):
    """The input could not be read: missing file, invalid JSON, wrong shape."""


class ToolError(GrammarGenError, ValueError):
    """A tool definition is invalid: name, duplicate, or a schema that breaks its metaschema."""


class UnsupportedSchemaError(ToolError):
    """A JSON Schema keyword that the grammar cannot enforce (use ``lenient`` to drop it with a warning)."""


class OptionsError(GrammarGenError, ValueError):
    """A compile option is invalid, e.g. a tool_choice naming a tool that does not exist."""


class ProfileError(GrammarGenError, ValueError):
    """Unknown format name, or a format profile file that is malformed."""


class TokenizerError(GrammarGenError, ValueError):
    """A tokenizer source that cannot be loaded."""


class GrammarError(GrammarGenError):
    """llguidance refused a grammar we produced (or one given to validate)."""


class OutputParseError(GrammarGenError, ValueError):
    """Model output that does not follow the format; ``offset`` is where it went wrong."""

    def __init__(self, message: str, *, offset: int = 0, path: str = "", source: str = "") -> None:
        super().__init__(message, path=path, source=source)
        self.offset = offset


def join_path(prefix: str, path: str) -> str:
    """Join two JSON path fragments: ``tools[0]`` + ``name`` -> ``tools[0].name``."""
    if not prefix:
        return path
    if not path:
        return prefix
    return prefix + (path if path.startswith("[") else "." + path)


def path_of(parts: object) -> str:
    """Render a sequence of keys/indices as a JSON path: ``['a', 0, 'b c']`` -> ``a[0]["b c"]``."""
    out = ""
    for part in parts:  # type: ignore[attr-defined]
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part.isidentifier():
            out = join_path(out, part)
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out
