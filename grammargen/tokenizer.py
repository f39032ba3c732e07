"""Tokenizers: the built-in one, loading real ones, and choosing each marker's form.

A grammar's markers must match the way the target tokenizer spells them: a special
token by name (``<|tool_call|>``), a token by id (``<[9]>``), or plain text.  Getting it
wrong rejects every real output, so :func:`marker_forms` decides it from the tokenizer
when one is given, and from the profile's defaults otherwise.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llguidance
import tokenizers

from .errors import ProfileError, TokenizerError
from .lark import MarkerForm, is_angle_marker
from .profiles import Profile

BUILTIN_EOS = "<|endoftext|>"
# Names real tokenizers give their end-of-sequence token, tried in order when no config says.
EOS_CANDIDATES = ("<|endoftext|>", "<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "</s>",
                  "<｜end▁of▁sentence｜>", "<|end|>", "<eos>")


@dataclass(frozen=True)
class Tokenizer:
    """A tokenizer as grammargen uses it: the `tokenizers` object plus llguidance's view of it."""

    hf: tokenizers.Tokenizer
    ll: llguidance.LLTokenizer
    name: str

    def encode(self, text: str) -> list[int]:
        """Token ids for a sample; marker text written literally becomes the marker's token."""
        return list(self.hf.encode(text, add_special_tokens=False).ids)

    def encode_with_offsets(self, text: str) -> tuple[list[int], list[int]]:
        """Token ids and each token's start (a character offset into ``text``)."""
        encoding = self.hf.encode(text, add_special_tokens=False)
        return list(encoding.ids), [start for start, _ in encoding.offsets]

    def decode(self, ids: list[int]) -> str:
        """Text of token ids with special tokens kept (what the parser needs)."""
        return self.hf.decode(ids, skip_special_tokens=False)

    @functools.cached_property
    def added(self) -> dict[int, Any]:
        """The added tokens by id, read once: ``tokenizers`` builds the whole table on every
        call (151k-token Qwen3: 30 µs, five times a compile).  ``ll`` was made from the
        tokenizer as it was then, so this is the same snapshot."""
        return self.hf.get_added_tokens_decoder()

    def marker_form(self, marker: str) -> MarkerForm:
        """How this tokenizer spells ``marker``: special token, token id, or text."""
        token_id = self.hf.token_to_id(marker)
        added = self.added
        if token_id is None or token_id not in added:
            return MarkerForm("text")
        if is_angle_marker(marker) and added[token_id].special:
            return MarkerForm("special")
        return MarkerForm("id", token_id)


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character map, the alphabet of byte-level BPE vocabularies."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    mapping, extra = {}, 0
    for b in range(256):
        if b in keep:
            mapping[b] = chr(b)
        else:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


@functools.cache
def builtin(special: tuple[str, ...], pinned: tuple[tuple[str, int], ...] = ()) -> Tokenizer:
    """A byte-level tokenizer with ``special`` as special tokens, made in-process (no download).

    ``pinned`` places markers at fixed ids (Mistral's ``[TOOL_CALLS]`` is 9), so grammars
    that reference a marker by id work with it unchanged.
    """
    fixed = dict(pinned)
    pending_specials = [s for s in dict.fromkeys((BUILTIN_EOS, *special)) if s not in fixed]
    by_id: dict[int, str] = {v: k for k, v in fixed.items()}
    b2u = _bytes_to_unicode()
    vocab: dict[str, int] = {}
    specials: dict[str, int] = dict(fixed)
    next_byte = 0
    size = max(256 + len(pending_specials) + len(fixed), max(fixed.values(), default=0) + 1)
    for token_id in range(size):
        if token_id in by_id:
            continue
        if next_byte < 256:
            vocab[b2u[next_byte]] = token_id
            next_byte += 1
        elif pending_specials:
            specials[pending_specials.pop(0)] = token_id
        else:
            break  # ids between the last special and a high pinned one stay unused
    vocab.update(specials)  # in the model's vocabulary too, so the ids are kept as given
    model = tokenizers.models.BPE(vocab=vocab, merges=[])
    tok = tokenizers.Tokenizer(model)
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = tokenizers.decoders.ByteLevel()
    data = json.loads(tok.to_str())
    # Pinned <...> markers are added tokens not flagged special, as Qwen's and DeepSeek's are:
    # referenced by id (the form the profile's defaults write; llguidance can't name a token
    # that sits past unused ids anyway) and still never matched as text.  Other pinned
    # markers ([TOOL_CALLS]) are control tokens, flagged special as in Mistral's tokenizers.
    data["added_tokens"] = [
        {"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": not (s in fixed and is_angle_marker(s))}
        for s, i in sorted(specials.items(), key=lambda kv: kv[1])
    ]
    text = json.dumps(data)
    hf = tokenizers.Tokenizer.from_str(text)
    ll = llguidance.LLTokenizer(text, n_vocab=size, eos_token=specials[BUILTIN_EOS])
    return Tokenizer(hf, ll, "builtin")


def builtin_for(profile: Profile) -> Tokenizer:
    """The built-in tokenizer with this profile's special tokens: its markers first, then the
    ones only an encoding writes (Gemma's ``<|"|>``)."""
    special = [m for m in dict.fromkeys([*profile.markers, *profile.special]) if m in profile.special]
    pinned = tuple(sorted((m, i) for m, i in profile.token_ids.items()))
    return builtin(tuple(special), pinned)


def load_tokenizer(source: Any, profile: Profile | None = None) -> Tokenizer:
    """Load a tokenizer from any supported source.

    ``None`` (the built-in one for ``profile``), a :class:`Tokenizer`, a
    ``tokenizers.Tokenizer``, a ``tokenizer.json`` path, or a model folder (Hugging Face
    or onnxruntime-genai: ``genai_config.json`` may give a larger ``vocab_size``).
    """
    if source is None:
        if profile is None:
            raise TokenizerError("the built-in tokenizer needs a format profile")
        return builtin_for(profile)
    if isinstance(source, Tokenizer):
        return source
    if isinstance(source, tokenizers.Tokenizer):
        return _wrap(source, source.to_str(), None, None, "in-memory tokenizer")
    if isinstance(source, (str, os.PathLike)):
        return _from_path(str(source))
    raise TokenizerError(f"cannot use a {type(source).__name__} as a tokenizer")


@functools.cache
def _from_path(path_text: str) -> Tokenizer:
    path = Path(path_text)
    folder = path if path.is_dir() else path.parent
    file = path / "tokenizer.json" if path.is_dir() else path
    if not file.is_file():
        raise TokenizerError("no tokenizer.json there (give a tokenizer.json file or a model folder)",
                             source=path_text)
    try:
        text = file.read_text(encoding="utf-8")
        hf = tokenizers.Tokenizer.from_str(text)
    except Exception as exc:  # tokenizers raises bare Exception subclasses
        raise TokenizerError(f"not a tokenizer.json: {str(exc).splitlines()[0][:200]}",
                             source=str(file)) from exc
    n_vocab, eos = _model_config(folder, hf)
    return _wrap(hf, text, n_vocab, eos, str(file))


def _model_config(folder: Path, hf: tokenizers.Tokenizer) -> tuple[int | None, int | None]:
    """vocab_size and EOS id from genai_config.json / config.json / tokenizer_config.json."""
    n_vocab = eos = None
    for name in ("genai_config.json", "config.json"):
        try:
            config = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        model = config.get("model", config)
        n_vocab = n_vocab or model.get("vocab_size")
        eos_id = model.get("eos_token_id")
        if eos is None and eos_id is not None:
            eos = eos_id[0] if isinstance(eos_id, list) else eos_id
    if eos is None:
        try:
            config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
            token = config.get("eos_token")
            token = token.get("content") if isinstance(token, dict) else token
            eos = hf.token_to_id(token) if isinstance(token, str) else None
        except (OSError, ValueError):
            pass
    return n_vocab, eos


def _wrap(hf: tokenizers.Tokenizer, text: str, n_vocab: int | None, eos: int | None,
          name: str) -> Tokenizer:
    if eos is None:
        eos = next((i for c in EOS_CANDIDATES if (i := hf.token_to_id(c)) is not None), None)
    size = max(hf.get_vocab_size(with_added_tokens=True), n_vocab or 0)
    try:
        ll = llguidance.LLTokenizer(text, n_vocab=size, eos_token=eos)
    except Exception as exc:
        raise TokenizerError(f"llguidance cannot use this tokenizer: {exc}", source=name) from exc
    return Tokenizer(hf, ll, name)


def marker_forms(profile: Profile, tokenizer: Tokenizer | None = None) -> dict[str, MarkerForm]:
    """The form of every marker the profile uses, and of every special token it lists that no
    layout piece uses (Gemma's ``<|"|>``, which its argument encoding writes): from
    ``tokenizer``, or the profile's defaults."""
    forms: dict[str, MarkerForm] = {}
    for marker in dict.fromkeys([*profile.markers, *profile.special, *profile.token_ids]):
        if tokenizer is not None:
            forms[marker] = tokenizer.marker_form(marker)
        elif marker in profile.token_ids:
            forms[marker] = MarkerForm("id", profile.token_ids[marker])
        elif marker in profile.special:
            if not is_angle_marker(marker):
                raise ProfileError(f"special marker {marker!r} is not of the <...> form: give its id "
                                   "in token_ids", source=profile.path, path="special")
            forms[marker] = MarkerForm("special")
        else:
            forms[marker] = MarkerForm("text")
    return forms
