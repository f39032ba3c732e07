"""A vocab-only GGUF file made from a ``tokenizer.json``, so llama.cpp sees the same tokens.

llama.cpp's grammar engine needs a ``llama_vocab``, and it only gets one by loading a
GGUF model.  Loading with ``vocab_only=True`` reads the metadata and no weights, so a
file that holds just the tokenizer is enough: same ids, same token texts, the same
special tokens, the same end-of-sequence id.  Only byte-level BPE vocabularies (GPT-2
style, what grammargen's built-in tokenizer and the Qwen, Llama 3, DeepSeek and Phi-4
tokenizers are) are written; anything else is refused with the reason.

Token types follow what llama.cpp's own converter decides for a real model: an added token
flagged ``special``, or spelled like a control token (``<|...|>``, ``<｜...｜>``), is
CONTROL; another added token is USER_DEFINED; the rest are NORMAL; a hole in the id range
is UNUSED.  The grammar engine renders every one of them as its text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# llama.cpp names its pre-tokenizers (the split regex before BPE); "default" suits a
# vocabulary without merges, such as grammargen's built-in one.  A real tokenizer needs
# its own name for llama.cpp's tokenization to equal the tokenizer's (ids are what the
# harness feeds, so only `<name>` references and the round-trip check depend on it).
DEFAULT_PRE = "default"
# llama.cpp refuses a BPE vocabulary without merges, and gguf cannot write an empty array:
# a vocabulary without merges (grammargen's built-in one) gets this one, which never
# applies (BPE starts from single characters, and these are longer).
INERT_MERGE = "<no> <merges>"


class VocabError(ValueError):
    """The tokenizer cannot be written as a llama.cpp vocabulary (the message says why)."""


def looks_like_control(text: str) -> bool:
    """Spelled like a control token, as llama.cpp's converter treats ``<|...|>`` tokens."""
    return (text.startswith("<|") and text.endswith("|>") and len(text) > 4) or (
        text.startswith("<｜") and text.endswith("｜>") and len(text) > 2)


def read_tokenizer(source: Any) -> dict[str, Any]:
    """The ``tokenizer.json`` document from a path, its text, or a ``tokenizers.Tokenizer``."""
    if hasattr(source, "to_str"):
        return json.loads(source.to_str())
    if isinstance(source, (str, Path)) and Path(source).is_file():
        return json.loads(Path(source).read_text(encoding="utf-8"))
    if isinstance(source, str):
        return json.loads(source)
    raise VocabError(f"cannot read a tokenizer from a {type(source).__name__}")


def vocab_table(data: dict[str, Any], n_vocab: int | None = None
                ) -> tuple[list[str], list[int], list[str]]:
    """Token texts, llama.cpp token types and merges for every id of a byte-level BPE tokenizer."""
    from gguf import TokenType

    model = data.get("model") or {}
    if model.get("type") != "BPE":
        raise VocabError(f"only BPE tokenizers can be written, this one is {model.get('type')!r}")
    if not _byte_level(data):
        raise VocabError("only byte-level BPE (a ByteLevel pre-tokenizer or decoder) can be written")
    texts: dict[int, str] = {i: t for t, i in model["vocab"].items()}
    types: dict[int, int] = {i: TokenType.NORMAL for i in texts}
    for added in data.get("added_tokens") or []:
        i, text = added["id"], added["content"]
        texts[i] = text
        control = added.get("special") or looks_like_control(text)
        types[i] = TokenType.CONTROL if control else TokenType.USER_DEFINED
    size = max(max(texts) + 1, n_vocab or 0)
    tokens = [texts.get(i, f"[PAD{i}]") for i in range(size)]
    kinds = [int(types.get(i, TokenType.UNUSED)) for i in range(size)]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges") or []]
    return tokens, kinds, merges


def _byte_level(data: dict[str, Any]) -> bool:
    def has(node: Any) -> bool:
        if not isinstance(node, dict):
            return False
        if node.get("type") == "ByteLevel":
            return True
        return any(has(n) for n in node.get("pretokenizers") or node.get("decoders") or [])

    return has(data.get("pre_tokenizer")) or has(data.get("decoder"))


def write_vocab_gguf(source: Any, path: str | Path, *, eos_id: int, bos_id: int | None = None,
                     n_vocab: int | None = None, pre: str = DEFAULT_PRE) -> Path:
    """Write a vocab-only GGUF (architecture ``llama``) for ``source`` at ``path``.

    ``eos_id`` is the token llama.cpp treats as end of generation (EOG) -- the grammar
    engine allows it exactly where the grammar may end.  ``n_vocab`` pads the vocabulary
    to the model's size (unused ids).  ``pre`` is llama.cpp's pre-tokenizer name.
    """
    import gguf

    tokens, kinds, merges = vocab_table(read_tokenizer(source), n_vocab)
    if not 0 <= eos_id < len(tokens):
        raise VocabError(f"eos_id {eos_id} is outside the vocabulary (0..{len(tokens) - 1})")
    path = Path(path)
    writer = gguf.GGUFWriter(str(path), "llama")
    # Hyperparameters llama.cpp reads before the vocabulary; no tensors follow them.
    writer.add_context_length(4096)
    writer.add_embedding_length(64)
    writer.add_block_count(1)
    writer.add_feed_forward_length(128)
    writer.add_head_count(1)
    writer.add_head_count_kv(1)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(kinds)
    writer.add_token_merges(merges or [INERT_MERGE])
    writer.add_eos_token_id(eos_id)
    writer.add_bos_token_id(eos_id if bos_id is None else bos_id)
    writer.add_add_bos_token(False)
    writer.add_add_eos_token(False)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
