"""The JSON arguments object: ``{"city": "Paris"}``, compact, keys in the schema's order.

The grammar is the compiler's own (an exact fastjson terminal where the schema allows,
else ``%json``); the text is what :func:`grammargen.lark.json_text` writes; the reader
passes the object's text on as it arrives, so a stream shows it character by character.
"""

from __future__ import annotations

from typing import Any

from ..lark import json_text
from . import Item, Ref, Wait


class JsonObject:
    name = "json"
    lead = "{"
    starts = ("{",)

    def grammar(self, writer: Any, tool: Any) -> list[Item]:
        return [Ref(writer.args_rule(tool))]

    def render(self, arguments: dict[str, Any], schema: dict[str, Any] | None) -> str:
        return json_text(arguments)

    def read(self, reader: Any, call: Any) -> Wait:
        yield from reader.char("{", "the arguments object")
        reader.pos -= 1
        call.args_at, call.raw = reader.pos, True
        yield from reader.nested(call.args_piece, "the arguments")


ENCODINGS = {"json": JsonObject()}
