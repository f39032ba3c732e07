"""Format profiles: each model's tool-call layout, read from ``templates/formats/*.toml``.

A layout is a sequence of *pieces* for four places -- ``begin`` (before the first call),
``call`` (one call), ``separator`` (between calls) and ``end`` -- and three small
interpreters read it: the compiler (Lark), the renderer (text) and the parser.
Piece kinds, each an inline table with one key:

``{text = "..."}``           literal text
``{marker = "..."}``         a marker: a special token where the tokenizer has one, else text
``{choice = ["a", "b"]}``    one of several literal texts (rendered as the first); one listed
                             in ``special`` is that marker
``{optional = "..."}``       a marker the model may write or leave out (Llama's ``<|python_tag|>``)
``{name = "json"|"raw"}``    the tool name, JSON-quoted or as is
``{id = "raw"}``             the call id the model writes (``call_id`` says its shape)
``{arguments = "<encoding>"}`` the arguments, enforced by the tool's schema, written in an
                             encoding of :mod:`grammargen.encodings` ("json", "xml-qwen3-coder"...)
``{call_object = [keys]}``   ``{"name": N, "<key>": A}``, any key listed accepted, first rendered;
                             with ``id = "<key>"`` beside it: ``{"name": N, "<key>": A, "id": I}``
``{index = "0"}``            the call's position in the turn, counted from 0 (Kimi K2, Command R7B)
``{id_of = [pieces]}``       the text these pieces write is the call's id (Kimi K2's
                             ``functions.N:0``); they are the layout's pieces, in place
``{content = "text"}``       in ``begin``: where the turn's text goes when calls follow
                             (Llama 4 writes it between <|python_start|> and <|python_end|>)

Around the layout, a profile names what it was proven against (``chat_templates``, or
``source_of_truth`` where the family's template renders no calls), what the model writes
after its last call (``after_calls``, allowed but never demanded) and the end-of-turn text
it then stops with (``end_of_turn``: never part of the grammar, dropped by the parser).
``before_calls`` is whitespace the template writes right before the call section
(rendered; the grammar allows it and never demands it; the parser skips it).
``may_omit`` lists markers real outputs leave out (Qwen3-Coder's ``<tool_call>``): the
grammar and ``render`` always write them, the parser reads a call without them.
``calls_after_text`` is what the model writes between its text and calls that follow it
(Functionary v3.2's ``>>>``; its calls start with the bare tool name).
``read_also`` lists older layouts the parser reads too (never written; LFM2's JSON calls), and
``read_wrappers`` text real outputs put around the call section (never written; xLAM's
```json fence): the parser reads both and keeps them out of content.
``content_begin``/``content_end`` wrap the model's text where it writes text between
markers of its own (Command R7B's ``<|START_RESPONSE|>``); the parser keeps them out of content,
and ``read_content_begin``/``read_content_end`` too, which are read only (Hunyuan's ``<answer>``).
``may_omit_name``: a call may be written with its id's counter alone, the tool found from its
arguments (Kimi K2 Thinking's ``0``).  ``drop_markup`` lists inline tags the model's own consumers remove from its text (Cohere's
``<co>span</co: 0:[1]>`` citations): the parser drops them and keeps the text between.

Adding a format is adding a TOML file; nothing here names a model.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .encodings import names as encoding_names
from .errors import ProfileError
from .input_limits import check_marker_length

PIECE_KINDS = ("text", "marker", "choice", "optional", "name", "id", "arguments", "call_object", "index",
               "id_of", "content")
# A call id's shape: one character class and a length, e.g. "[A-Za-z0-9]{9}" (Mistral).
CALL_ID_SHAPE = re.compile(r"\[((?:[A-Za-z0-9_]-[A-Za-z0-9_]|[A-Za-z0-9_])+)\]\{([1-9][0-9]?)\}")


@dataclass(frozen=True)
class Piece:
    kind: str
    value: Any  # str for text/marker/name/arguments; tuple[str, ...] for choice/call_object
    id_key: str = ""  # call_object only: the key of the id the model writes, if any
    in_id: bool = False  # written inside an id_of group: its text is part of the call's id

    @property
    def is_literal(self) -> bool:
        return self.kind in ("text", "marker", "choice")


@dataclass(frozen=True)
class Layout:
    """Another layout a profile's parser reads (never written): ``read_also``."""

    begin: tuple[Piece, ...]
    call: tuple[Piece, ...]
    separator: tuple[Piece, ...]
    end: tuple[Piece, ...]


@dataclass(frozen=True)
class Reasoning:
    begin: str
    end: str
    gap: str = "\n\n"  # rendered after the block; the grammar allows 0-2 newlines there
    pad: str = ""  # rendered inside the block on both sides (Qwen3: "<think>\n...\n</think>")
    before: str = ""  # whitespace rendered before the block, allowed by the grammar (GLM-4.5: "\n")
    read_end: tuple[str, ...] = ()  # other ends the parser reads (never written)


@dataclass(frozen=True)
class Profile:
    """A model's tool-call format, as data."""

    name: str
    aliases: tuple[str, ...]
    description: str
    reference: str
    models: tuple[str, ...]
    special: tuple[str, ...]  # markers that are special tokens in the model's own tokenizer
    token_ids: dict[str, int] = field(hash=False)  # markers referenced by id (not of the <...> form)
    content_before_calls: bool  # may text precede the calls (else: text or calls)
    begin: tuple[Piece, ...]
    call: tuple[Piece, ...]
    separator: tuple[Piece, ...]
    end: tuple[Piece, ...]
    reasoning: Reasoning | None
    prompt: str
    chat_templates: tuple[str, ...] = ()  # ../shared/corpus/chat-templates/ files it is proven against
    source_of_truth: str = ""  # where the layout comes from when no template renders calls
    after_calls: tuple[str, ...] = ()  # what the model may write after its last call (allowed, not rendered)
    end_of_turn: tuple[str, ...] = ()  # what it then stops with (not in the grammar; parse drops it)
    call_id: str = ""  # shape of ids the model writes ("[A-Za-z0-9]{9}"), for id pieces
    may_omit: tuple[str, ...] = ()  # markers the parser reads where present and forgives missing
    before_calls: str = ""  # what the template writes right before the call section (MiniMax: "\n")
    content_begin: str = ""  # a marker the model writes before text (Command R7B's <|START_RESPONSE|>)
    content_end: str = ""  # and after it (<|END_RESPONSE|>); parse keeps both out of content
    read_also: tuple[Layout, ...] = ()  # older layouts the parser reads too (LFM2's JSON)
    calls_after_text: str = ""  # written between text and the calls after it (Functionary: ">>>")
    read_content_begin: tuple[str, ...] = ()  # other text openings the parser reads (never written)
    read_content_end: tuple[str, ...] = ()  # and closings (Hunyuan's </answer>)
    read_wrappers: tuple[tuple[str, str], ...] = ()  # (begin, end) real outputs put around the calls
    drop_markup: tuple[tuple[str, str], ...] = ()  # inline tags dropped from text (Cohere's <co>)
    may_omit_name: bool = False  # a call written with its id's counter alone (Kimi K2 Thinking)
    path: str = ""

    @property
    def markers(self) -> list[str]:
        """Every marker the layout and reasoning block use, in order of first use."""
        found: list[str] = []
        for piece in self.begin + self.call + self.separator + self.end:
            if piece.kind in ("marker", "optional") and piece.value not in found:
                found.append(piece.value)
            if piece.kind == "choice":  # a choice may offer a special token beside text
                found += [v for v in piece.value if self.is_special(v) and v not in found]
        runs = [self.reasoning.begin, self.reasoning.end] if self.reasoning else []
        for run in [*runs, self.content_begin, self.content_end]:
            for m in self.marker_run(run):
                if self.is_special(m) and m not in found or m == run and m not in found:
                    found.append(m)
        return found

    def marker_run(self, text: str) -> list[str]:
        """A reasoning or content marker cut into the special markers it holds and the text
        between them (gpt-oss: ``<|channel|>analysis<|message|>`` is two tokens around a
        word); a marker that is one special token, or holds none, stays whole."""
        inner = sorted((m for m in (*self.special, *self.token_ids) if m in text and m != text),
                       key=len, reverse=True)
        if not text or self.is_special(text) or not inner:
            return [text] if text else []
        pattern = "(" + "|".join(map(re.escape, inner)) + ")"
        return [part for part in re.split(pattern, text) if part]

    def is_special(self, text: str) -> bool:
        """Is ``text`` one of the model's special tokens (named or by id)?"""
        return text in self.special or text in self.token_ids

    @property
    def args_keys(self) -> tuple[str, ...]:
        for piece in self.call:
            if piece.kind == "call_object":
                return tuple(piece.value)
        return ()

    @property
    def writes_ids(self) -> bool:
        """Does the model write each call's id (Mistral, Kimi K2)?"""
        return self.shapes_ids or any(p.in_id for p in self.call)

    @property
    def shapes_ids(self) -> bool:
        """Are the ids of the model's own making, of the ``call_id`` shape (Mistral)?"""
        return any(p.kind == "id" or p.id_key for p in self.call)

    @property
    def id_shape(self) -> tuple[str, int]:
        """The characters and the length of a call id (from ``call_id``)."""
        match = CALL_ID_SHAPE.fullmatch(self.call_id)
        if match is None:
            return "", 0
        chars = ""
        for part in re.finditer(r"(.)-(.)|(.)", match.group(1)):
            lo, hi, one = part.groups()
            chars += one or "".join(map(chr, range(ord(lo), ord(hi) + 1)))
        return chars, int(match.group(2))


def templates_dir() -> Path:
    """``templates/`` inside the installed package (wheel), else beside it (source tree)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parent / "templates"):
        if (candidate / "formats").is_dir():
            return candidate
    raise ProfileError(f"the templates folder is missing (looked in {here} and {here.parent})")


@functools.cache
def _registry() -> dict[str, Profile]:
    by_name: dict[str, Profile] = {}
    for file in sorted((templates_dir() / "formats").glob("*.toml")):
        profile = load_profile(file)
        for key in (profile.name, *profile.aliases):
            if key in by_name:
                raise ProfileError(f"format name {key!r} is defined twice", source=str(file))
            by_name[key] = profile
    return by_name


def formats() -> list[str]:
    """Canonical names of the known formats, sorted."""
    return sorted({p.name for p in _registry().values()})


def get_profile(name: str | Profile) -> Profile:
    """Look a format up by name or alias; an unknown name lists the known ones."""
    if isinstance(name, Profile):
        return name
    registry = _registry()
    if isinstance(name, str) and name in registry:
        return registry[name]
    if isinstance(name, str) and (name.endswith(".toml") and Path(name).is_file()):
        return load_profile(Path(name))
    raise ProfileError(f"unknown format {name!r}; known formats: {', '.join(formats())}")


def load_profile(file: Path) -> Profile:
    """Read and check one layout file."""
    source = str(file)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"cannot read profile: {exc}", source=source) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"invalid TOML: {exc}", source=source) from exc
    try:
        layout = data["layout"]
        reasoning = data.get("reasoning")
        profile = Profile(
            name=_str(data, "name"),
            aliases=tuple(data.get("aliases", ())),
            description=data.get("description", ""),
            reference=_str(data, "reference"),
            models=tuple(data.get("models", ())),
            special=tuple(data.get("special", ())),
            token_ids={str(k): int(v) for k, v in data.get("token_ids", {}).items()},
            content_before_calls=bool(data.get("content_before_calls", False)),
            begin=_pieces(layout.get("begin", []), "layout.begin"),
            call=_pieces(layout["call"], "layout.call"),
            separator=_pieces(layout.get("separator", []), "layout.separator"),
            end=_pieces(layout.get("end", []), "layout.end"),
            reasoning=Reasoning(reasoning["begin"], reasoning["end"], reasoning.get("gap", "\n\n"),
                                reasoning.get("pad", ""), reasoning.get("before", ""),
                                _strings(reasoning, "read_end")) if reasoning else None,
            prompt=data.get("prompt", ""),
            chat_templates=_strings(data, "chat_templates"),
            source_of_truth=data.get("source_of_truth", ""),
            after_calls=_one_or_more(data, "after_calls"),
            end_of_turn=_strings(data, "end_of_turn"),
            call_id=data.get("call_id", ""),
            may_omit=_strings(data, "may_omit"),
            before_calls=data.get("before_calls", ""),
            content_begin=data.get("content_begin", ""),
            content_end=data.get("content_end", ""),
            read_also=_layouts(data.get("read_also", [])),
            calls_after_text=data.get("calls_after_text", ""),
            read_content_begin=_strings(data, "read_content_begin"),
            read_content_end=_strings(data, "read_content_end"),
            read_wrappers=_pairs(data.get("read_wrappers", []), "read_wrappers"),
            drop_markup=_pairs(data.get("drop_markup", []), "drop_markup"),
            may_omit_name=data.get("may_omit_name", False),
            path=source,
        )
    except KeyError as exc:
        raise ProfileError(f"missing key {exc.args[0]!r}", source=source) from exc
    except ProfileError as exc:
        raise exc.at(source=source)
    for marker in (*profile.special, *profile.token_ids):
        check_marker_length(marker, source)
    for where, call in [("layout.call", profile.call),
                        *((f"read_also[{i}].call", alt.call) for i, alt in enumerate(profile.read_also))]:
        kinds = [p.kind for p in call]
        if kinds.count("call_object") + kinds.count("arguments") != 1:
            raise ProfileError(f"{where} needs exactly one call_object or arguments piece",
                               source=source, path=where)
        if "arguments" in kinds and "name" not in kinds:
            raise ProfileError(f"{where} with an arguments piece needs a name piece",
                               source=source, path=where)
    if any(p.kind == "id" or p.id_key or p.in_id for alt in profile.read_also for p in alt.call):
        raise ProfileError("a read_also layout writes no ids (the grammar never asks for them)",
                           source=source, path="read_also")
    if profile.shapes_ids and not CALL_ID_SHAPE.fullmatch(profile.call_id):
        raise ProfileError('a layout with ids needs call_id, one character class and a length '
                           '(e.g. "[A-Za-z0-9]{9}")', source=source, path="call_id")
    if any(p.kind == "content" for p in profile.call + profile.separator + profile.end) or \
            [p.kind for p in profile.begin].count("content") > 1:
        raise ProfileError("a content piece may only appear once, in layout.begin", source=source,
                           path="layout")
    if any(p.in_id for p in profile.begin + profile.separator + profile.end):
        raise ProfileError("an id_of group may only appear in layout.call", source=source, path="layout")
    if profile.reasoning and (not isinstance(profile.reasoning.before, str) or profile.reasoning.before.strip()):
        raise ProfileError("reasoning.before is whitespace only (the parser skips it)", source=source,
                           path="reasoning.before")
    if profile.before_calls.strip():
        raise ProfileError("before_calls is whitespace only (the parser skips it)", source=source,
                           path="before_calls")
    for marker in profile.may_omit:
        if marker not in profile.markers:
            raise ProfileError(f"may_omit lists {marker!r}, which is no marker of the layout",
                               source=source, path="may_omit")
    if not isinstance(profile.may_omit_name, bool):
        raise ProfileError("may_omit_name is true or false", source=source, path="may_omit_name")
    if profile.may_omit_name and not any(p.in_id and p.kind == "index" for p in profile.call):
        raise ProfileError("may_omit_name needs an id_of group with an index piece (the counter "
                           "written alone)", source=source, path="may_omit_name")
    if profile.calls_after_text and not profile.content_begin:
        raise ProfileError("calls_after_text needs content_begin (text is told apart from calls by it)",
                           source=source, path="calls_after_text")
    if profile.content_end and not profile.content_begin:
        raise ProfileError("content_end needs content_begin", source=source, path="content_end")
    if not all(isinstance(t, str) and t for t in profile.after_calls):
        raise ProfileError("after_calls must be a non-empty string or a list of them", source=source,
                           path="after_calls")
    for key in ("source_of_truth", "before_calls", "content_begin", "content_end",
                "calls_after_text"):
        if not isinstance(getattr(profile, key), str):
            raise ProfileError(f"{key} must be a string", source=source, path=key)
    return profile


def _one_or_more(data: dict[str, Any], key: str) -> tuple[Any, ...]:
    """A key that holds one text or a list of alternatives, as a tuple (checked by the caller)."""
    value = data.get(key, "")
    if isinstance(value, str):
        return (value,) if value else ()
    return tuple(value) if isinstance(value, list) else (value,)


def _str(data: dict[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str) or not value:
        raise ProfileError(f"{key} must be a non-empty string", path=key)
    return value


def _strings(data: dict[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not (isinstance(value, list) and all(isinstance(v, str) and v for v in value)):
        raise ProfileError("must be a list of non-empty strings", path=key)
    return tuple(value)


def _pairs(raw: Any, key: str) -> tuple[tuple[str, str], ...]:
    """``read_wrappers`` and ``drop_markup``: ``[{ begin = "```json", end = "```" }, { begin = "x" }]``."""
    out = []
    for i, table in enumerate(raw if isinstance(raw, list) else [raw]):
        if not (isinstance(table, dict) and set(table) <= {"begin", "end"}
                and isinstance(table.get("begin"), str) and table["begin"].strip()
                and isinstance(table.get("end", ""), str)):
            raise ProfileError('each is a table with a non-empty begin and an optional end '
                               '({ begin = "```json", end = "```" })', path=f"{key}[{i}]")
        out.append((table["begin"], table.get("end", "")))
    return tuple(out)


def _layouts(raw: Any) -> tuple[Layout, ...]:
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise ProfileError("read_also is a list of layout tables ([[read_also]])", path="read_also")
    out = []
    for i, table in enumerate(raw):
        if "call" not in table:
            raise ProfileError("a read_also layout needs call", path=f"read_also[{i}]")
        out.append(Layout(*(_pieces(table.get(k, []), f"read_also[{i}].{k}")
                            for k in ("begin", "call", "separator", "end"))))
    return tuple(out)


def _pieces(raw: Any, path: str, in_id: bool = False) -> tuple[Piece, ...]:
    if not isinstance(raw, list):
        raise ProfileError("must be a list of pieces", path=path)
    pieces: list[Piece] = []
    for i, item in enumerate(raw):
        item = dict(item) if isinstance(item, dict) else item
        id_key = item.pop("id", "") if isinstance(item, dict) and "call_object" in item else ""
        if not isinstance(item, dict) or len(item) != 1:
            raise ProfileError("a piece is a table with one key (call_object may add id)",
                               path=f"{path}[{i}]")
        if not isinstance(id_key, str):
            raise ProfileError("id names the key of the call id", path=f"{path}[{i}].id")
        (kind, value), = item.items()
        if kind not in PIECE_KINDS:
            raise ProfileError(f"unknown piece kind {kind!r} (known: {', '.join(PIECE_KINDS)})",
                               path=f"{path}[{i}]")
        if kind == "id_of":
            # A group whose written text is the call's id: its pieces stand in the layout as
            # they are, each marked, so the grammar and render need nothing new.
            if in_id:
                raise ProfileError("id_of groups do not nest", path=f"{path}[{i}]")
            group = _pieces(value, f"{path}[{i}].id_of", in_id=True)
            if not group or any(p.kind in ("arguments", "call_object", "id") for p in group):
                raise ProfileError("id_of takes a non-empty list of text, marker, name and index "
                                   "pieces", path=f"{path}[{i}]")
            pieces += group
            continue
        if kind in ("choice", "call_object"):
            if not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
                raise ProfileError(f"{kind} takes a non-empty list of strings", path=f"{path}[{i}]")
            value = tuple(value)
        elif not isinstance(value, str) or (kind in ("text", "marker", "optional") and not value):
            raise ProfileError(f"{kind} takes a non-empty string", path=f"{path}[{i}]")
        if kind == "name" and value not in ("json", "raw"):
            raise ProfileError("name is \"json\" or \"raw\"", path=f"{path}[{i}]")
        if kind == "arguments" and value not in encoding_names():
            raise ProfileError(f"unknown argument encoding {value!r} (known: "
                               f"{', '.join(encoding_names())})", path=f"{path}[{i}]")
        if kind == "id" and value != "raw":
            raise ProfileError("id is \"raw\"", path=f"{path}[{i}]")
        if kind == "index" and value != "0":
            raise ProfileError("index is \"0\" (calls are counted from 0)", path=f"{path}[{i}]")
        if kind == "content" and value != "text":
            raise ProfileError("content is \"text\"", path=f"{path}[{i}]")
        pieces.append(Piece(kind, value, id_key, in_id))
    return tuple(pieces)
