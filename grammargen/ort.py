"""onnxruntime-genai glue: read a model folder, generate under a grammar, decode what it made.

Two runtime facts shape this module (onnxruntime-genai 0.18.0):

- its ``Tokenizer.decode`` returns ``''`` for special tokens, so the markers a parser needs
  (``<|tool_call|>``) vanish; :func:`generate` decodes with the folder's ``tokenizer.json``
  through the ``tokenizers`` library, special tokens kept;
- its llguidance matches an unquoted ``<|tool_call|>`` only when the token is
  ``"special": true`` in tokenizer.json, and crashes on a quoted marker when it is; so
  compile with ``tokenizer=`` the model folder (:func:`read_model_folder` gives it) and the
  marker forms follow that folder's tokenizer;
- with ``enable_ff_tokens=True`` a step appends a whole forced run of tokens without
  checking ``max_length`` (and ``get_next_tokens()`` shows only the last of them), so
  :func:`generate` reads the sequence and leaves the runtime room past its own limit.

``onnxruntime_genai`` is imported only by the functions that run it (an optional extra).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .errors import GrammarError, InputError
from .grammar import Grammar
from .tokenizer import Tokenizer, load_tokenizer


@dataclass(frozen=True)
class ModelFolder:
    """An onnxruntime-genai model folder: its ``genai_config.json`` and its tokenizer."""

    path: Path
    config: dict[str, Any]
    tokenizer: Tokenizer

    @property
    def eos_token_ids(self) -> tuple[int, ...]:
        """The ids that end generation; the runtime forces the first when a grammar completes."""
        eos = self.config.get("model", {}).get("eos_token_id", ())
        return tuple(eos) if isinstance(eos, list) else (eos,)

    @property
    def context_length(self) -> int | None:
        """The longest sequence (prompt plus output) the model accepts."""
        value = self.config.get("model", {}).get("context_length")
        return value if isinstance(value, int) else None


def read_model_folder(path: str | Path) -> ModelFolder:
    """Read ``genai_config.json`` and ``tokenizer.json`` from an onnxruntime-genai model folder.

    Pass ``folder.tokenizer`` (or the path itself) as ``compile(..., tokenizer=...)`` so the
    grammar names each marker the way this model's tokenizer and runtime need.
    """
    folder = Path(path)
    config_file = folder / "genai_config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError("not an onnxruntime-genai model folder (no genai_config.json)",
                         source=str(folder)) from exc
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read genai_config.json: {exc}", source=str(config_file)) from exc
    if not isinstance(config, dict):
        raise InputError("genai_config.json is not a JSON object", source=str(config_file))
    return ModelFolder(folder, config, load_tokenizer(folder))


@dataclass(frozen=True)
class Generation:
    """What one guided generation produced, and what it cost."""

    token_ids: tuple[int, ...]  # the generated tokens only (the prompt excluded)
    text: str  # decoded with special tokens kept: what grammargen.parse needs
    steps: int  # generate_next_token calls (fewer with enable_ff_tokens)
    seconds: float  # wall time of the generation loop
    finished: bool  # ended by the grammar or EOS, not by max_length


def generate(model: Any, grammar: Grammar | None, input_ids: Sequence[int], *,
             folder: ModelFolder, max_new_tokens: int = 256, enable_ff_tokens: bool = False,
             **search_options: Any) -> Generation:
    """Greedy generation on an ``og.Model`` under ``grammar`` (``None``: unconstrained).

    ``input_ids`` is the encoded prompt; ``folder`` (the model's :class:`ModelFolder`)
    decodes the output with special tokens kept.  Other keyword arguments go to
    ``GeneratorParams.set_search_options``.
    """
    import onnxruntime_genai as og

    limit = len(input_ids) + max_new_tokens
    capacity = limit + _ff_headroom(grammar, enable_ff_tokens)
    if folder.context_length is not None and capacity > folder.context_length:
        limit -= capacity - folder.context_length
        capacity = folder.context_length
        if limit <= len(input_ids):
            raise InputError(f"the prompt ({len(input_ids)} tokens) leaves no room to generate in "
                             f"the model's context of {folder.context_length} tokens",
                             source=str(folder.path))
    params = og.GeneratorParams(model)
    params.set_search_options(**{"do_sample": False, **search_options, "max_length": capacity})
    if grammar is not None:
        grammar.apply(params, enable_ff_tokens)
    try:
        generator = og.Generator(model, params)
    except RuntimeError as exc:
        raise _grammar_error(exc, grammar, "loading") from exc
    generator.append_tokens(list(input_ids))
    steps = 0
    start = time.perf_counter()
    try:
        while not generator.is_done() and generator.token_count() < limit:
            generator.generate_next_token()
            steps += 1
    except RuntimeError as exc:
        raise _grammar_error(exc, grammar, "generating") from exc
    seconds = time.perf_counter() - start
    sequence = [int(t) for t in generator.get_sequence(0)]
    output = tuple(sequence[len(input_ids):])
    # Done before the capacity is reached means EOS, which the runtime forces when the
    # grammar completes.
    finished = generator.is_done() and len(sequence) < capacity
    return Generation(output, folder.tokenizer.decode(list(output)), steps, seconds, finished)


def _ff_headroom(grammar: Grammar | None, enable_ff_tokens: bool) -> int:
    """Room past the limit for one fast-forwarded run of tokens.

    onnxruntime-genai 0.18.0 appends fast-forwarded tokens without checking max_length
    (measured: 111 tokens written into a 100-token budget, then heap corruption and a
    crash), so the runtime's max_length is set above the limit this module stops at.  A
    forced run is made of the grammar's literal text, so the grammar's length in bytes
    bounds it (every token spells at least one byte).
    """
    if grammar is None or not enable_ff_tokens:
        return 0
    return len(grammar.lark.encode("utf-8"))


def _grammar_error(exc: RuntimeError, grammar: Grammar | None, when: str) -> Exception:
    """The runtime's complaint about a grammar as a GrammarError (llguidance's text shows where)."""
    if grammar is None:
        return exc
    if when == "loading":
        what = f"onnxruntime-genai could not load the {grammar.format} grammar"
    else:
        what = (f"onnxruntime-genai failed generating under the {grammar.format} grammar (compile "
                "with tokenizer= this model folder, so the markers match its tokenizer)")
    return GrammarError(f"{what}: {_first_lines(str(exc))}")


def _first_lines(message: str, count: int = 4) -> str:
    """The head of a runtime message (they end in long parser-state dumps)."""
    return "\n".join(message.strip().splitlines()[:count])
