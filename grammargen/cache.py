"""A bounded, thread-safe compile cache keyed on content, for servers that compile per request.

A serving engine sees the same tool list again and again, each time as fresh JSON, so the
key is what the grammar depends on, never object identity: the tools' content (pickled:
ten times faster than JSON text, and as faithful — ``1``, ``1.0`` and ``True`` stay apart;
keys are not sorted, since property order is the order the grammar writes), the format,
every compile option with its default filled in, and the
tokenizer's identity (a digest of its ``tokenizer.json`` text, vocabulary size and EOS,
computed once per tokenizer object).  Grammars are frozen values, so every hit returns the
same object; where compile's check built it (see ``grammargen.verify``), ``grammar.matcher()``
copies that matcher instead of building another.

Errors are cached too, so a bad tool list fails fast the second time: only grammargen's
own errors (deterministic in the input), stored as a bare copy without traceback, cause or
context (which would keep the request's data alive), and re-raised as a fresh copy.
Concurrent requests for one key compile once; the others wait for that result.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import io
import os
import pickle
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import tokenizers

from .compiler import compile as _compile
from .errors import GrammarGenError, OptionsError
from .grammar import Grammar
from .profiles import Profile, get_profile
from .tokenizer import Tokenizer, load_tokenizer
from .tools import load_tools

_SIGNATURE = inspect.signature(_compile)
_TOKENIZER_MEMO = 16  # tokenizer objects remembered (each a strong reference: ids stay unique)


@dataclass(frozen=True)
class CacheInfo:
    """Counters of a :class:`CompileCache`."""

    hits: int
    misses: int
    size: int
    maxsize: int


class _Pending:
    """A compile in progress: other threads asking for the same key wait on it."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Grammar | GrammarGenError | None = None


class CompileCache:
    """An LRU cache of :func:`grammargen.compile` results (grammars and grammargen errors)."""

    def __init__(self, maxsize: int = 256) -> None:
        if not isinstance(maxsize, int) or maxsize < 1:
            raise OptionsError("the cache size must be a positive integer", path="maxsize")
        self.maxsize = maxsize
        self._entries: OrderedDict[Any, Grammar | GrammarGenError] = OrderedDict()
        self._pending: dict[Any, _Pending] = {}
        self._lock = threading.Lock()
        self._hits = self._misses = 0
        # id(source) -> (source, Tokenizer, digest); the source is kept so its id stays its own
        self._tokenizers: OrderedDict[int, tuple[Any, Tokenizer, str]] = OrderedDict()

    def compile(self, tools: Any, format: str | Profile = "phi4-mini", **options: Any) -> Grammar:
        """:func:`grammargen.compile` with the same arguments, answered from the cache on a repeat."""
        tokenizer, token_id = self._tokenizer(options.pop("tokenizer", None), format)
        key, tools = self._key(tools, format, options, token_id)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                self._hits += 1
                return _answer(entry)
            pending = self._pending.get(key)
            owner = pending is None
            if owner:
                pending = self._pending[key] = _Pending()
                self._misses += 1
        assert pending is not None
        if not owner:
            pending.done.wait()
            if pending.value is None:  # the owner failed unexpectedly: try on our own
                return _compile(tools, format, tokenizer=tokenizer, **options)
            with self._lock:
                self._hits += 1
            return _answer(pending.value)
        try:
            pending.value = _compile(tools, format, tokenizer=tokenizer, **options)
        except GrammarGenError as exc:
            pending.value = _bare(exc)
            raise
        finally:
            with self._lock:
                del self._pending[key]
                if pending.value is not None:
                    self._entries[key] = pending.value
                    while len(self._entries) > self.maxsize:
                        self._entries.popitem(last=False)
            pending.done.set()
        return pending.value

    def info(self) -> CacheInfo:
        """Hits, misses and size so far."""
        with self._lock:
            return CacheInfo(self._hits, self._misses, len(self._entries), self.maxsize)

    def clear(self) -> None:
        """Forget every grammar, error and tokenizer digest."""
        with self._lock:
            self._entries.clear()
            self._tokenizers.clear()
            self._hits = self._misses = 0

    def _key(self, tools: Any, format: str | Profile, options: dict[str, Any],
             token_id: str) -> tuple[Any, Any]:
        try:
            bound = _SIGNATURE.bind(tools, format, **options)
        except TypeError as exc:
            raise OptionsError(f"compile options: {exc}") from exc
        bound.apply_defaults()
        opts = {k: v for k, v in bound.arguments.items() if k not in ("tools", "format", "tokenizer")}
        if isinstance(tools, (str, os.PathLike)):  # a file or JSON text: key on what it holds
            tools = load_tools(tools)
        profile = get_profile(format)
        key = (_digest(tools), profile, _digest(opts), token_id)
        return key, tools

    def _tokenizer(self, source: Any, format: str | Profile) -> tuple[Any, str]:
        """The tokenizer to compile with (loaded once per source object) and its identity."""
        if source is None:
            return None, "builtin"
        if isinstance(source, (str, os.PathLike)):
            source = load_tokenizer(source, get_profile(format))  # memoized by path
        with self._lock:
            known = self._tokenizers.get(id(source))
            if known is not None and known[0] is source:
                self._tokenizers.move_to_end(id(source))
                return known[1], known[2]
        tok = source if isinstance(source, Tokenizer) else load_tokenizer(source, get_profile(format))
        digest = tokenizer_digest(tok)
        with self._lock:
            self._tokenizers[id(source)] = (source, tok, digest)
            while len(self._tokenizers) > _TOKENIZER_MEMO:
                self._tokenizers.popitem(last=False)
        return tok, digest


def tokenizer_digest(tok: Tokenizer) -> str:
    """Content identity of a tokenizer: its tokenizer.json text, vocabulary size and EOS."""
    h = hashlib.blake2b(digest_size=20)
    h.update(tok.hf.to_str().encode("utf-8"))
    h.update(f"|{tok.ll.vocab_size}|{tok.ll.eos_token}".encode())
    return h.hexdigest()


def _digest(value: Any) -> str:
    """A content digest; equal bytes mean equal values, so a hit is never a wrong grammar."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.fast = True  # no memo: equal values give equal bytes however their objects are shared
    try:
        pickler.dump(value)
    except Exception as exc:  # pickle raises several types for objects it cannot write
        raise OptionsError(f"cannot cache a compile of this input ({exc}); give JSON data") from exc
    return hashlib.blake2b(buffer.getbuffer(), digest_size=20).hexdigest()


def _bare(exc: GrammarGenError) -> GrammarGenError:
    stored = copy.copy(exc)
    stored.__traceback__ = stored.__cause__ = stored.__context__ = None
    return stored


def _answer(entry: Grammar | GrammarGenError) -> Grammar:
    if isinstance(entry, GrammarGenError):
        raise copy.copy(entry)
    return entry


_DEFAULT = CompileCache()


def compile(tools: Any, format: str | Profile = "phi4-mini", **options: Any) -> Grammar:
    """:func:`grammargen.compile` through the process-wide cache (256 entries)."""
    return _DEFAULT.compile(tools, format, **options)


def cache_info() -> CacheInfo:
    """Counters of the process-wide cache."""
    return _DEFAULT.info()
