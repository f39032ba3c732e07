"""validate(): forcing samples through llguidance token by token, where it fails, and the tokenizer sources it takes."""

from __future__ import annotations

import json

import pytest
import tokenizers

import grammargen
from grammargen.errors import InputError, TokenizerError
from grammargen.profiles import get_profile
from grammargen.tokenizer import builtin_for, load_tokenizer
from grammargen.validate import Sample, read_samples, validate

WEATHER = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
    "required": ["city", "unit"]}}}]
CALL = '<|tool_call|>[{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}]<|/tool_call|>'


@pytest.fixture(scope="module")
def grammar() -> grammargen.Grammar:
    return grammargen.compile(WEATHER, "phi4-mini")


def test_wrong_enum_value_is_rejected_at_its_first_byte(grammar) -> None:
    """A wrong enum value is rejected at the exact byte where it leaves the enum, with context and llguidance's message."""
    text = CALL.replace("celsius", "kelvin")
    [result] = validate(grammar, [Sample(text, "reject")]).results
    assert result.got == "rejected" and result.ok
    assert result.offset == text.encode().index(b"kelvin")
    assert "⟦k⟧elvin" in result.context
    assert "fails parse" in result.message


def test_offset_counts_bytes_not_characters(grammar) -> None:
    """After non-ASCII text the offset is a byte offset into the UTF-8 sample."""
    text = CALL.replace("Paris", "東京").replace("celsius", "kelvin")
    [result] = validate(grammar, [text]).results
    assert result.offset == text.encode().index(b"kelvin") and result.offset != text.index("kelvin")


def test_enum_value_diverging_mid_word_is_located_exactly(grammar) -> None:
    """A value sharing a prefix with an enum member fails at the first differing byte."""
    text = CALL.replace("celsius", "celsiux")
    [result] = validate(grammar, [text]).results
    assert result.offset == text.encode().index(b"celsiux") + 6


def test_valid_prefix_is_incomplete_not_accepted(grammar) -> None:
    """A call cut before its end marker is "incomplete", names what is missing, and fails an accept expectation."""
    text = CALL.removesuffix("<|/tool_call|>")
    report = validate(grammar, [text])
    [result] = report.results
    assert result.got == "incomplete" and not result.ok and not report.ok
    assert result.offset == len(text.encode())
    assert "<|/tool_call|>" in result.message


def test_rejected_and_incomplete_both_satisfy_a_reject_expectation(grammar) -> None:
    """Expecting rejection, a rejected sample and an incomplete one both count as as-expected."""
    report = validate(grammar, [Sample(CALL.replace("celsius", "x"), "reject"), Sample(CALL[:30], "reject")])
    assert [r.got for r in report.results] == ["rejected", "incomplete"] and report.ok


def test_grammar_error_is_reported_once_not_per_sample() -> None:
    """A grammar llguidance refuses gives one grammar_error and no per-sample results."""
    report = validate("start: no_such_rule", ["a", "b", "c"], format="json")
    assert report.grammar_error and report.results == [] and not report.ok


def test_literal_marker_text_is_tokenized_as_the_special_token(grammar) -> None:
    """A sample spelling <|tool_call|> is tokenized as the special token, so the special reference accepts it and a quoted-text grammar does not."""
    assert validate(grammar, [CALL]).ok
    quoted = grammar.lark.replace("<|tool_call|>", '"<|tool_call|>"')
    [result] = validate(quoted, [CALL], format="phi4-mini").results
    assert result.got == "rejected" and result.offset == 0


def test_report_json_has_the_documented_fields(grammar) -> None:
    """Report.to_json carries ok, counts and per-sample expected/got/offset/context/message."""
    data = validate(grammar, [CALL, Sample(CALL.replace("celsius", "x"), "reject")]).to_json()
    assert data["ok"] is True and data["total"] == 2 and data["failed"] == 0
    assert data["counts"] == {"accepted": 1, "rejected": 1, "incomplete": 0}
    assert set(data["results"][1]) == {"text", "expected", "got", "ok", "offset", "context", "message", "note"}
    json.dumps(data)


def test_progress_is_called_once_per_sample(grammar) -> None:
    """The progress callback ticks once for each sample (the CLI's progress bar)."""
    ticks: list[int] = []
    validate(grammar, [CALL] * 5, progress=ticks.append)
    assert ticks == [1] * 5


# -- samples files ------------------------------------------------------------------------

def test_samples_file_is_read_with_expectations(tmp_path) -> None:
    """A JSON Lines file gives samples with text, expect and note; blank lines are skipped."""
    path = tmp_path / "s.jsonl"
    path.write_text('{"text": "a"}\n\n{"text": "b", "expect": "reject", "note": "why"}\n')
    assert read_samples(path) == [Sample("a"), Sample("b", "reject", "why")]


@pytest.mark.parametrize("line, error", [
    pytest.param("{not json", "line 2: not valid JSON", id="bad-json"),
    pytest.param('{"expect": "accept"}', 'line 2: expected an object with a "text" string', id="no-text"),
    pytest.param('{"text": "a", "expect": "maybe"}', 'line 2: "expect" must be', id="bad-expect"),
])
def test_bad_samples_line_names_file_and_line(tmp_path, line: str, error: str) -> None:
    """A malformed line raises InputError naming the file and the line number."""
    path = tmp_path / "s.jsonl"
    path.write_text('{"text": "ok"}\n' + line + "\n")
    with pytest.raises(InputError) as info:
        read_samples(path)
    assert str(path) in str(info.value) and error in str(info.value)


# -- tokenizer sources --------------------------------------------------------------------

@pytest.fixture
def tokenizer_json(tmp_path) -> str:
    """The built-in phi4-mini tokenizer written out as a tokenizer.json file."""
    text = builtin_for(get_profile("phi4-mini")).hf.to_str()
    (tmp_path / "tokenizer.json").write_text(text)
    return text


@pytest.mark.parametrize("source", ["file", "hf-folder", "ort-folder", "in-memory"])
def test_every_tokenizer_source_validates_the_same(tmp_path, tokenizer_json, grammar, source: str) -> None:
    """A tokenizer.json path, a Hugging Face folder, an onnxruntime-genai folder and an in-memory Tokenizer all work."""
    if source == "hf-folder":
        (tmp_path / "config.json").write_text(json.dumps({"eos_token_id": 0}))
    if source == "ort-folder":
        (tmp_path / "genai_config.json").write_text(json.dumps({"model": {"vocab_size": 300, "eos_token_id": [0]}}))
    arg = {"file": str(tmp_path / "tokenizer.json"), "hf-folder": str(tmp_path), "ort-folder": str(tmp_path),
           "in-memory": tokenizers.Tokenizer.from_str(tokenizer_json)}[source]
    report = validate(grammar, [CALL, Sample(CALL.replace("celsius", "kelvin"), "reject")], tokenizer=arg)
    assert report.ok and report.results[0].got == "accepted"


def test_onnxruntime_genai_vocab_size_beyond_the_tokenizer_is_used(tmp_path, tokenizer_json) -> None:
    """genai_config.json's vocab_size, larger than the tokenizer's count, sizes llguidance's vocabulary."""
    (tmp_path / "genai_config.json").write_text(json.dumps({"model": {"vocab_size": 512}}))
    assert load_tokenizer(str(tmp_path)).ll.vocab_size == 512


def test_missing_tokenizer_is_a_clear_error(tmp_path) -> None:
    """A folder without tokenizer.json raises TokenizerError saying what to give."""
    with pytest.raises(TokenizerError, match="no tokenizer.json"):
        validate("start: \"a\"", ["a"], tokenizer=str(tmp_path))
