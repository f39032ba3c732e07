"""Parse model output back into an OpenAI assistant message, whole or streaming.

The third reading of a profile's layout, beside the compiler and the renderer: the same
pieces that make the grammar and the text make the parser, so no format has code here.
One incremental reader walks the layout; :func:`parse` gives it the whole text at once,
:class:`StreamParser` chunk by chunk, so joining the stream's deltas gives what
:func:`parse` returns.

Reading is forgiving where meaning is not at stake: whitespace between layout pieces is
free (escaped ``\\n``/``\\t`` too, as ``echo`` without ``-e`` writes them), the call
object's keys may come in any order, and arguments given as a JSON string are decoded
once.  Markers are read as their literal text: runtimes must decode with special tokens
kept.
"""

from __future__ import annotations

import codecs
import dataclasses
import json
import os
import re
import string
from dataclasses import dataclass, field
from typing import Any, Callable, Generator, Iterable, Sequence

import jsonschema

from .encodings import get_encoding
from .errors import InputError, OptionsError, OutputParseError, ProfileError, join_path, path_of
from .profiles import Layout, Piece, Profile, get_profile
from .tools import Tool, load_tools

Delta = dict[str, Any]
Words = tuple[str, ...]  # a literal as whitespace-separated words (whitespace between is free)
Wait = Generator[None, None, Any]  # a reading step: yields when it needs more text

_SPACE = re.compile(r"(?:\s|\\[nrt])*")  # layout whitespace, escaped forms included
_TRAILING_SPACE = re.compile(r"(?:\s|\\[nrt])+$")
_STRING_STOP = re.compile(r'["\\]')
_NEST_STOP = re.compile(r'[{}\[\]"]')
_SCALAR_END = re.compile(r"[\s,}\]]")
# Functionary: output that starts with a word alone on its line (the recipient) is calls
_BARE_NAME = re.compile(r"[\w.:-]*")
_BARE_CALL = re.compile(r"[\w.:-]+[ \t]*\n")
_COUNTER = re.compile(r"\s*([0-9]+)\s*")  # a call id written as its counter alone (Kimi K2 Thinking)
_ID_TABLE = bytes((string.ascii_letters + string.digits).encode()[i % 62] for i in range(256))
_DECODER = json.JSONDecoder()
_LAYOUTS: dict[int, tuple[Profile, _Layout]] = {}  # by id(profile); the profile is kept alive


@dataclass
class Message:
    """An assistant message as OpenAI returns it."""

    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)

    def to_openai(self) -> dict[str, Any]:
        """The ``choices[0].message`` dict (``tool_calls`` and reasoning only when present)."""
        out: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.reasoning_content is not None:
            out["reasoning_content"] = self.reasoning_content
        if self.tool_calls:
            out["tool_calls"] = self.tool_calls
        return out

    @classmethod
    def from_deltas(cls, deltas: Iterable[Delta]) -> Message:
        """Join streamed deltas the way an OpenAI client does (calls assembled by ``index``)."""
        content, reasoning, calls = [], [], {}
        for delta in deltas:
            content.append(delta.get("content") or "")
            reasoning.append(delta.get("reasoning_content") or "")
            for part in delta.get("tool_calls", ()):
                call = calls.setdefault(part["index"], {"id": None, "type": "function",
                                                        "function": {"name": "", "arguments": ""}})
                call["id"] = part.get("id", call["id"])
                call["function"]["name"] += part.get("function", {}).get("name", "")
                call["function"]["arguments"] += part.get("function", {}).get("arguments", "")
        return cls("".join(content) or None, "".join(reasoning) or None,
                   [calls[i] for i in sorted(calls)])


def parse(text: str | bytes, format: str | Profile = "phi4-mini", *, tools: Any = None,
          lenient: bool = False, reasoning: str | None = None) -> Message:
    """Read one complete model output into content, reasoning and OpenAI tool_calls.

    ``tools`` (anything :func:`load_tools` reads): arguments are checked against each
    tool's schema and unknown names are errors.  Output that does not follow the format
    raises :class:`OutputParseError` with the character offset; with ``lenient`` the
    calls read before the fault are kept and the rest of the text becomes content (without
    the layout's own pieces).  ``reasoning="opened"``: the generation prompt opened the
    reasoning block, so the text up to its end marker is ``reasoning_content``.  Text after
    the calls is content; an end-of-turn token at the very end is dropped.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"output is not UTF-8 (byte {exc.start})") from exc
    reader = _Reader(get_profile(format), _tool_table(tools), lenient, _opened(reasoning))
    reader.push(text, final=True)
    return _fold(reader.take())


class StreamParser:
    """Parse output as it is generated, into OpenAI ``chat.completion.chunk`` deltas.

    Content is passed on as it arrives, except a tail that may be the start of a marker
    (held until decided).  Each call gives one delta with ``index``, ``id``, ``type`` and
    ``function.name``, then deltas appending ``function.arguments`` pieces.  ``feed``
    takes ``str`` or UTF-8 ``bytes`` (split anywhere).  Errors are raised as in
    :func:`parse`; with ``lenient`` a broken call already streamed stays as sent, and the
    text from the fault on follows as content.
    """

    def __init__(self, format: str | Profile = "phi4-mini", tools: Any = None, *,
                 lenient: bool = False, reasoning: str | None = None) -> None:
        self._reader = _Reader(get_profile(format), _tool_table(tools), lenient, _opened(reasoning))
        self._utf8 = codecs.getincrementaldecoder("utf-8")()

    def feed(self, chunk: str | bytes) -> list[Delta]:
        """Read the next piece of output; return the deltas it completes."""
        if isinstance(chunk, bytes):
            chunk = self._decode(chunk, final=False)
        self._reader.push(chunk, final=False)
        return _deltas(self._reader.take())

    def close(self) -> list[Delta]:
        """The output is complete: release what was held back, or raise if it is cut short."""
        self._reader.push(self._decode(b"", final=True), final=True)
        return _deltas(self._reader.take())

    def _decode(self, data: bytes, *, final: bool) -> str:
        try:
            return self._utf8.decode(data, final=final)
        except UnicodeDecodeError as exc:
            raise InputError(f"output is not UTF-8: {exc.reason}") from exc


def _opened(reasoning: Any) -> bool:
    if reasoning not in (None, False, True, "required", "opened"):
        raise InputError('reasoning must be None or "opened"', path="reasoning")
    return reasoning == "opened"


# -- events -> message / deltas ----------------------------------------------------------
# The reader emits ("content", s), ("reasoning", s), ("call", index, id, name),
# ("args", index, s) and, in lenient mode, ("failed", index | None) before the fallback.

def _fold(events: list[tuple[Any, ...]]) -> Message:
    content, reasoning, calls = [], [], []
    for event in events:
        kind = event[0]
        if kind == "content":
            content.append(event[1])
        elif kind == "reasoning":
            reasoning.append(event[1])
        elif kind == "call":
            calls.append({"id": event[2], "type": "function",
                          "function": {"name": event[3], "arguments": ""}})
        elif kind == "args":
            calls[event[1]]["function"]["arguments"] += event[2]
        elif kind == "failed" and event[1] is not None:
            del calls[event[1]:]  # a whole parse drops the call that broke
    return Message("".join(content) or None, "".join(reasoning) or None, calls)


def _deltas(events: list[tuple[Any, ...]]) -> list[Delta]:
    out: list[Delta] = []
    for event in events:
        kind = event[0]
        if kind == "content":
            out.append({"content": event[1]})
        elif kind == "reasoning":
            out.append({"reasoning_content": event[1]})
        elif kind == "call":
            out.append({"tool_calls": [{"index": event[1], "id": event[2], "type": "function",
                                        "function": {"name": event[3], "arguments": ""}}]})
        elif kind == "args":
            out.append({"tool_calls": [{"index": event[1], "function": {"arguments": event[2]}}]})
    return out


# -- the layout, as the reader needs it ----------------------------------------------------

def _alternatives(piece: Piece) -> list[Words]:
    """The ways a literal piece may be written, each as words."""
    if piece.kind == "marker":
        return [(piece.value,)]
    if piece.kind == "text":
        return [tuple(piece.value.split())]
    return [tuple(v.split()) for v in piece.value]


def _lead_words(pieces: Sequence[Piece]) -> Words:
    """The words a run of pieces surely starts with (up to the first choice or tool part)."""
    words: list[str] = []
    for piece in pieces:
        if piece.kind in ("text", "marker"):
            words += _alternatives(piece)[0]
            continue
        if piece.kind == "call_object":
            words.append("{")
        elif piece.kind == "arguments" and get_encoding(piece.value).lead:
            words.append(get_encoding(piece.value).lead)
        elif piece.kind == "name" and piece.value == "json":
            words.append('"')
        break
    return tuple(words)


def _stops(following: Sequence[Piece], omitted: Sequence[str] = ()) -> tuple[str, ...]:
    """The texts that end a raw name or id: the next literal's first word, or what the
    arguments start with where they come next (Functionary's ``name\n{``, GLM's
    ``name<arg_key>``, whose arguments may also be absent: the next literal too).  A marker
    real outputs leave out (``omitted``) stops it, and so does what follows it."""
    found: list[str] = []
    for piece in following:
        if piece.is_literal:
            words = [w[0] for w in _alternatives(piece) if w]
            if words and piece.kind == "marker" and piece.value in omitted:
                found += words
                continue
            if words:
                return tuple(found + words)
            continue  # whitespace only: the raw text is stripped anyway
        if piece.kind == "arguments":
            encoding = get_encoding(piece.value)
            found += getattr(encoding, "starts", ())
            if encoding.lead:  # the arguments are always there
                return tuple(found)
            continue
        break
    return ()


@dataclass(frozen=True)
class _Layout:
    begin: tuple[Piece, ...]
    call: tuple[Piece, ...]
    separator: tuple[Piece, ...]
    end: tuple[Piece, ...]
    leads: tuple[str, ...]  # texts that open the call section
    sure_leads: tuple[str, ...]  # leads that open calls wherever they stand (markers)
    next_call: Words  # separator + the start of a call: another call follows
    call_starts: tuple[Words, ...]  # a call's own start: another call, its separator left out
    end_words: Words
    end_of_turn: tuple[str, ...]  # dropped at the end of the output
    layout_words: tuple[str, ...]  # separator and end words, kept out of lenient content
    stops: tuple[tuple[str, ...], ...] = ()  # per call piece: the texts that end it when raw
    opening: Words = ()  # the words a section of this layout surely starts with
    bare: bool = False  # calls start with the tool name: the output's start, or calls_after_text
    also: tuple[_Layout, ...] = ()  # the profile's read_also layouts

    @classmethod
    def of(cls, profile: Profile) -> _Layout:
        """The profile's layout, with its ``read_also`` layouts (each read as if it were the
        profile's own); a section opens at any of their leads."""
        layout = cls._one(profile)
        alts = [Layout(profile.begin, profile.call, profile.separator, profile.end), *profile.read_also]
        # read_wrappers: each layout again, inside each wrapper (xLAM's ```json fence)
        wrapped = [dataclasses.replace(alt, begin=(_wrap_piece(profile, begin), *alt.begin),
                                       end=(*alt.end, *([_wrap_piece(profile, end)] if end.strip() else [])))
                   for begin, end in profile.read_wrappers for alt in alts]
        also = [cls._one(dataclasses.replace(profile, begin=alt.begin, call=alt.call,
                                             separator=alt.separator, end=alt.end, read_also=()))
                for alt in [*alts[1:], *wrapped]]
        leads = tuple(dict.fromkeys(lead for lay in (layout, *also) for lead in lay.leads))
        sure = tuple(dict.fromkeys(lead for lay in (layout, *also) for lead in lay.sure_leads))
        return dataclasses.replace(layout, also=tuple(also), leads=leads, sure_leads=sure)

    @classmethod
    def _one(cls, profile: Profile) -> _Layout:
        pieces = [p for p in profile.begin + profile.call if p.kind != "text" or p.value.split()]
        # A marker the model may leave out at the start opens a section as the optional ones
        # do, and so does what follows it (Qwen3-Coder's <function= without its <tool_call>).
        # One left out further in (Kimi K2's "functions.") is only read where it stands.
        omitted = []
        for p in pieces:
            if p.kind == "marker" and p.value in profile.may_omit:
                omitted.append(p.value)
            elif p.kind != "optional":
                break
        optional = [p.value for p in pieces if p.kind == "optional"] + omitted
        first = next((p for p in pieces if p.kind != "optional" and p.value not in omitted), None)
        bare = first is not None and first.kind in ("name", "id", "index")
        if first is None or bare and not (profile.content_begin and profile.calls_after_text):
            raise ProfileError("the parser needs the call section to start with literal text "
                               "(or text to be told apart by content_begin, and calls after it "
                               "by calls_after_text)", source=profile.path, path="layout")
        if bare:  # Functionary: output that isn't text is calls; after text, calls_after_text
            leads: tuple[str, ...] = (profile.calls_after_text,)
        else:
            leads = tuple(w[0] for w in _alternatives(first) if w) if first.is_literal \
                else _lead_words([first])
        words = [w for p in profile.separator + profile.end if p.is_literal
                 for alt in _alternatives(p) for w in alt]
        sure = (*optional, *leads) if profile.content_before_calls or first.kind == "marker" or bare \
            else tuple(optional)
        starts = [(m,) for m in optional] + [_lead_words([p]) for p in profile.call[:1]
                                             if p.kind in ("marker", "call_object")]
        if profile.call[0].kind == "marker" and profile.call[0].value in omitted:
            starts.append(_lead_words(profile.call[1:]))
        layout = cls(profile.begin, profile.call, profile.separator, profile.end,
                     (*optional, *leads), sure, _lead_words(profile.separator + profile.call),
                     tuple(w for w in starts if w), _lead_words(profile.end),
                     profile.end_of_turn, tuple(dict.fromkeys(words)),
                     tuple(_stops(profile.call[i + 1:], profile.may_omit) for i in range(len(profile.call))),
                     _lead_words(profile.begin + profile.call), bare=bare)
        if not layout.next_call:
            raise ProfileError("the parser needs a separator or a call start of literal text",
                               source=profile.path, path="layout.separator")
        for i, piece in enumerate(profile.call):
            if (piece.kind == "index" or piece.kind in ("name", "id") and piece.value == "raw") \
                    and not _stops(profile.call[i + 1:], profile.may_omit):
                raise ProfileError(f"a raw {piece.kind} must be followed by a literal piece",
                                   source=profile.path, path=f"layout.call[{i}]")
        return layout


def _wrap_piece(profile: Profile, text: str) -> Piece:
    """A wrapper's text as a layout piece: a marker where the model has it as a token."""
    return Piece("marker" if profile.is_special(text) else "text", text)


def _tool_table(tools: Any) -> dict[str, Tool] | None:
    if tools is None:
        return None
    return {t.name: t for t in load_tools(tools)}


_MATCH, _PARTIAL, _FAIL = "match", "partial", "fail"


def _try(text: str, pos: int, words: Words) -> tuple[str, int]:
    """Does ``text`` at ``pos`` read as ``words``: fully, as a prefix so far, or not at all."""
    for word in words:
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if text.startswith(word, pos):
            pos += len(word)
            continue
        rest = text[pos:pos + len(word)]
        if len(rest) < len(word) and word.startswith(rest):
            return _PARTIAL, pos
        if text.endswith("\\", pos, pos + 1) and pos + 1 == len(text):
            return _PARTIAL, pos  # maybe an escaped newline to come
        return _FAIL, pos
    return _MATCH, pos


def _held(text: str, start: int, leads: Sequence[str], whole: Sequence[str] = ()) -> int:
    """How many trailing characters may begin a lead (held back from content); a text in
    ``whole`` is held even when it is all there (it is dropped if the output ends with it)."""
    longest = min(max(len(lead) - (lead not in whole) for lead in leads), len(text) - start)
    for k in range(longest, 0, -1):
        tail = text[len(text) - k:]
        if any(lead.startswith(tail) for lead in leads):
            return k
    return 0


def _excerpt(text: str, pos: int) -> str:
    return repr(text[pos:pos + 20]) if pos < len(text) else "the end of the output"


class _Markup:
    """Inline tags the model's consumers drop from its text (``drop_markup``: Cohere's
    ``<co>span</co: 0:[1]>`` citations): removed as the text streams by, the text between
    kept.  A tail that may begin a tag is held; a tag with an ``end`` must close within
    ``LIMIT`` characters, else its begin was text.  The result does not depend on chunking."""

    LIMIT = 256

    def __init__(self, tags: Sequence[tuple[str, str]]) -> None:
        self.tags = sorted(tags, key=lambda t: -len(t[0]))  # the longest begin wins a tie
        self.held = ""

    def feed(self, text: str, final: bool) -> str:
        buf, out = self.held + text, []
        while True:
            hits = [(at, begin, end) for begin, end in self.tags if (at := buf.find(begin)) >= 0]
            if not hits:
                break
            at, begin, end = min(hits, key=lambda h: h[0])
            stop = at + len(begin)
            if end:
                close = buf.find(end, stop, stop + self.LIMIT)
                if close < 0:
                    if not final and len(buf) - stop < self.LIMIT:  # it may close yet
                        self.held = buf[at:]
                        return "".join(out) + buf[:at]
                    out.append(buf[:stop])  # never closed: its begin was text
                    buf = buf[stop:]
                    continue
                stop = close + len(end)
            out.append(buf[:at])
            buf = buf[stop:]
        keep = 0 if final else _held(buf, 0, [begin for begin, _ in self.tags])
        self.held = buf[len(buf) - keep:]
        return "".join(out) + buf[:len(buf) - keep]


class _Reader:
    """The layout interpreter: a generator that reads what it can and waits for more."""

    def __init__(self, profile: Profile, tools: dict[str, Tool] | None, lenient: bool,
                 opened: bool = False) -> None:
        self.profile = profile
        if opened and profile.reasoning is None:  # compile refuses it too: say so, don't ignore it
            raise OptionsError(f"format {profile.name!r} has no reasoning block", path="reasoning")
        self.opened = opened
        if id(profile) not in _LAYOUTS:
            _LAYOUTS[id(profile)] = (profile, _Layout.of(profile))
        self.layout = _LAYOUTS[id(profile)][1]
        self.tools = tools
        self.lenient = lenient
        self.text = ""
        self.pos = 0
        self.final = False
        self.events: list[tuple[Any, ...]] = []
        self.resume = 0  # where lenient fallback content starts
        self.section_start = 0  # where the call section being read starts
        self.held_from: int | None = None  # events from here on wait (a tentative section)
        self.closing = False  # the current call's arguments are read: only closing pieces remain
        self.calls = 0  # calls opened so far
        self.open: int | None = None  # index of a call whose header was sent, until it ends
        self.error: OutputParseError | None = None
        self.said = False  # has any content gone out
        self.opening_read = False  # open_content skipped an opening it has not yet reported
        self.validators: dict[str, Any] = {}
        self.markup = {kind: _Markup(profile.drop_markup) for kind in ("content", "reasoning")} \
            if profile.drop_markup else {}
        self._steps = self._run()

    def push(self, chunk: str, *, final: bool) -> None:
        if self.error is not None:
            raise self.error
        self.text += chunk
        self.final = final
        try:
            next(self._steps)
        except StopIteration:
            pass
        except OutputParseError as exc:
            self.error = exc
            raise

    def say(self, content: str) -> None:
        self.events.append(("content", content))
        self.said = True

    def take(self) -> list[tuple[Any, ...]]:
        cut = len(self.events) if self.held_from is None else self.held_from
        events, self.events = self.events[:cut], self.events[cut:]
        if self.held_from is not None:
            self.held_from = 0
        return self.unmark(events) if self.markup else events

    def unmark(self, events: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """Content and reasoning without the profile's inline markup (``drop_markup``); a tag
        never spans a call or the other channel, so each flushes what a channel held."""
        out: list[tuple[Any, ...]] = []
        for event in [*events, ("end",)] if self.final and self.held_from is None else events:
            for kind, markup in self.markup.items():
                if kind != event[0] and markup.held and (rest := markup.feed("", final=True)):
                    out.append((kind, rest))
            if event[0] in self.markup:
                if text := self.markup[event[0]].feed(event[1], final=False):
                    out.append((event[0], text))
            elif event[0] != "end":
                out.append(event)
        return out

    # -- primitives ------------------------------------------------------------------
    def fail(self, message: str, offset: int, path: str = "") -> OutputParseError:
        return OutputParseError(f"{message} at offset {offset}", offset=offset, path=path)

    def more(self, what: str) -> Wait:
        """Wait for more text; at the end of the output, it was cut short."""
        if self.final:
            raise self.fail(f"the output ends inside {what}", len(self.text))
        yield

    def space(self) -> Wait:
        """Skip layout whitespace, waiting until something else (or the end) comes."""
        while True:
            self.pos = _SPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]
            waiting = self.pos >= len(self.text) or (  # a lone "\" may start an escaped newline
                self.pos + 1 == len(self.text) and self.text[self.pos] == "\\")
            if not waiting or self.final:
                return
            yield

    def lookahead(self, alternatives: Sequence[Words], what: str) -> Wait:
        """Index of the first alternative the text reads as (nothing consumed).

        Where the output simply ends after a complete call, the closing pieces it left out
        (a model stopped at its end-of-turn token) read as the last alternative: the end.
        """
        while True:
            found = [_try(self.text, self.pos, words) for words in alternatives]
            if self.final or all(status != _PARTIAL for status, _ in found):
                for k, (status, _) in enumerate(found):
                    if status == _MATCH:
                        return k
                status, end = found[-1]
                if self.clean_end() or (self.final and self.closing and status == _PARTIAL
                                        and not self.text[end:].strip()):
                    # the end's first words are there and the model stopped before the rest
                    # (Apertus's "]" without its <|tools_suffix|>)
                    return len(alternatives) - 1
                if self.ending_soon():
                    yield  # maybe the end-of-turn token that clean_end forgives, cut short
                    continue
                at = max(end for _, end in found)  # where the likeliest reading broke off
                raise self.fail(f"expected {what}, found {_excerpt(self.text, at)}", at)
            yield

    def clean_end(self) -> bool:
        """The output ends here, after a complete call (only an end-of-turn token follows)."""
        rest = self.text[self.pos:].strip()
        return self.final and self.closing and (not rest or rest in self.layout.end_of_turn)

    def ending_soon(self) -> bool:
        """Streaming, after a complete call: the text so far may be the start of an
        end-of-turn token, which :meth:`clean_end` forgives once the output ends there
        (Gemma 4 closing a call with ``<turn|>``), so wait rather than fail."""
        rest = self.text[self.pos:].strip()
        return not self.final and self.closing and any(e.startswith(rest) for e in self.layout.end_of_turn)

    def literal(self, piece: Piece) -> Wait:
        if self.clean_end():
            return  # a closing piece the model left out at the very end
        alternatives = _alternatives(piece)
        status, end = _try(self.text, self.pos, alternatives[0])
        if status == _MATCH and len(alternatives) == 1:  # the common case, without waiting
            self.pos = end
            return
        k = yield from self.lookahead(alternatives, " or ".join(
            repr(" ".join(w)) for w in alternatives))
        self.pos = _try(self.text, self.pos, alternatives[k])[1]

    def char(self, expected: str, what: str) -> Wait:
        at = _SPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]
        if at < len(self.text) and self.text[at] in expected:  # the common case, without waiting
            self.pos = at + 1
            return self.text[at]
        yield from self.space()
        while self.pos >= len(self.text):
            yield from self.more(what)
        if self.text[self.pos] not in expected:
            raise self.fail(f"expected {what}, found {_excerpt(self.text, self.pos)}", self.pos)
        self.pos += 1
        return self.text[self.pos - 1]

    def complete(self, start: int) -> tuple[Any, int] | None:
        """The JSON value at ``start`` if it is all there (C speed; the scanners wait otherwise)."""
        try:
            value, end = _DECODER.raw_decode(self.text, start)
        except json.JSONDecodeError:
            return None
        if end == len(self.text) and not self.final and self.text[start] not in '"{[':
            return None  # a number may go on
        return value, end

    def json_string(self, what: str) -> Wait:
        """A JSON string at pos (after whitespace), decoded."""
        yield from self.char('"', what)
        start, i = self.pos - 1, self.pos
        done = self.complete(start)
        if done is not None:
            self.pos = done[1]
            return done[0]
        while True:
            m = _STRING_STOP.search(self.text, i)
            if m is None or m.end() >= len(self.text) and m.group() == "\\":
                i = len(self.text) if m is None else m.start()
                yield from self.more(what)
                continue
            if m.group() == "\\":
                i = m.end() + 1
                continue
            self.pos = m.end()
            return self.decode(start, self.pos, what)

    def nested(self, emit: Callable[[str], None] | None, what: str) -> Wait:
        """A JSON object or array at pos, its raw text passed to ``emit`` as it arrives."""
        start = sent = self.pos
        done = self.complete(start)
        if done is not None:
            self.pos = done[1]
            if emit:
                emit(self.text[start:self.pos])
            return self.text[start:self.pos]
        depth, i, in_string = 0, self.pos, False
        while True:
            text = self.text
            while i < len(text):
                if in_string:
                    m = _STRING_STOP.search(text, i)
                    if m is None:
                        i = len(text)
                    elif m.group() == "\\":
                        if m.end() >= len(text):
                            i = m.start()
                            break
                        i = m.end() + 1
                    else:
                        in_string, i = False, m.end()
                    continue
                m = _NEST_STOP.search(text, i)
                if m is None:
                    i = len(text)
                    continue
                c, i = m.group(), m.end()
                if c == '"':
                    in_string = True
                elif c in "{[":
                    depth += 1
                else:
                    depth -= 1
                    if depth == 0:
                        if emit:
                            emit(text[sent:i])
                        self.pos = i
                        return text[start:i]
            if emit and i > sent:
                emit(text[sent:i])
                sent = i
            yield from self.more(what)

    def value(self, what: str) -> Wait:
        """Any JSON value at pos, decoded."""
        yield from self.space()
        while self.pos >= len(self.text):
            yield from self.more(what)
        c = self.text[self.pos]
        if c == '"':
            return (yield from self.json_string(what))
        start = self.pos
        done = self.complete(start)
        if done is not None:
            self.pos = done[1]
            return done[0]
        if c in "{[":
            yield from self.nested(None, what)
        else:
            while (m := _SCALAR_END.search(self.text, start)) is None and not self.final:
                yield
            self.pos = m.start() if m else len(self.text)
        return self.decode(start, self.pos, what)

    def decode(self, start: int, end: int, what: str) -> Any:
        try:
            return json.loads(self.text[start:end])
        except json.JSONDecodeError as exc:
            raise self.fail(f"invalid JSON in {what}: {exc.msg}", start + exc.pos) from exc

    # -- the output ----------------------------------------------------------------------
    def _run(self) -> Wait:
        try:
            yield from self.reasoning()
            yield from self.content()
        except OutputParseError:
            if not self.lenient:
                raise
            self.events.append(("failed", self.open))
            self.pos = self.resume
            if not self.said:
                yield from self.space_plain()
            if self.resume == self.section_start:  # nothing of the section could be read
                yield from self.plain(self.pos)
                return
            # After calls that were read, the unread rest is content without the layout's
            # own pieces: the separator before it, the section's end after it.
            for piece in self.layout.separator + self.layout.end:
                if piece.is_literal:
                    yield from self.space_plain()
                    yield from self.maybe(_alternatives(piece)[0])
            yield from self.space_plain()
            yield from self.plain(self.pos, droppable=self.layout.layout_words)

    def reasoning(self) -> Wait:
        r = self.profile.reasoning
        if r is None:
            return
        if not self.opened:
            while True:
                status, end = _try(self.text, self.pos, (r.begin,))
                if status == _MATCH:
                    break
                if status == _FAIL or self.final:
                    return
                yield
            self.pos = self.resume = end
        pad = len(r.pad)  # the padding a template writes inside the block (Qwen3's newlines)
        while pad and r.pad.startswith(self.text[self.pos:self.pos + pad]) and not self.final \
                and len(self.text) - self.pos < pad:
            yield  # not yet known whether the block starts with its padding
        if pad and self.text.startswith(r.pad, self.pos):
            self.pos += pad
        ends = (r.end, *r.read_end)  # the end the grammar writes, and others real outputs show
        # A call section's opening special token ends a block the model never closes (llama.cpp
        # and SGLang read it so): what follows it is held until the block closes after all
        # (then it was reasoning) or the output ends (then the calls start there).
        opens = tuple(lead for lead in self.layout.sure_leads if self.profile.is_special(lead))
        while True:
            found, end = min(((f, e) for e in ends if (f := self.text.find(e, self.pos)) >= 0),
                             default=(-1, r.end))
            opened = min((f for lead in opens if (f := self.text.find(lead, self.pos)) >= 0), default=-1)
            if found < 0 and opened >= 0 and self.final:
                found, end = opened, ""
            if found >= 0 or opened < 0:
                stop = found if found >= 0 else len(self.text) - _held(self.text, self.pos, (*ends, *opens))
            else:
                stop = opened
            if found >= 0 and pad and self.text.endswith(r.pad, self.pos, found):
                stop = found - pad
            elif found < 0 and pad:
                stop = max(self.pos, stop - pad)  # may be the padding before the end marker
            if stop > self.pos:
                self.events.append(("reasoning", self.text[self.pos:stop]))
            self.pos = self.resume = stop
            if found >= 0:
                self.pos = self.resume = found + len(end)
                return
            yield from self.more(f"the reasoning block (no {r.end!r})")

    def maybe(self, words: Words) -> Wait:
        """Read ``words`` if the text has them here (True), else nothing (False)."""
        while True:
            status, end = _try(self.text, self.pos, words)
            if status == _MATCH:
                self.pos = end
                return True
            if status == _FAIL or self.final:
                return False
            yield

    def content(self) -> Wait:
        """Text and call sections in turn; content trimmed at both ends.

        A section may open anywhere its lead is a marker (or the format lets text come
        first); a plain-text lead (``{``, ``[``, ``functools[``) after text is only
        *tentatively* a section: held back until it reads as calls, else it was text.
        """
        layout = self.layout
        yield from self.space_plain()
        fresh = True  # text may open here with the format's content marker
        while True:
            if not self.said:
                yield from self.space_plain()
            if fresh:
                opened = self.open_content()
                if opened is None:  # maybe the opening marker, cut short: wait for more
                    yield
                    continue
                fresh = False
                if opened and not self.said:  # "<answer>\ntext": content is trimmed
                    yield from self.space_plain()
                if not opened and layout.bare and not self.said and self.calls == 0:
                    ahead = _BARE_CALL.match(self.text, self.pos)
                    if ahead is None and not self.final and _BARE_NAME.fullmatch(self.text, self.pos):
                        fresh = True  # the first line may yet read as a tool name
                        yield
                        continue
                    if ahead is not None:  # a tool name on its own line: the calls, from the start
                        yield from self.section(self.pos)
                        fresh = True
                        continue
            found = [(f, lead) for f, lead in ((self.text.find(lead, self.pos), lead)
                                                for lead in layout.leads) if f >= 0]
            stop, lead = min(found) if found else (None, "")
            at_start = not self.said and stop == self.pos and self.calls == 0
            shown = self.shown_end(stop)
            if shown > self.pos:
                self.say(self.text[self.pos:shown])
            self.pos = max(self.pos, shown)
            if stop is not None and not at_start and lead not in layout.sure_leads:
                if not (yield from self.tentative(self.pos)):
                    self.say(self.text[self.pos:stop + len(lead)])  # it was text after all
                    self.pos = stop + len(lead)
                continue
            if stop is not None:
                yield from self.section(self.pos)
                fresh = True
                continue
            if self.final:
                return
            yield

    def open_content(self) -> bool | None:
        """Skip the markers the format writes before text (Command R7B's <|START_RESPONSE|>,
        Functionary's ``all\n``; one after another: Hunyuan's ``<answer>`` then ``助手：``)
        where text starts with them: True if it did, False if the text starts otherwise, None
        while that cannot be told yet (what was skipped stays skipped)."""
        openings = sorted((o for o in (self.profile.content_begin, *self.profile.read_content_begin) if o),
                          key=len, reverse=True)
        if not openings:
            return False
        while openings:
            at = _SPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]
            opening = next((o for o in openings if self.text.startswith(o, at)), None)
            if opening is None:
                break
            self.pos, self.opening_read = at + len(opening), True
            openings.remove(opening)  # each once
        rest = self.text[_SPACE.match(self.text, self.pos).end():]  # type: ignore[union-attr]
        if not self.final and any(o.startswith(rest) and len(rest) < len(o) for o in openings):
            return None
        opened, self.opening_read = self.opening_read, False
        return opened

    def tentative(self, start: int) -> Wait:
        """Read a section whose calls nothing promised; nothing goes out until it is whole.
        True if it read as calls, False (nothing kept) if it did not."""
        self.held_from, calls, pos = len(self.events), self.calls, self.pos
        try:
            yield from self.section(start)
        except OutputParseError:
            del self.events[self.held_from:]
            self.calls, self.open, self.pos, self.held_from = calls, None, pos, None
            return False
        self.held_from = None
        return True

    def shown_end(self, stop: int | None, droppable: Sequence[str] = ()) -> int:
        """Where content that can go out now ends: before ``stop`` (a call section), or
        before trailing whitespace, a tail that may yet begin a lead, and the end-of-turn
        token (or ``droppable`` layout pieces) that end the output."""
        text, pos = self.text, self.pos
        closings = [c for c in (self.profile.content_end, *self.profile.read_content_end) if c]
        if stop is not None:
            end = pos + len(text[pos:stop].rstrip())
            closing = next((c for c in closings if text.endswith(c, pos, end)), "")
            if closing:  # the text's own closing marker
                end = pos + len(text[pos:end - len(closing)].rstrip())
            return end
        drop = (*self.layout.end_of_turn, *droppable, *closings)
        end = len(text)
        while True:
            end = pos + len(text[pos:end].rstrip())
            if not self.final:
                end -= _held(text[:end], pos, [*self.layout.leads, *drop], whole=drop)
                end = pos + len(text[pos:end].rstrip())
            tail = next((d for d in drop if text.endswith(d, pos, end)), None)
            if tail is None:
                return end
            end -= len(tail)

    def space_plain(self) -> Wait:
        """Skip leading whitespace of content (real whitespace only)."""
        while True:
            while self.pos < len(self.text) and self.text[self.pos].isspace():
                self.pos += 1
            if self.pos < len(self.text) or self.final:
                return
            yield

    def plain(self, start: int, droppable: Sequence[str] = ()) -> Wait:
        """Everything from ``start`` on is content (trailing whitespace and end of turn dropped)."""
        self.pos = start
        if not self.said:
            yield from self.space_plain()
        while True:
            shown = self.shown_end(None, droppable)
            if shown > self.pos:
                self.say(self.text[self.pos:shown])
                self.pos = shown
            if self.final:
                return
            yield

    def section(self, start: int) -> Wait:
        primary = self.layout
        self.pos = _SPACE.match(self.text, start).end()  # type: ignore[union-attr]
        self.layout = yield from self.choose(primary)
        try:
            yield from self.calls_of(start)
        finally:
            self.layout = primary

    def slot_text(self, stops: Sequence[str]) -> Wait:
        """The turn's text where the layout holds it, up to the next piece: content."""
        while True:
            found = [f for f in (self.text.find(s, self.pos) for s in stops) if f >= 0]
            if found:
                break
            yield from self.more("the text of the call section")
        text = self.text[self.pos:min(found)].strip()
        if text:
            self.say(text)
        self.pos = min(found)

    def choose(self, primary: _Layout) -> Wait:
        """The layout this section is written in: of the profile's layouts whose opening
        words the text reads as, the one that reads the most (LFM2's ``[{`` is its older
        JSON layout, ``[get_weather(`` its own)."""
        if not primary.also:
            return primary
        while True:
            found = [(_try(self.text, self.pos, lay.opening)[0], lay) for lay in (primary, *primary.also)]
            if self.final or all(status != _PARTIAL for status, _ in found):
                read = [lay for status, lay in found if status == _MATCH]
                return max(read, key=lambda lay: len(lay.opening), default=primary)
            yield

    def calls_of(self, start: int) -> Wait:
        layout = self.layout
        self.resume = self.section_start = start
        if layout.bare and self.text.startswith(self.profile.calls_after_text, self.pos):
            self.pos += len(self.profile.calls_after_text)  # the calls after the text
        for i, piece in enumerate(layout.begin):
            if piece.kind == "content":  # the turn's text inside the section (Llama 4)
                yield from self.slot_text(_stops(layout.begin[i + 1:] + layout.call))
                continue
            yield from self.piece(piece, None)
        while True:
            yield from self.call()
            self.resume = self.pos
            choice = yield from self.lookahead(
                [layout.next_call, *layout.call_starts, layout.end_words],
                "another call or the end of the calls")
            if choice == 0:
                for piece in layout.separator:
                    yield from self.piece(piece, None)
            if choice <= len(layout.call_starts):
                continue
            for piece in layout.end:
                yield from self.piece(piece, None)
            break
        self.closing = False
        self.resume = self.pos

    def piece(self, piece: Piece, call: _Call | None) -> Wait:
        if piece.kind == "optional" or piece.kind == "marker" and piece.value in self.profile.may_omit:
            yield from self.maybe((piece.value,))
        elif piece.is_literal:
            yield from self.literal(piece)
        elif call is None:
            raise ProfileError(f"a {piece.kind} piece may only appear in layout.call",
                               source=self.profile.path)
        elif piece.kind == "name" and piece.value == "raw":
            call.set_name(*(yield from self.raw_text(call, "the tool name")))
        elif piece.kind == "id":
            call.set_id((yield from self.raw_text(call, "the call id"))[0])
        elif piece.kind == "index":
            text, at = yield from self.raw_text(call, "the call index")
            if not text.isdigit():
                raise self.fail(f"the call index must be a number, not {text[:20]!r}", at)
        elif piece.kind == "name":
            yield from self.space()
            at = self.pos
            call.set_name((yield from self.json_string("the tool name")), at)
        elif piece.kind == "arguments":
            yield from get_encoding(piece.value).read(self, call)
        else:
            yield from self.call_object(call, piece.value, piece.id_key)

    def call(self) -> Wait:
        call = _Call(self, self.calls, hold=any(p.id_key for p in self.layout.call))
        self.calls += 1
        self.closing = False
        pieces = self.layout.call
        id_from = None  # where the text of an id_of group starts
        skip = 0  # pieces of an id_of group written as its counter alone
        for i, piece in enumerate(pieces):
            if i < skip:
                continue
            call.stops = self.layout.stops[i]
            if piece.in_id and id_from is None and self.profile.may_omit_name:
                after = next((j for j in range(i, len(pieces)) if not pieces[j].in_id), len(pieces))
                counter = yield from self.counter(pieces[after:after + 1])
                if counter is not None:  # Kimi K2 Thinking's "0": named at the end, from the tools
                    call.set_id(counter)
                    skip = after
                    continue
            if piece.in_id and id_from is None:
                id_from = self.pos
            yield from self.piece(piece, call)
            if piece.in_id and (i + 1 == len(pieces) or not pieces[i + 1].in_id):
                call.set_id(_TRAILING_SPACE.sub("", self.text[id_from:self.pos]).strip())
            self.closing = self.closing or piece.kind in ("arguments", "call_object")
        call.finish()

    def counter(self, following: Sequence[Piece]) -> Wait:
        """A call id written as its bare counter (``may_omit_name``): the digits, if the text
        here is digits and then the piece after the id; else None, nothing read."""
        words = _alternatives(following[0])[0] if following and following[0].is_literal else ()
        while True:
            found = _COUNTER.match(self.text, self.pos)
            waiting = not self.final and (found is None and not self.text[self.pos:].strip()
                                          or found is not None and found.end() == len(self.text))
            if waiting:
                yield
                continue
            if found is None:
                return None
            status, _ = _try(self.text, found.end(), words)
            if status == _PARTIAL and not self.final:
                yield
                continue
            if status != _MATCH:
                return None
            self.pos = found.end()
            return found.group(1)

    def raw_text(self, call: _Call, what: str) -> Wait:
        """A bare name or id, ending where the next literal piece begins: (text, offset)."""
        stops = call.stops  # _Layout.of checks there are some
        start = self.pos
        while True:
            found = [f for f in (self.text.find(s, start) for s in stops) if f >= 0]
            if found:
                break
            yield from self.more(what)
        end = min(found)
        self.pos = end
        text = _TRAILING_SPACE.sub("", self.text[start:end]).strip()  # escaped "\n" too
        return text, _SPACE.match(self.text, start).end()  # type: ignore[union-attr]

    def arguments(self, call: _Call) -> Wait:
        """A JSON arguments object (inside a call object)."""
        yield from get_encoding("json").read(self, call)

    def call_object(self, call: _Call, keys: Sequence[str], id_key: str = "") -> Wait:
        """``{"name": N, "<key>": A}`` in any key order; A an object or a JSON string of one.

        Any other key is an error: arguments under a key the format doesn't list would
        otherwise be lost (lenient mode takes an unknown key's object as the arguments).
        """
        yield from self.char("{", "a call object")
        if (yield from self.peek()) == "}":
            self.pos += 1
            return
        while True:
            key_at = _SPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]
            key = yield from self.json_string("a key of the call object")
            yield from self.char(":", "':'")
            yield from self.space()
            at = self.pos
            if key == "name":
                name = yield from self.value("the tool name")
                if not isinstance(name, str):
                    raise self.fail("the tool name must be a string", at)
                call.set_name(name, at)
            elif key in keys and call.args_at is None:
                if (yield from self.peek()) == "{":
                    yield from self.arguments(call)
                else:
                    encoded = yield from self.value("the arguments")
                    if not isinstance(encoded, str):
                        raise self.fail("arguments must be a JSON object", at)
                    call.args_at = at
                    call.args_piece(encoded.strip() or "{}")  # a JSON string of the object: decoded once
            elif key == "type" and "type" not in keys:  # OpenAI's own call shape: {"type": "function", ...}
                kind = yield from self.value("the call type")
                if kind != "function":
                    raise self.fail(f"a call's type is \"function\", not {json.dumps(kind)}", at)
            elif key == (id_key or "id"):
                given = yield from self.value("the call id")
                if not (isinstance(given, str) and given):
                    raise self.fail("the call id must be a non-empty string", at)
                call.set_id(given)
            else:
                value = yield from self.value(f"the value of {key!r}")
                if not self.lenient:
                    raise self.fail(f"unexpected key {key!r} in the call object (this format "
                                    f"reads name, {', '.join(keys)}" + (f", {id_key}" if id_key else "")
                                    + ")", key_at)
                if isinstance(value, dict) and call.args_at is None:
                    call.args_at = at
                    call.args_piece(json.dumps(value, ensure_ascii=False))
            if (yield from self.char(",}", "',' or '}'")) == "}":
                return

    def peek(self) -> Wait:
        yield from self.space()
        while self.pos >= len(self.text):
            yield from self.more("a call object")
        return self.text[self.pos]

    def name_from_arguments(self, text: str, given: str, at: int) -> str:
        """The tool a call written with its id alone is for: the one tool whose schema its
        arguments fit, every key declared (as vLLM's Kimi K2 parser infers it)."""
        if self.tools is None:
            raise self.fail(f"the call names no tool, only its id {given!r} (give the tool list "
                            "to read which tool it is for)", at)
        try:
            arguments = json.loads(text or "{}")
        except json.JSONDecodeError:
            arguments = None
        fits = [name for name, tool in self.tools.items() if isinstance(arguments, dict)
                and self.validator(tool).is_valid(arguments)
                and (not isinstance(props := tool.parameters.get("properties"), dict)
                     or set(arguments) <= set(props))]
        if len(fits) != 1:
            which = f"fit {', '.join(fits)}" if fits else "fit no tool"
            raise self.fail(f"the call names no tool, only its id {given!r}, and its arguments {which}", at)
        return fits[0]

    def validator(self, tool: Tool) -> Any:
        if tool.name not in self.validators:
            cls = jsonschema.validators.validator_for(tool.parameters)
            self.validators[tool.name] = cls(tool.parameters)
        return self.validators[tool.name]


class _Call:
    """One call being read: its header goes out once the name is known and arguments begin."""

    def __init__(self, reader: _Reader, index: int, hold: bool = False) -> None:
        self.reader = reader
        self.index = index
        self.hold = hold  # the id comes after the arguments: the header waits for it
        self.name: str | None = None
        self.id: str | None = None
        self.sent: int | None = None  # set once the header delta has gone out
        self.pending: list[str] = []  # argument text read before the name
        self.args: list[str] = []
        self.args_at: int | None = None
        self.raw = False  # arguments read as written (error offsets point inside them)
        self.stops: tuple[str, ...] = ()  # where a raw piece being read ends

    def set_name(self, name: str, at: int) -> None:
        reader = self.reader
        if not name:
            raise reader.fail("empty tool name", at)
        if reader.tools is not None and name not in reader.tools:
            known = ", ".join(sorted(reader.tools)[:10])
            raise reader.fail(f"unknown tool {name!r} (known: {known})", at)
        self.name = name

    def set_id(self, given: str) -> None:
        """The id the model wrote: it is the call's id (sent with the header)."""
        if self.sent is None:
            self.id = given
        self.hold = False
        if self.name is not None and self.args_at is not None:
            self.args_piece("")

    def args_piece(self, text: str) -> None:
        self.args.append(text)
        if self.name is None or self.hold:
            self.pending.append(text)
            return
        self.header()
        if self.pending:
            text, self.pending = "".join(self.pending) + text, []
        if text:
            self.reader.events.append(("args", self.index, text))

    def header(self) -> None:
        if self.sent is None:
            self.id = self.id or "call_" + os.urandom(24).translate(_ID_TABLE).decode()
            self.reader.events.append(("call", self.index, self.id, self.name))
            self.sent = self.reader.open = self.index

    def finish(self) -> None:
        reader = self.reader
        end = reader.pos
        if self.name is None and self.id is not None and reader.profile.may_omit_name:
            self.name = reader.name_from_arguments("".join(self.args), self.id, end)
        if self.name is None:
            raise reader.fail("the call has no tool name", end)
        self.hold = False
        if self.args_at is None:
            self.args_at = end
            self.args_piece("{}")
        elif self.pending or self.sent is None:
            self.args_piece("")
        text = "".join(self.args)
        try:
            arguments = json.loads(text)
        except json.JSONDecodeError as exc:
            raise reader.fail(f"invalid JSON in the arguments of {self.name!r}: {exc.msg}",
                              self.args_at + (exc.pos if self.raw else 0)) from exc
        if not isinstance(arguments, dict):
            raise reader.fail(f"the arguments of {self.name!r} are not a JSON object", self.args_at)
        if reader.tools is not None:
            error = jsonschema.exceptions.best_match(
                reader.validator(reader.tools[self.name]).iter_errors(arguments))
            if error is not None:
                raise reader.fail(
                    f"the arguments of {self.name!r} do not match its schema: {error.message}",
                    self.args_at, path=join_path(f"tool_calls[{self.index}].function.arguments",
                                                 path_of(error.absolute_path)))
        reader.open = None
