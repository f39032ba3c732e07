"""Generated samples: they cover every schema feature, are deterministic, and the compiled grammar agrees with each."""

from __future__ import annotations

import json

import pytest

import grammargen
from grammargen.errors import OptionsError
from grammargen.samples import samples

# One tool with every property type, enums, nesting and optional properties.
EVERYTHING = {
    "type": "function",
    "function": {
        "name": "plan_trip",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "nights": {"type": "integer", "minimum": 1, "maximum": 30},
                "budget": {"type": "number"},
                "refundable": {"type": "boolean"},
                "note": {"type": "null"},
                "unit": {"type": "string", "enum": ["eur", "usd", "gbp"]},
                "travellers": {"type": "array", "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
                    "required": ["name"]}},
                "hotel": {"type": "object", "properties": {
                    "stars": {"type": "integer", "enum": [3, 4, 5]},
                    "area": {"type": "object", "properties": {"district": {"type": "string"}}}},
                    "required": ["stars"]},
                "when": {"type": "string", "format": "date"},
            },
            "required": ["city", "nights"],
        },
    },
}
TOOLS = [EVERYTHING, {"type": "function", "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}}}]

OPTION_SETS = [
    pytest.param({}, id="auto"),
    pytest.param({"tool_choice": "required"}, id="required"),
    pytest.param({"tool_choice": "none"}, id="none"),
    pytest.param({"tool_choice": "ping"}, id="named-tool"),
    pytest.param({"parallel_tool_calls": False}, id="no-parallel"),
    pytest.param({"max_calls": 1}, id="max-calls-1"),
]


def _by_note(items: list[grammargen.Sample]) -> dict[str, grammargen.Sample]:
    return {s.note: s for s in items}


def _arguments(sample: grammargen.Sample) -> dict:
    """The arguments object of a phi4-mini sample (a JSON array after the marker)."""
    body = sample.text.removeprefix("<|tool_call|>").removesuffix("<|/tool_call|>")
    return json.loads(body)[0]["arguments"]


def test_all_properties_sample_has_every_type_in_schema_order() -> None:
    """The "all properties" sample fills every property, nested ones too, in declared order, with the right JSON types."""
    args = _arguments(_by_note(samples(TOOLS, "phi4-mini"))["plan_trip: all properties"])
    assert list(args) == ["city", "nights", "budget", "refundable", "note", "unit", "travellers", "hotel", "when"]
    assert isinstance(args["city"], str) and isinstance(args["nights"], int) and 1 <= args["nights"] <= 30
    assert isinstance(args["budget"], float) and isinstance(args["refundable"], bool) and args["note"] is None
    assert args["unit"] in ("eur", "usd", "gbp") and args["when"] == "2024-05-01"
    assert len(args["travellers"]) == 2 and set(args["travellers"][0]) == {"name", "age"}
    assert args["hotel"]["stars"] in (3, 4, 5) and "district" in args["hotel"]["area"]


def test_required_only_sample_leaves_optional_properties_out() -> None:
    """The "required properties only" sample has exactly the required keys."""
    args = _arguments(_by_note(samples(TOOLS, "phi4-mini"))["plan_trip: required properties only"])
    assert set(args) == {"city", "nights"}


def test_every_enum_value_gets_an_accept_sample() -> None:
    """Each enum value, top-level and nested, appears in its own accept sample."""
    notes = {s.note for s in samples(TOOLS, "phi4-mini") if s.expect == "accept"}
    for value in ('"eur"', '"usd"', '"gbp"'):
        assert f"plan_trip: unit = {value}" in notes
    for value in ("3", "4", "5"):
        assert f"plan_trip: hotel.stars = {value}" in notes


@pytest.mark.parametrize("note", [
    "plan_trip: missing required argument 'city'", "plan_trip: extra key", "plan_trip: wrong type for 'city'",
    "plan_trip: enum violation at unit", "unknown tool", "broken JSON", "missing end marker",
])
def test_reject_cases_are_generated(note: str) -> None:
    """Each kind of near miss the issue lists is among the reject samples."""
    assert _by_note(samples(TOOLS, "phi4-mini"))[note].expect == "reject"


@pytest.mark.parametrize("options, note", [
    pytest.param({"parallel_tool_calls": False}, "two calls when parallel is off", id="two-calls"),
    pytest.param({"tool_choice": "required"}, "text when a call is required", id="text-when-required"),
    pytest.param({"tool_choice": "none"}, "a call when tool_choice is none", id="call-when-none"),
    pytest.param({"tool_choice": "ping"}, "a call of a tool tool_choice excludes", id="excluded-tool"),
    pytest.param({"reasoning": "required"}, "no reasoning block when it is required", id="no-reasoning"),
])
def test_option_specific_reject_cases(options: dict, note: str) -> None:
    """The mistakes an option forbids are generated as reject samples under that option."""
    assert _by_note(samples(TOOLS, "qwen25", **options))[note].expect == "reject"


def test_missing_end_marker_only_where_the_format_has_one() -> None:
    """Llama 3 calls have no end marker, so no such sample; Qwen's </tool_call> has one."""
    assert "missing end marker" not in _by_note(samples(TOOLS, "llama3"))
    assert _by_note(samples(TOOLS, "qwen25"))["missing end marker"].text.endswith("}\n")


def test_samples_are_deterministic_per_seed() -> None:
    """The same seed gives the same samples; another seed picks other values."""
    assert samples(TOOLS, "qwen25", seed=7) == samples(TOOLS, "qwen25", seed=7)
    assert samples(TOOLS, "qwen25", seed=7) != samples(TOOLS, "qwen25", seed=8)


def test_unknown_option_is_refused() -> None:
    """A misspelled option raises OptionsError instead of being ignored."""
    with pytest.raises(OptionsError, match="paralel"):
        samples(TOOLS, "qwen25", paralel_tool_calls=False)


@pytest.mark.parametrize("fmt", grammargen.formats())
@pytest.mark.parametrize("options", OPTION_SETS)
def test_grammar_agrees_with_every_generated_sample(fmt: str, options: dict) -> None:
    """For every format and option set, the grammar compiled with the same options accepts and rejects each sample as declared."""
    generated = samples(TOOLS, fmt, **options)
    report = grammargen.validate(grammargen.compile(TOOLS, fmt, **options), generated)
    assert [(r.sample.note, r.got) for r in report.failures] == []
    assert any(s.expect == "accept" for s in generated) and any(s.expect == "reject" for s in generated)


@pytest.mark.parametrize("fmt", ["qwen25", "phi4-mini", "deepseekv3"])
def test_reasoning_samples_agree_with_the_grammar(fmt: str) -> None:
    """With reasoning allowed or required, samples carry the profile's block and the grammar agrees."""
    for reasoning in (True, "required"):
        generated = samples(TOOLS, fmt, reasoning=reasoning)
        report = grammargen.validate(grammargen.compile(TOOLS, fmt, reasoning=reasoning), generated)
        assert report.ok, [(r.sample.note, r.got) for r in report.failures]
