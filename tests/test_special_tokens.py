"""Special tokens: a quoted marker never matches the special token, a special reference never matches text."""

from __future__ import annotations

import json

import llguidance
import pytest
import tokenizers

from grammargen import Sample, compile, get_profile, render, validate
from grammargen.lark import MarkerForm
from grammargen.tokenizer import _bytes_to_unicode, builtin, builtin_for, load_tokenizer, marker_forms

CALL = [{"name": "add", "arguments": {"x": 1, "y": 2}}]


def force_ids(lark: str, tok, ids: list[int]) -> bool:
    """True when the token ids are accepted whole by the grammar."""
    matcher = llguidance.LLMatcher(tok.ll, lark, log_level=0)
    return all(matcher.consume_token(i) for i in ids) and matcher.is_accepting()


def test_special_reference_never_matches_the_marker_spelled_as_text(math_tools: list[dict]) -> None:
    """<|tool_call|> in the grammar accepts the special token but not its characters as bytes."""
    grammar = compile(math_tools, "phi4-mini", tool_choice="required")
    tok = builtin_for(get_profile("phi4-mini"))
    text = render(CALL, "phi4-mini")
    as_special = tok.encode(text)
    byte_char = _bytes_to_unicode()
    as_bytes = [tok.hf.token_to_id(byte_char[b]) for b in text.encode()]
    assert as_special != as_bytes
    assert force_ids(grammar.lark, tok, as_special)
    assert not force_ids(grammar.lark, tok, as_bytes)


def test_quoted_marker_never_matches_the_special_token(math_tools: list[dict]) -> None:
    """A grammar compiled for a tokenizer without the marker writes it as text, which the special token can't match."""
    plain = builtin(())  # no special tokens at all: markers are text
    grammar = compile(math_tools, "phi4-mini", tool_choice="required", tokenizer=plain)
    assert grammar.markers["<|tool_call|>"] == "text"
    assert '"<|tool_call|>["' in grammar.lark
    special_tok = builtin_for(get_profile("phi4-mini"))
    text = render(CALL, "phi4-mini")
    assert validate(grammar, [text], tokenizer=plain).ok
    assert not force_ids(grammar.lark, special_tok, special_tok.encode(text))


def test_non_angle_marker_is_referenced_by_id(math_tools: list[dict]) -> None:
    """Mistral's [TOOL_CALLS] can't be named in Lark: it is <[5]> in v0.3's tokenizer and <[9]>
    in tekken (Nemo), and the built-in tokenizer puts it there."""
    for fmt, token_id in (("mistral", 5), ("mistral-nemo", 9)):
        grammar = compile(math_tools, fmt)
        assert f"<[{token_id}]>" in grammar.lark
        tok = builtin_for(get_profile(fmt))
        assert tok.encode("[TOOL_CALLS]") == [token_id]
        assert validate(grammar, [render(CALL, fmt)]).ok


def _tokenizer_with(tokens: dict[str, bool]) -> tokenizers.Tokenizer:
    """A byte-level tokenizer whose added tokens have the given special flags."""
    data = json.loads(builtin(()).hf.to_str())
    next_id = max(t["id"] for t in data["added_tokens"]) + 1
    for i, (content, special) in enumerate(tokens.items()):
        data["model"]["vocab"][content] = next_id + i
        data["added_tokens"].append({"id": next_id + i, "content": content, "single_word": False, "lstrip": False,
                                     "rstrip": False, "normalized": False, "special": special})
    return tokenizers.Tokenizer.from_str(json.dumps(data))


@pytest.mark.parametrize(("special", "form"), [(True, "special"), (False, "id")], ids=["special-true", "special-false"])
def test_marker_form_follows_the_tokenizer(special: bool, form: str, math_tools: list[dict]) -> None:
    """An added token flagged special is named; an added non-special one (Qwen's case) is referenced by id."""
    hf = _tokenizer_with({"<tool_call>": special, "</tool_call>": special})
    tok = load_tokenizer(hf)
    forms = marker_forms(get_profile("qwen25"), tok)
    assert forms["<tool_call>"].kind == form
    assert forms["<think>"] == MarkerForm("text")  # not in this tokenizer at all
    grammar = compile(math_tools, "qwen25", tokenizer=hf)
    assert validate(grammar, [Sample(render(CALL, "qwen25"))], tokenizer=hf).ok


def test_tokenizer_file_and_folder_sources(tmp_path, math_tools: list[dict]) -> None:
    """A tokenizer.json path and a model folder with genai_config.json (larger vocab) both load."""
    hf = _tokenizer_with({"<|tool_call|>": True, "<|/tool_call|>": True})
    hf.save(str(tmp_path / "tokenizer.json"))
    (tmp_path / "genai_config.json").write_text(json.dumps({"model": {"vocab_size": 400, "eos_token_id": [256]}}))
    by_file = load_tokenizer(tmp_path / "tokenizer.json")
    by_folder = load_tokenizer(tmp_path)
    assert by_folder.ll.vocab_size == 400
    assert by_file.ll.eos_token == 256
    grammar = compile(math_tools, "phi4-mini", tokenizer=tmp_path)
    assert validate(grammar, [render(CALL, "phi4-mini")], tokenizer=tmp_path).ok
