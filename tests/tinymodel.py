"""A tiny onnxruntime-genai model folder, built in-process: no download, no torch.

The decoder is a bigram model: ``logits = Embedding[input_ids] @ W``, one Gather and one
MatMul over random weights, with a ``genai_config.json`` declaring zero layers so the
runtime needs no KV cache.  Its output is noise; the grammar is what makes it valid, which
is exactly what the end-to-end tests prove.  The tokenizer is byte-level BPE over 256 byte
tokens plus the profile's markers as added tokens (``"special": true`` or not, as asked).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import onnx
import tokenizers
from onnx import TensorProto, helper, numpy_helper

EOS = "<|endoftext|>"
HIDDEN = 16
# A plain role-tagged chat template, so examples can call apply_chat_template on the tiny model.
CHAT_TEMPLATE = ("{% for message in messages %}<|{{ message['role'] }}|>{{ message['content'] }}<|end|>"
                 "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}")


def _byte_alphabet() -> list[str]:
    """GPT-2's printable stand-ins for the 256 byte values."""
    return tokenizers.pre_tokenizers.ByteLevel.alphabet()


def _byte_chars() -> dict[int, str]:
    """Byte value -> its stand-in (printable Latin-1 bytes stand for themselves, the others
    for 256, 257, ... in byte order): how byte-level BPE spells bytes in its vocabulary."""
    printable = {*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)}
    chars, extra = {}, 256
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b], extra = chr(extra), extra + 1
    return chars


def whole_characters(text: str) -> list[tuple[str, str]]:
    """BPE merges that make each non-ASCII character of ``text`` one token (left to right
    over its UTF-8 bytes, in their byte-level spelling)."""
    b2u = _byte_chars()
    merges: dict[tuple[str, str], None] = {}
    for ch in dict.fromkeys(c for c in text if not c.isascii()):
        spelled = [b2u[b] for b in ch.encode("utf-8")]
        for k in range(1, len(spelled)):
            merges[("".join(spelled[:k]), spelled[k])] = None
    return list(merges)


def build_tokenizer(markers: list[str], *, special: bool = True,
                    text: str = "") -> tuple[str, dict[str, int]]:
    """tokenizer.json text for 256 byte tokens, the merges that hold the non-ASCII
    characters of ``text`` whole, then EOS and ``markers`` as added tokens.

    Returns the JSON text and the id of every added token.  EOS is always special;
    ``special`` says how the markers are flagged.
    """
    alphabet = sorted(_byte_alphabet())
    vocab = {ch: i for i, ch in enumerate(alphabet)}
    merges = whole_characters(text)
    for left, right in merges:
        vocab.setdefault(left + right, len(vocab))
    added = {token: len(vocab) + i for i, token in enumerate(dict.fromkeys([EOS, *markers]))}
    model = tokenizers.models.BPE(vocab={**vocab, **added}, merges=merges)
    tok = tokenizers.Tokenizer(model)
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = tokenizers.decoders.ByteLevel()
    data = json.loads(tok.to_str())
    data["added_tokens"] = [
        {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": special or t == EOS}
        for t, i in added.items()
    ]
    return json.dumps(data, ensure_ascii=False), added


def build_decoder(vocab_size: int, seed: int = 0, prefer: Sequence[int] = ()) -> onnx.ModelProto:
    """The bigram graph: input_ids -> Gather -> MatMul -> Add(bias) -> logits [batch, seq, vocab].

    ``prefer``: token ids given a large bias, a model that "wants" them wherever the grammar
    allows them.  Tests prefer the call markers: a random model then starts its calls at
    once instead of writing text forever where a format allows text before the calls.
    """
    rng = np.random.default_rng(seed)
    embedding = rng.standard_normal((vocab_size, HIDDEN)).astype(np.float32)
    projection = rng.standard_normal((HIDDEN, vocab_size)).astype(np.float32)
    bias = np.zeros(vocab_size, dtype=np.float32)
    bias[list(prefer)] = 100.0
    graph = helper.make_graph(
        [helper.make_node("Gather", ["embedding", "input_ids"], ["hidden"]),
         helper.make_node("MatMul", ["hidden", "projection"], ["scores"]),
         helper.make_node("Add", ["scores", "bias"], ["logits"])],
        "bigram",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "sequence", vocab_size])],
        [numpy_helper.from_array(embedding, "embedding"),
         numpy_helper.from_array(projection, "projection"),
         numpy_helper.from_array(bias, "bias")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def genai_config(vocab_size: int, eos_id: int, max_length: int) -> dict[str, Any]:
    """A decoder-only config with zero layers: the runtime feeds input_ids, reads logits."""
    return {
        "model": {
            "type": "llama",
            "bos_token_id": eos_id,
            "eos_token_id": [eos_id],
            "pad_token_id": eos_id,
            "context_length": max_length,
            "vocab_size": vocab_size,
            "decoder": {
                "session_options": {"log_id": "onnxruntime-genai", "provider_options": []},
                "filename": "model.onnx",
                "head_size": 1,
                "hidden_size": HIDDEN,
                "num_attention_heads": 1,
                "num_hidden_layers": 0,
                "num_key_value_heads": 1,
                "inputs": {"input_ids": "input_ids"},
                "outputs": {"logits": "logits"},
            },
        },
        "search": {"do_sample": False, "max_length": max_length, "num_beams": 1,
                   "num_return_sequences": 1, "past_present_share_buffer": False,
                   "temperature": 1.0, "top_k": 1, "top_p": 1.0},
    }


def build_model(folder: Path, markers: Sequence[str], *, special: bool = True,
                prefer: Sequence[str] = (), context_length: int = 4096, seed: int = 0,
                text: str = "") -> dict[str, int]:
    """Write a loadable model folder; returns the ids of EOS and the markers.

    ``prefer``: markers the model favours (see :func:`build_decoder`); ``text``: what the
    format writes (a rendered call), whose non-ASCII characters the vocabulary holds whole.
    """
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer_text, added = build_tokenizer(list(markers), special=special, text=text)
    vocab_size = max(added.values()) + 1
    (folder / "tokenizer.json").write_text(tokenizer_text, encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "GPT2Tokenizer", "eos_token": EOS, "bos_token": EOS,
        "unk_token": EOS, "add_bos_token": False, "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "model_max_length": context_length}), encoding="utf-8")
    onnx.save(build_decoder(vocab_size, seed, [added[m] for m in prefer]), folder / "model.onnx")
    (folder / "genai_config.json").write_text(
        json.dumps(genai_config(vocab_size, added[EOS], context_length), indent=2), encoding="utf-8")
    return added


def main() -> None:
    """``python tests/tinymodel.py FOLDER [FORMAT] [--plain-markers]``: write a tiny model folder."""
    import argparse

    from grammargen.profiles import get_profile
    from grammargen.render import render

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("format", nargs="?", default="phi4-mini")
    parser.add_argument("--plain-markers", action="store_true",
                        help='add the markers with "special": false')
    args = parser.parse_args()
    profile = get_profile(args.format)
    written = render([{"name": "f", "arguments": {"k": "v"}}], profile.name)
    ids = build_model(args.folder, profile.markers, special=not args.plain_markers,
                      prefer=profile.markers[:1], text=written)
    print(f"wrote {args.folder} ({args.format}; added tokens: {ids})")


if __name__ == "__main__":
    main()


def build_model_around(folder: Path, tokenizer_file: Path, vocab_size: int, eos_ids: Sequence[int], *,
                       prefer_ids: Sequence[int] = (), context_length: int = 2048, seed: int = 0) -> None:
    """Write a loadable model folder around a real ``tokenizer.json``.

    ``vocab_size`` is that tokenizer's, added tokens included (the caller has it parsed
    already; parsing a 150k-token vocabulary costs seconds): the decoder then covers every
    real id, so markers keep their real ids and ``special`` flags in the runtime.  The
    package's own ``tokenizer_config.json`` is copied when it ships one (the runtime reads
    the tokenizer class from it).  ``eos_ids``: the family's end-of-turn ids, the first of
    which the runtime forces when a grammar completes.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tokenizer.json").write_bytes(tokenizer_file.read_bytes())
    config = tokenizer_file.with_name("tokenizer_config.json")
    if config.is_file():
        (folder / "tokenizer_config.json").write_bytes(config.read_bytes())
    onnx.save(build_decoder(vocab_size, seed, prefer_ids), folder / "model.onnx")
    settings = genai_config(vocab_size, eos_ids[0], context_length)
    settings["model"]["eos_token_id"] = list(eos_ids)
    (folder / "genai_config.json").write_text(json.dumps(settings, indent=2), encoding="utf-8")
