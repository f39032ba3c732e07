"""Grammar injection: hostile strings in any user-controlled field match only themselves, or are refused clearly.

The checks live in ``benchmarks/fuzz.py`` (the long run: 10,000 cases per field); here they
run on a table of the classic attacks for every profile, and on a bounded number of
hypothesis examples per field.  A case passes when the input is refused with a clear
:class:`GrammarGenError`, or the grammar accepts the call with exactly that literal and
rejects every one-character change of it.

Decision on marker text inside values: llguidance never lets a model write a special
token's text with ordinary tokens, so a name or value holding it could never be completed;
compile refuses it (``ToolError``: "the text of a special token").  Text that only *looks*
like a marker the tokenizer does not have (``<|x|>``, ``<[5]>``) is plain text and matched
literally.  Samples here are tokenized part by part (markers as special tokens, values as
bytes), because ``grammargen.validate`` reads marker text written in a sample as the token.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import grammargen
from conftest import load_benchmark
from grammargen import Grammar, ProfileError, ToolError


fuzz = load_benchmark("fuzz")
FORMATS = grammargen.formats()
# Formats whose arguments are JSON (call objects or a json arguments piece).
JSON_FORMATS = [f for f in FORMATS if all(p.kind != "arguments" or p.value == "json"
                                          for p in grammargen.get_profile(f).call)]
VALUE_FIELDS = ("tool_name", "enum_value", "const_value", "property_name")
ATTACKS = {
    "double-quote": 'a"b', "close-string-and-alternative": '" | /.*/ | "', "backslash": "a\\b",
    "trailing-backslash": "ab\\", "escaped-quote-text": '\\"', "newline": "a\nb", "nul": "a\x00b",
    "escape-char": "a\x1bb", "del": "a\x7fb", "line-separator": "a\u2028b", "percent-json": '%json {"type": "string"}',
    "percent-ignore": "%ignore /[ ]+/", "any-regex": "/.*/", "new-rule": "}\nstart: /(?s:.*)/\nx: {",
    "special-lookalike": "<|x|>", "token-id": "<[5]>", "lark-comment": "// comment", "hash": "# not a comment",
    "json-unicode-escape-text": "\\u0022", "regex-escape-text": "\\x{22}", "emoji": "𝄞😀", "empty": "",
    "long": "ab'\"\\" * 200,
}


def marker_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "profile"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.mark.parametrize("field", VALUE_FIELDS)
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_classic_attack_matches_only_itself(attack: str, field: str) -> None:
    """Each classic injection string, in each field, is refused clearly or matched exactly in every profile."""
    value = ATTACKS[attack]
    outcomes = {fmt: fuzz.check_value(field, value, fmt, ("auto", "json")[i % 2]) for i, fmt in enumerate(FORMATS)}
    # (check_value itself fails on anything but an exact match or a clear refusal)
    if field == "tool_name" and (any(c in value for c in "\x00\x1b\x7f\n") or not value):
        assert set(outcomes.values()) == {"refused"}  # control characters and empty names can't be tool names
        return
    json_outcomes = {outcomes[f] for f in JSON_FORMATS}
    if field == "property_name" and "\x7f" in value:
        assert json_outcomes == {"refused"}  # llguidance's %json writes DEL in keys unlike in strings
    else:
        assert json_outcomes == {"ok"}
    # Other encodings write names and values their own way: each is exact or refused clearly
    # (Gemma 4 reads a tool name up to its "{", so such a name is refused there).
    assert set(outcomes.values()) <= {"ok", "refused"}


# Formats with an argument encoding of their own (XML parameters, pythonic calls, Gemma 4).
ENCODING_FORMATS = [f for f in FORMATS if f not in JSON_FORMATS]
# What ends a raw string value in each such format: an enum or const value holding it is refused.
VALUE_END = {"qwen3-coder": "</parameter>", "seed-oss": "</parameter>", "minimax-m2": "</parameter>",
             "glm45": "</arg_value>", "glm47": "</arg_value>", "deepseekv32": "</｜DSML｜parameter>",
             "gemma4": '<|"|>'}
# The encodings' own syntax, as an attacker would write it into a name, a key or a value.
ENCODING_ATTACKS = {
    "parameter-close": "</parameter>", "arg-value-close": "x</arg_value>y", "dsml-close": "</｜DSML｜parameter>",
    "dsml-attribute": '" string="false">1', "xml-open": "<parameter=k>\n", "minimax-open": '<parameter name="k">',
    "function-close": "</function>", "gemma-delimiter": 'a<|"|>b', "gemma-call": "<|tool_call>call:g{",
    "python-close": "x'), evil(a=1)]", "paren": ")", "python-kwarg": "k=v, ", "gemma-pair": "k:1,",
    "brace": "}", "quote-gt": 'a">', "newline-wrapped": "\nx\n", "edge-spaces": " a ",
}


@pytest.mark.parametrize("field", VALUE_FIELDS)
@pytest.mark.parametrize("attack", sorted(ENCODING_ATTACKS))
def test_encoding_syntax_is_exact_and_read_back_or_refused(attack: str, field: str) -> None:
    """An encoding's own syntax in a tool name, key or value: exact, read back by parse, or refused
    clearly; an enum or const value holding what ends a raw value there is refused, nowhere else."""
    value = ENCODING_ATTACKS[attack]
    # (check_value fails on anything but an exact match that parse reads back, or a clear refusal)
    outcomes = {fmt: fuzz.check_value(field, value, fmt) for fmt in ENCODING_FORMATS}
    refused = {fmt for fmt, outcome in outcomes.items() if outcome == "refused"}
    # a special token's text can't be written with ordinary tokens anywhere (see the module docstring)
    special = {fmt for fmt in ENCODING_FORMATS
               if any(s in value for s in (*grammargen.get_profile(fmt).special, *grammargen.get_profile(fmt).token_ids))}
    if field in ("enum_value", "const_value"):
        ends = {fmt for fmt in ENCODING_FORMATS if fmt in VALUE_END and VALUE_END[fmt] in value}
        assert refused == ends | special
    if field == "property_name":  # keys are literals the parser reads as the tool names them
        assert refused == special


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_classic_attack_in_a_description_never_reaches_the_grammar(attack: str) -> None:
    """A description or title holding an injection string leaves the grammar byte-for-byte unchanged."""
    for fmt in FORMATS:
        assert fuzz.check_value("description", ATTACKS[attack], fmt) == "ok"


@pytest.mark.parametrize("special", [False, True], ids=["text-marker", "special-marker"])
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_classic_attack_as_profile_marker(attack: str, special: bool, tmp_path: Path) -> None:
    """A profile whose marker is an injection string is refused clearly or matches exactly that marker."""
    for auto in (False, True):
        outcome = fuzz.check_marker(ATTACKS[attack], marker_folder(tmp_path), special=special, auto=auto)
        assert outcome in ("ok", "refused")
        if not special and ATTACKS[attack]:
            assert outcome == "ok"  # any non-empty text is a valid text marker


@pytest.mark.parametrize("fmt", [f for f in FORMATS if grammargen.get_profile(f).special])
def test_a_value_holding_the_profiles_special_marker_is_refused(fmt: str) -> None:
    """An enum value holding the profile's own special marker text is refused: no model could write it."""
    marker = next(m for m in grammargen.get_profile(fmt).markers if m in grammargen.get_profile(fmt).special)
    tools = [{"name": "f", "parameters": {"type": "object", "properties": {"v": {"enum": ["ok", f"x{marker}y"]}}}}]
    with pytest.raises(ToolError, match="the text of a special token") as info:
        grammargen.compile(tools, fmt)
    assert info.value.path == "tools[0].parameters.properties.v.enum[1]"


def test_marker_text_is_fine_where_the_format_has_no_such_token() -> None:
    """The same value is plain text for a format without special tokens, and matched exactly there."""
    assert fuzz.check_value("enum_value", "x<|tool_call|>y", "functools") == "ok"
    assert fuzz.check_value("tool_name", "<tool_call>", "functools") == "ok"


def test_a_text_marker_holding_a_special_token_is_refused(tmp_path: Path) -> None:
    """A profile marker matched as text that holds a special token's text is a ProfileError naming the piece."""
    profile = grammargen.profiles.load_profile(fuzz.marker_profile(marker_folder(tmp_path), "go<|endoftext|>", False))
    with pytest.raises(ProfileError, match="the text of a special token") as info:
        grammargen.compile([{"name": "f"}], profile)
    assert info.value.path == "layout.begin[0]"


# -- bounded hypothesis runs (the long run is benchmarks/fuzz.py) ----------------------------------
EXAMPLES = settings(max_examples=25, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("field", VALUE_FIELDS)
@EXAMPLES
@given(value=fuzz.hostile_text(), fmt=st.sampled_from(FORMATS), shape=st.sampled_from(["auto", "json"]))
def test_any_hostile_value_matches_only_itself(field: str, value: str, fmt: str, shape: str) -> None:
    """For arbitrary hostile strings in each field: refused clearly, or only the exact literal is accepted."""
    assert fuzz.check_value(field, value, fmt, shape) in ("ok", "refused")


@EXAMPLES
@given(value=fuzz.hostile_text(), fmt=st.sampled_from(FORMATS))
def test_any_description_leaves_the_grammar_unchanged(value: str, fmt: str) -> None:
    """For arbitrary description text the grammar is exactly the one compiled without it."""
    assert fuzz.check_value("description", value, fmt) == "ok"


@EXAMPLES
@given(value=fuzz.hostile_text(), special=st.booleans(), auto=st.booleans())
def test_any_hostile_marker_matches_only_itself(value: str, special: bool, auto: bool, tmp_path: Path) -> None:
    """For arbitrary marker text in a TOML profile: refused clearly, or only that marker starts the calls."""
    assert fuzz.check_marker(value, marker_folder(tmp_path), special=special, auto=auto) in ("ok", "refused")


# -- the checker itself can fail ------------------------------------------------------------------------
def test_the_checker_catches_a_grammar_that_accepts_too_much() -> None:
    """A grammar that accepts any text fails the one-character-change check."""
    case = fuzz.build_case("enum_value", "abc")
    profile = grammargen.get_profile("json")
    loose = Grammar(lark="start: /(?s:.*)/\n", format="json", tool_names=("f",))
    with pytest.raises(AssertionError, match="one-character change is accepted"):
        fuzz._check_grammar(loose, profile, case)


def test_the_long_run_script_reports_counts(capsys: pytest.CaptureFixture[str]) -> None:
    """`python benchmarks/fuzz.py` runs every field, prints per-field counts and exits 0 with no failures."""
    assert fuzz.main(["--per-field", "4"]) == 0
    out = capsys.readouterr().out
    for field in fuzz.FIELDS:
        assert f"{field}" in out and "0 failed" in out
