"""User-supplied names and enum values reach the grammar quoted: matched literally and nothing else."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grammargen import Sample, compile, formats, get_profile, render, validate

MARKERS = {m for f in formats() for m in get_profile(f).markers}
HOSTILE = ['a" | /.*/ | "b', "back\\slash", 'quote"', "new\nline", "%json {}", "%ignore /x/", "<|x|>", "<[5]>",
           "// comment", "# comment", "tab\there", "é ツ 𝄞", "x" * 300, "}\nstart: /.*/\n{"]


def tool(name: str, values: list[str]) -> dict:
    return {"name": name, "parameters": {"type": "object", "properties": {"v": {"enum": values}}, "required": ["v"]}}


def one_char_changes(text: str) -> list[str]:
    """A few texts one character away from ``text``."""
    return [text[:-1], text + "x", "y" + text[1:]] if text else ["x"]


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
@pytest.mark.parametrize("fmt", ["phi4-mini", "qwen25", "deepseekv3"])
def test_hostile_values_match_literally(fmt: str, value: str) -> None:
    """A hostile tool name and enum value are accepted exactly, and one-character changes are rejected."""
    name = value.replace("\n", " ").replace("\t", " ")  # names can't hold control characters
    grammar = compile([tool(name, [value, "other"])], fmt, tool_choice="required")
    good = render([{"name": name, "arguments": {"v": value}}], fmt)
    bad = [render([{"name": n, "arguments": {"v": value}}], fmt) for n in one_char_changes(name)]
    bad += [render([{"name": name, "arguments": {"v": v}}], fmt) for v in one_char_changes(value)]
    report = validate(grammar, [Sample(good)] + [Sample(b, "reject") for b in bad if b != good])
    assert not [(r.sample.text[:80], r.got) for r in report.failures]


names = st.text(min_size=1, max_size=40).filter(
    lambda s: s.isprintable() and not any(m in s for m in MARKERS))
values = st.text(max_size=40).filter(lambda s: not any(m in s for m in MARKERS))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=names, value=values)
def test_any_name_and_enum_value_round_trips(name: str, value: str) -> None:
    """For arbitrary printable names and any enum string, only the exact literal is accepted."""
    grammar = compile([tool(name, [value])], "json", tool_choice="required")
    good = render([{"name": name, "arguments": {"v": value}}], "json")
    changed = render([{"name": name, "arguments": {"v": value + "!"}}], "json")
    report = validate(grammar, [Sample(good), Sample(changed, "reject")])
    assert report.ok, [(r.sample.text, r.got, r.context) for r in report.failures]
