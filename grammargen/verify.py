"""The default check of a compiled grammar, and the matcher it builds, kept for the caller.

``compile(check=True)`` calls :func:`verify`, which builds the grammar's llguidance matcher
once, exactly as a runtime will (parser limits at llguidance's defaults, the symbol budget
lowered so an overflow is an error rather than a panic: see :mod:`.capacity`).  A grammar
that passes therefore never fails when a runtime builds its matcher; a schema llguidance
refuses is blamed on its tool, and a size limit is named with the counts that reached it.

Checking costs one matcher build, the largest part of a request's time to a ready matcher.
So the built matcher is kept (untouched), keyed on the grammar's text, and :func:`matcher`
hands out copies of it: for the same grammar and tokenizer a caller gets a ready matcher in
microseconds instead of building it a second time.  The same key makes a repeat cheap: a
tool list compiled again to the same text, with the same tokenizer, was checked already
(the build is deterministic), so it is not built again.  The most recently used matchers
are kept, bounded by number and by the size of their text.

A runtime that builds its own matcher from the text (vLLM, onnxruntime-genai) pays for a
build anyway, so for it the check's build is pure overhead.  Where every piece of a grammar
is exact by construction, the check does not build it (:func:`_by_construction`): a grammar
whose arguments are JSON (fastjson terminals and ``%json`` rules), whose skeleton (format,
options, tokenizer) has been built once in this process, each of whose ``%json`` schemas
has been built alone once (within a symbol allowance), and whose size, by our own count,
is well inside llguidance's limits.  What is left can't fail: names and values are escaped
literals, the terminals are fastjson's.  Anything else (another argument encoding, a new
skeleton, many new schemas, a large grammar) is built, as before.
tests/test_verify.py compiles random tool lists this way and builds each with llguidance's
default limits.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import llguidance
import tokenizers

from .capacity import LEXER_FUEL, SYMBOL_BUDGET, limit_error
from .errors import GrammarError
from .grammar import Grammar
from .profiles import get_profile
from .tokenizer import Tokenizer, load_tokenizer

if TYPE_CHECKING:  # the compiler imports this module; its writer is only read here
    from .compiler import _Writer

# Built matchers kept for matcher(), the most recent first: each holds its compiled grammar
# and lexer, about 11 bytes of memory per character of Lark text (measured: 3.9 MB for the
# benchmark's 1,000 tools), so the bound is on their text as well as their number.
KEPT = 64
KEPT_CHARS = 8_000_000  # about 90 MB of matchers

_lock = threading.Lock()
# digest of the grammar's text -> (the tokenizer it was checked with, its untouched matcher,
# the length of its text)
_built: OrderedDict[bytes, tuple[Tokenizer, llguidance.LLMatcher, int]] = OrderedDict()
_chars = 0  # the text length of the grammars in _built
_copies: dict[bytes, int] = {}  # copies handed out of each kept matcher
COPIES = 32  # copies of one build before matcher() builds afresh (they share one lexer)

# The check by construction (see the module docstring).  Measured on llguidance 1.9.1 with
# Qwen3 (benchmarks: synthetic, 2,000 distinct integer ranges, 50-value enums, 30 optional
# members, nested arrays): lexer fuel 0.28-0.61 per character of terminal text, symbols
# 0.095-0.106 per character of rule text.  The bounds below take 1.6x and 2.4x those, and
# a grammar is only left unbuilt while they stay under half of llguidance's limits.
BY_CONSTRUCTION = True
FUEL_PER_CHAR = 1.0
SYMBOLS_PER_CHAR = 0.25
JSON_SYMBOLS = 400  # what one %json schema may cost: each is built alone with this cap
NEW_SCHEMAS = 8  # more unseen %json schemas than this: one full build is cheaper
SCHEMAS_KEPT = 10_000  # schemas remembered as built alone
_skeletons: dict[tuple[Any, ...], tuple[Any, Any]] = {}  # (profile, options, tokenizer) ids -> objects
_schemas: dict[tuple[str, int], tuple[Any, bool]] = {}  # (%json text, tokenizer id) -> (tokenizer, fits)
_ARGS_KINDS = frozenset({"text", "marker", "name", "id", "index", "choice", "optional", "content",
                         "call_object"})


def verify(grammar: Grammar, tok: Tokenizer, writer: "_Writer") -> None:
    """Build the grammar's matcher as a runtime would; refuse it with an error naming the cause."""
    key = _digest(grammar.lark)
    with _lock:
        entry = _built.get(key)
        if entry is not None and entry[0].ll is tok.ll:  # this text built with this tokenizer
            _built.move_to_end(key)
            return
    skeleton = _skeleton_key(grammar, tok, writer)
    if BY_CONSTRUCTION and skeleton is not None and _by_construction(grammar, tok, writer, skeleton):
        return  # exact by construction: a runtime's build can't fail (matcher() builds)
    limits = llguidance.LLParserLimits(max_grammar_size=SYMBOL_BUDGET)
    built = llguidance.LLMatcher(tok.ll, grammar.lark, log_level=0, limits=limits)
    if built.is_error():
        raise refusal(built.get_error(), grammar, tok, writer)
    _keep(key, len(grammar.lark), tok, built)
    if skeleton is not None:
        with _lock:
            _skeletons[skeleton] = (writer.profile, tok.ll)


def _skeleton_key(grammar: Grammar, tok: Tokenizer, writer: "_Writer") -> tuple[Any, ...] | None:
    """What decides the grammar's tool-independent part, or None where an argument encoding
    other than JSON writes rules of its own (those are always built)."""
    profile = writer.profile
    if any(p.kind not in _ARGS_KINDS and not (p.kind == "arguments" and p.value == "json")
           for p in profile.begin + profile.call + profile.separator + profile.end):
        return None
    options = dict(grammar.options)
    if options.get("tool_choice") not in ("auto", "none", "required"):
        options["tool_choice"] = "required"  # a named tool: required, with that tool alone
    return (id(profile), id(tok.ll), tuple(sorted((k, repr(v)) for k, v in options.items())))


def _by_construction(grammar: Grammar, tok: Tokenizer, writer: "_Writer", skeleton: tuple[Any, ...]) -> bool:
    """Can this grammar be left unbuilt?  Its skeleton built before, every %json schema built
    alone within :data:`JSON_SYMBOLS`, and its size by our count well inside the limits."""
    with _lock:
        seen = _skeletons.get(skeleton)
    if seen is None or seen[0] is not writer.profile or seen[1] is not tok.ll:
        return False  # the first grammar of this format, options and tokenizer is built
    schemas = [text for text, name in writer.args_rules.items() if not name.startswith("ARGS_")]
    with _lock:
        new = [text for text in schemas if (text, id(tok.ll)) not in _schemas]
    if len(new) > NEW_SCHEMAS:
        return False
    for text in new:
        _schema_fits(text, tok)
    with _lock:
        if not all(_schemas[(text, id(tok.ll))][1] for text in schemas):
            return False  # a schema llguidance refuses, or a large one: the full build words it
    terminal_chars = rule_chars = 0
    for line in grammar.lark.splitlines():
        if line[:1].isupper():
            terminal_chars += len(line)
        else:
            rule_chars += len(line)
    symbols = rule_chars * SYMBOLS_PER_CHAR + len(schemas) * JSON_SYMBOLS
    return terminal_chars * FUEL_PER_CHAR <= LEXER_FUEL / 2 and symbols <= SYMBOL_BUDGET / 2


def _schema_fits(text: str, tok: Tokenizer) -> None:
    """Build one %json schema alone, its symbols capped; remember whether it fits."""
    limits = llguidance.LLParserLimits(max_grammar_size=JSON_SYMBOLS)
    alone = llguidance.LLMatcher(tok.ll, f"start: %json {text}", log_level=0, limits=limits)
    with _lock:
        _schemas[(text, id(tok.ll))] = (tok.ll, not alone.is_error())
        while len(_schemas) > SCHEMAS_KEPT:
            del _schemas[next(iter(_schemas))]  # the oldest: it is checked again if it comes back


def refusal(message: str, grammar: Grammar, tok: Tokenizer, writer: "_Writer | None") -> GrammarError:
    """The error for llguidance's refusal: a size limit, a tool's schema, or the grammar itself."""
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    if writer is not None:
        error = limit_error(first, **writer.sizes(len(grammar.tool_names)))
        if error is not None:  # a size limit: no one schema is to blame
            return error
    for tool, text in (writer.tool_args if writer else []):
        bad, sub = llguidance.LLMatcher.validate_grammar_with_warnings(f"start: %json {text}", tok.ll)
        if bad:
            detail = _first_error(sub[0]) if sub else first
            return GrammarError(f"llguidance refuses this schema: {_strip_location(detail)}",
                                path=f"{tool.path}.parameters")
    return GrammarError(f"llguidance refuses the grammar: {first}")


def matcher(grammar: Grammar, tokenizer: Any = None) -> llguidance.LLMatcher:
    """A new llguidance matcher for ``grammar``, ready for its first mask.

    ``tokenizer``: what ``compile`` was given (``None``: the format's built-in one), or its
    llguidance ``LLTokenizer``.  When ``compile``'s check built this grammar's text with that
    very tokenizer, the answer is a copy of that matcher (microseconds); otherwise it is
    built now.
    """
    key = _digest(grammar.lark)
    with _lock:
        entry = _built.get(key)
    if entry is not None and _same(entry[0], tokenizer, grammar):
        with _lock:
            uses = _copies.get(key, 0) + 1
            _copies[key] = uses
            if key in _built:
                _built.move_to_end(key)  # in use: the last to go
        if uses <= COPIES:
            return entry[1].deep_copy()  # the kept one is never advanced, so copies start fresh
        # llguidance's copies share one lexer, whose state cache (capped) grows with every
        # copy's decoding: after COPIES of them, build afresh and keep that one instead
        built = _build(entry[0].ll, grammar)
        _keep(key, len(grammar.lark), entry[0], built)
        with _lock:
            _copies[key] = 1
        return built.deep_copy()
    if isinstance(tokenizer, llguidance.LLTokenizer):
        ll = tokenizer
    else:
        ll = load_tokenizer(tokenizer, get_profile(grammar.format)).ll
    return _build(ll, grammar)


def _build(ll: llguidance.LLTokenizer, grammar: Grammar) -> llguidance.LLMatcher:
    built = llguidance.LLMatcher(ll, grammar.lark, log_level=0)
    if built.is_error():
        raise GrammarError(f"llguidance refuses the grammar: {built.get_error().strip().splitlines()[0]}")
    return built


def forget() -> None:
    """Forget every kept matcher, so the next check builds (benchmarks time cold compiles)."""
    global _chars
    with _lock:
        _built.clear()
        _copies.clear()
        _chars = 0


def _same(checked: Tokenizer, source: Any, grammar: Grammar) -> bool:
    """Is ``source`` the tokenizer the check used?  By identity only (cheap, never wrong)."""
    if isinstance(source, llguidance.LLTokenizer):
        return source is checked.ll
    if isinstance(source, Tokenizer):
        return source.ll is checked.ll
    if isinstance(source, tokenizers.Tokenizer):  # compile wrapped it, keeping the object
        return source is checked.hf
    # None (the built-in one) or a path: both loaded once per process, so the same object
    return load_tokenizer(source, get_profile(grammar.format)).ll is checked.ll


def _digest(lark: str) -> bytes:
    return hashlib.blake2b(lark.encode("utf-8"), digest_size=20).digest()


def _keep(key: bytes, size: int, tok: Tokenizer, built: llguidance.LLMatcher) -> None:
    global _chars
    if size > KEPT_CHARS:
        return
    with _lock:
        _drop(key)
        _built[key] = (tok, built, size)
        _chars += size
        while len(_built) > KEPT or _chars > KEPT_CHARS:
            _drop(next(iter(_built)))


def _drop(key: bytes) -> None:
    """Forget one kept matcher (the caller holds the lock)."""
    global _chars
    _copies.pop(key, None)
    entry = _built.pop(key, None)
    if entry is not None:
        _chars -= entry[2]


def _first_error(message: str) -> str:
    """llguidance's first line, and for a regex error (first line ends in ':') its reason line."""
    lines = message.strip().splitlines()
    reason = next((x.strip() for x in lines[1:] if x.strip().startswith("error:")), "")
    return f"{lines[0]} {reason}" if lines[0].endswith(":") and reason else lines[0]


def _strip_location(message: str) -> str:
    # llguidance prefixes "at 1(8): failed to compile JSON schema: " - keep what is useful.
    marker = "failed to compile JSON schema: "
    return message.split(marker, 1)[1] if marker in message else message
