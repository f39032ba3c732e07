"""Each engine's own verdict on a token sequence, the way a runtime reaches it.

One function per engine, one contract: given the grammar text the engine reads, a
tokenizer and token ids, compute the engine's mask before every token (a warm matcher,
advanced token by token), and return a :class:`Verdict`:

* ``reject`` at the index of the first token outside the mask (for llguidance, outside
  its grammar: its mask also refuses non-canonical tokenizations of forced text, see
  :func:`llguidance_verdict`);
* ``accept`` when every token was allowed and the engine would let the model stop there
  (its end-of-sequence token is in the mask after the last token);
* ``incomplete`` when every token was allowed but the grammar needs more.

A grammar the engine cannot read raises :class:`EngineGrammarError` with the engine's
message.  The engines are optional: each is imported only when its function runs, so
importing this module costs nothing (``tests/engines`` skips when one is missing).

Tokenizers: a ``tokenizer.json`` path, a ``tokenizers.Tokenizer`` or a grammargen
``Tokenizer`` (``grammargen.tokenizer.builtin_for(profile)``).  Every engine is given
the *same* vocabulary: llguidance its ``LLTokenizer``, xgrammar a ``TokenizerInfo`` built
from the same vocabulary the way ``TokenizerInfo.from_huggingface`` builds it, llama.cpp
a vocab-only GGUF written from the same ``tokenizer.json`` (:mod:`gguf_vocab`).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Sequence

from grammargen.tokenizer import Tokenizer, load_tokenizer

Outcome = Literal["accept", "reject", "incomplete"]
XGrammarKind = Literal["lark", "ebnf", "structural_tag", "json_schema"]


@dataclass(frozen=True)
class Verdict:
    """What one engine did with one token sequence."""

    outcome: Outcome
    index: int | None = None  # the first rejected token (reject only)
    # llguidance only: tokens its mask refused but its grammar took (forced text written
    # in a non-canonical tokenization); not part of the verdict.
    outside_mask: int = field(default=0, compare=False)

    def __str__(self) -> str:
        return self.outcome if self.index is None else f"{self.outcome}@{self.index}"


class EngineGrammarError(ValueError):
    """The engine refused the grammar text itself (the message is the engine's)."""

    def __init__(self, engine: str, message: str):
        super().__init__(f"{engine}: {message}")
        self.engine = engine


def tokenizer_of(source: Any) -> Tokenizer:
    """A grammargen :class:`Tokenizer` from any source the harness accepts."""
    if isinstance(source, Tokenizer):
        return source
    return load_tokenizer(str(source) if isinstance(source, Path) else source)


def eos_id(tok: Tokenizer) -> int:
    """The end-of-sequence token llguidance was given for this tokenizer."""
    return tok.ll.eos_token


def special_ids(tok: Tokenizer) -> list[int]:
    """Ids llguidance treats as special (never matched by text): what free text excludes."""
    return [i for i in range(tok.ll.vocab_size) if tok.ll.is_special_token(i)]


def token_set(ids: Sequence[int]) -> str:
    """Ids as the ``a-b,c`` list inside ``<[...]>`` / ``<[^...]>`` (llguidance and xgrammar Lark)."""
    parts: list[str] = []
    ordered = sorted(set(ids))
    start = prev = None
    for i in ordered + [None]:
        if start is not None and (i is None or i != prev + 1):
            parts.append(str(start) if start == prev else f"{start}-{prev}")
            start = None
        if i is not None and start is None:
            start = i
        prev = i
    return ",".join(parts)


def _walk(ids: Sequence[int], allowed: Callable[[int], bool], consume: Callable[[int], None],
          can_end: Callable[[], bool], stop: int) -> Verdict:
    """The shared loop: mask before each token, then consume it; at the end, may it stop?

    An allowed end-of-sequence token ends generation, as every runtime does: a token
    after it is rejected (llama.cpp's grammar itself would carry on after it).
    """
    for index, token in enumerate(ids):
        if not allowed(token):
            return Verdict("reject", index)
        if token == stop:
            return Verdict("accept") if index == len(ids) - 1 else Verdict("reject", index + 1)
        consume(token)
    return Verdict("accept") if can_end() else Verdict("incomplete")


# --- llguidance -------------------------------------------------------------------------


def llguidance_verdict(grammar: str, tokenizer: Any, ids: Sequence[int], *,
                       canonical_only: bool = False) -> Verdict:
    """llguidance's ``LLMatcher`` (what onnxruntime-genai, vLLM's and SGLang's guidance
    backends run).  ``grammar``: Lark text or llguidance's top-level JSON grammar.

    llguidance's mask allows only the canonical tokenization of forced text (measured: with
    Qwen3's vocabulary, ``"get_weather"`` forced, the token ``_we`` is masked out though the
    grammar takes it); xgrammar and llama.cpp allow any tokenization.  So, by default, a
    token outside the mask that the grammar still takes is consumed and counted in
    ``outside_mask`` -- the verdict is the grammar's, as ``grammargen.validate`` reports it.
    ``canonical_only=True`` rejects it instead, as the mask alone would.
    """
    import llguidance

    tok = tokenizer_of(tokenizer)
    matcher = llguidance.LLMatcher(tok.ll, grammar, log_level=0)
    if matcher.is_error():
        raise EngineGrammarError("llguidance", matcher.get_error())
    outside = 0

    def allowed(token: int) -> bool:
        nonlocal outside
        mask = matcher.compute_bitmask()
        if token >> 3 < len(mask) and mask[token >> 3] >> (token & 7) & 1:
            return True
        if canonical_only or token == eos_id(tok) or not matcher.deep_copy().consume_token(token):
            return False
        outside += 1
        return True

    def consume(token: int) -> None:
        if not matcher.consume_token(token):
            raise AssertionError(f"llguidance allowed token {token}, then refused it: "
                                 f"{matcher.get_error()}")

    verdict = _walk(ids, allowed, consume, matcher.is_accepting, eos_id(tok))
    return replace(verdict, outside_mask=outside)


# --- xgrammar ---------------------------------------------------------------------------


@functools.cache
def xgrammar_tokenizer_info(tok: Tokenizer) -> Any:
    """xgrammar's ``TokenizerInfo`` for ``tok``, as ``from_huggingface`` makes it.

    Every token, added special ones included, is given by its vocabulary string; xgrammar
    decodes byte-level strings to bytes, so a special token is *its text* to xgrammar.
    """
    import xgrammar

    vocab = tok.hf.get_vocab(with_added_tokens=True)
    size = tok.ll.vocab_size
    encoded = [""] * size
    for text, i in vocab.items():
        if i < size:
            encoded[i] = text
    meta = xgrammar.TokenizerInfo._detect_metadata_from_hf(tok.hf.to_str())
    return xgrammar.TokenizerInfo(encoded, meta["vocab_type"], vocab_size=size,
                                  stop_token_ids=[eos_id(tok)],
                                  add_prefix_space=meta["add_prefix_space"])


@functools.cache
def _xgrammar_compiler(tok: Tokenizer) -> Any:
    import xgrammar

    return xgrammar.GrammarCompiler(xgrammar_tokenizer_info(tok), max_threads=1)


def xgrammar_compile(grammar: str, tok: Tokenizer, kind: XGrammarKind = "lark") -> Any:
    """The ``CompiledGrammar`` for ``grammar`` read as ``kind``.

    ``lark``: ``Grammar.from_lark`` (named special tokens resolved with the tokenizer);
    ``ebnf``: ``Grammar.from_ebnf`` (root rule ``root``); ``structural_tag``: the
    ``{"type": "structural_tag", "format": ...}`` JSON; ``json_schema``: the schema with
    ``any_whitespace=False`` and separators ``", "`` / ``": "`` (grammargen's JSON style).
    """
    import xgrammar

    compiler = _xgrammar_compiler(tok)
    try:
        if kind == "lark":
            parsed = xgrammar.Grammar.from_lark(grammar, tokenizer_info=xgrammar_tokenizer_info(tok))
            return compiler.compile_grammar(parsed)
        if kind == "ebnf":
            return compiler.compile_grammar(xgrammar.Grammar.from_ebnf(grammar))
        if kind == "structural_tag":
            return compiler.compile_structural_tag(grammar)
        if kind == "json_schema":
            return compiler.compile_json_schema(grammar, any_whitespace=False,
                                                separators=(", ", ": "), strict_mode=True)
    except Exception as exc:  # xgrammar raises RuntimeError and its own error classes
        raise EngineGrammarError("xgrammar", str(exc).strip()) from exc
    raise ValueError(f"unknown xgrammar grammar kind {kind!r}: lark, ebnf, structural_tag or json_schema")


def xgrammar_verdict(grammar: str, tokenizer: Any, ids: Sequence[int],
                     kind: XGrammarKind = "lark") -> Verdict:
    """xgrammar's ``GrammarMatcher`` (what vLLM's and SGLang's xgrammar backends run)."""
    import xgrammar

    tok = tokenizer_of(tokenizer)
    matcher = xgrammar.GrammarMatcher(xgrammar_compile(grammar, tok, kind))
    size = xgrammar_tokenizer_info(tok).vocab_size
    bitmask = xgrammar.allocate_token_bitmask(1, size)
    stop = eos_id(tok)

    def allowed(token: int) -> bool:
        matcher.fill_next_token_bitmask(bitmask)
        return bool(int(bitmask[0, token >> 5]) >> (token & 31) & 1)

    def consume(token: int) -> None:
        if not matcher.accept_token(token):
            raise AssertionError(f"xgrammar masked token {token} in, then refused it")

    return _walk(ids, allowed, consume, lambda: allowed(stop), stop)


# --- llama.cpp --------------------------------------------------------------------------


class LlamaVocab:
    """A llama.cpp vocabulary loaded from a vocab-only GGUF (kept alive while in use)."""

    def __init__(self, gguf_path: Path):
        import llama_cpp

        _quiet_llama()
        params = llama_cpp.llama_model_default_params()
        params.vocab_only = True
        self.model = llama_cpp.llama_model_load_from_file(str(gguf_path).encode(), params)
        if not self.model:
            raise EngineGrammarError("llama.cpp", f"cannot load the vocabulary {gguf_path}: "
                                     + _llama_log_tail())
        self.vocab = llama_cpp.llama_model_get_vocab(self.model)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self.vocab)
        self.path = gguf_path

    def tokenize(self, text: str, parse_special: bool = True) -> list[int]:
        """llama.cpp's own tokenization of ``text`` (special-token text parsed as tokens)."""
        import llama_cpp

        data = text.encode()
        out = (llama_cpp.llama_token * (len(data) + 8))()
        n = llama_cpp.llama_tokenize(self.vocab, data, len(data), out, len(out), False, parse_special)
        if n < 0:
            raise ValueError(f"llama.cpp could not tokenize {text[:40]!r}")
        return list(out[:n])

    def piece(self, token: int) -> bytes:
        """The text llama.cpp's grammar engine matches for ``token`` (specials rendered)."""
        import llama_cpp

        buf = ctypes.create_string_buffer(256)
        n = llama_cpp.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, True)
        return buf.raw[:n]

    def is_eog(self, token: int) -> bool:
        import llama_cpp

        return bool(llama_cpp.llama_vocab_is_eog(self.vocab, token))


_LLAMA_LOG: list[str] = []
_LLAMA_CALLBACK: Any = None


def _quiet_llama() -> None:
    """Route llama.cpp's log to a list (errors are read from it) instead of stderr."""
    global _LLAMA_CALLBACK
    if _LLAMA_CALLBACK is not None:
        return
    import llama_cpp

    @llama_cpp.llama_log_callback
    def collect(level: int, text: bytes, user_data: Any) -> None:
        _LLAMA_LOG.append(text.decode(errors="replace"))
        del _LLAMA_LOG[:-200]

    _LLAMA_CALLBACK = collect
    llama_cpp.llama_log_set(collect, None)


def _llama_log_tail() -> str:
    text = "".join(_LLAMA_LOG[-20:]).strip().splitlines()
    errors = [line for line in text if "error" in line.lower() or "parse" in line.lower()]
    return " / ".join(errors[-3:] or text[-3:])


@contextlib.contextmanager
def _stderr_captured() -> Iterator[Callable[[], list[str]]]:
    """Capture what C code writes to file descriptor 2 inside the block (lines, after it)."""
    lines: list[str] = []
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield lambda: lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines.extend(sink.read().decode(errors="replace").splitlines())


# id(tokenizers.Tokenizer) -> (that tokenizer, kept alive so the id stays its own; vocab)
_VOCABS: dict[int, tuple[Any, LlamaVocab]] = {}
_VOCAB_DIR = tempfile.TemporaryDirectory(prefix="grammargen-gguf-")


def llama_vocab(tok: Tokenizer) -> LlamaVocab:
    """The llama.cpp vocabulary for ``tok`` (one vocab-only GGUF per tokenizer, cached)."""
    from .gguf_vocab import write_vocab_gguf

    key = id(tok.hf)
    if key not in _VOCABS:
        path = Path(_VOCAB_DIR.name) / f"vocab-{len(_VOCABS)}.gguf"
        write_vocab_gguf(tok.hf, path, eos_id=eos_id(tok), n_vocab=tok.ll.vocab_size)
        _VOCABS[key] = (tok.hf, LlamaVocab(path))
    return _VOCABS[key][1]


def llama_cpp_verdict(grammar: str, tokenizer: Any, ids: Sequence[int], root: str = "root", *,
                      full_mask: bool = False) -> Verdict:
    """llama.cpp's grammar sampler (``llama_sampler_init_grammar``), as llama-server runs it.

    Before each token the sampler is applied to candidates (all logits 0); a token left at
    -inf is outside the mask.  The grammar judges each candidate on its own (its text against
    the grammar's current stacks), so by default the candidates are just the next token --
    what llama.cpp's own common sampler does first -- instead of the whole vocabulary, which
    costs 44 ms a token with a 151k vocabulary.  ``full_mask=True`` applies it to every token
    of the vocabulary, as a runtime computing the mask does (the verdicts are the same:
    ``test_llama_cpp_one_candidate_equals_the_full_mask``).  Only an allowed token is
    accepted: llama.cpp aborts the process when it is made to accept a refused one.
    """
    import llama_cpp
    import numpy

    tok = tokenizer_of(tokenizer)
    vocab = llama_vocab(tok)
    _LLAMA_LOG.clear()
    with _stderr_captured() as printed:  # the grammar parser prints its errors to stderr
        sampler = llama_cpp.llama_sampler_init_grammar(vocab.vocab, grammar.encode(), root.encode())
    if not sampler:
        parse = [line for line in printed() if "error" in line]
        raise EngineGrammarError("llama.cpp", " / ".join(parse) or _llama_log_tail()
                                 or "the grammar did not parse")
    n = vocab.n_vocab
    fresh = numpy.zeros(n, dtype=[("id", "<i4"), ("logit", "<f4"), ("p", "<f4")])
    fresh["id"] = numpy.arange(n)
    data = fresh.copy()
    array = llama_cpp.llama_token_data_array(
        data=data.ctypes.data_as(llama_cpp.llama_token_data_p), size=n, selected=-1, sorted=False)

    def mask_allows(token: int) -> bool:
        if not full_mask:
            data[0] = (token, 0.0, 0.0)
            array.size, array.selected, array.sorted = 1, -1, False
            llama_cpp.llama_sampler_apply(sampler, ctypes.byref(array))
            return bool(numpy.isfinite(data["logit"][0]))
        data[:] = fresh
        array.size, array.selected, array.sorted = n, -1, False
        llama_cpp.llama_sampler_apply(sampler, ctypes.byref(array))
        return bool(numpy.isfinite(data["logit"][token]))

    try:
        return _walk(ids, mask_allows, lambda t: llama_cpp.llama_sampler_accept(sampler, t),
                     lambda: mask_allows(eos_id(tok)), eos_id(tok))
    finally:
        llama_cpp.llama_sampler_free(sampler)


# --- all of them ------------------------------------------------------------------------

ENGINES = ("llguidance", "xgrammar", "llama.cpp")


def available(engine: str) -> str:
    """Why ``engine`` cannot run here ("" when it can)."""
    module = {"llguidance": "llguidance", "xgrammar": "xgrammar", "llama.cpp": "llama_cpp"}[engine]
    try:
        __import__(module)
        if engine == "llama.cpp":
            __import__("gguf")
    except Exception as exc:  # a broken native build raises more than ImportError
        return (f"{engine} is not importable ({type(exc).__name__}: {exc}); "
                "install the engines with: python benchmarks/engines.py")
    return ""


def verdict(engine: str, grammar: str, tokenizer: Any, ids: Sequence[int], **kind: Any) -> Verdict:
    """The verdict of ``engine`` (one of :data:`ENGINES`)."""
    if engine == "llguidance":
        return llguidance_verdict(grammar, tokenizer, ids, **kind)
    if engine == "xgrammar":
        return xgrammar_verdict(grammar, tokenizer, ids, **kind)
    if engine == "llama.cpp":
        return llama_cpp_verdict(grammar, tokenizer, ids, **kind)
    raise ValueError(f"unknown engine {engine!r}: one of {', '.join(ENGINES)}")


def dump(verdicts: dict[str, Verdict]) -> str:
    """Verdicts as one line, for test failure messages."""
    return json.dumps({k: str(v) for k, v in verdicts.items()})
