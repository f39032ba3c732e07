"""parse reads what real models write: peers' fixtures of real outputs (issues 14 and 15).

The corpus lives in the repo (tests/data/real_outputs.jsonl), so nothing here skips.
Thresholds apply to the formats grammargen defines at test time; the others are reported
as not implemented and count in no figure.
"""

from __future__ import annotations

import json
from collections import Counter

import jsonschema
import pytest

from conftest import load_benchmark

real = load_benchmark("real_outputs")

# An issue whose formats reach its goal is enforced: a regression fails the suite.  Until
# then a figure below the goal is an expected failure that lists every failing case.
ENFORCED = {14: True, 15: True}
# No figure may fall below what the committed parser reached (issue 14: 146/146 strict at
# commit 3f8ac8c; issue 15: 297/314 before its JSON layouts, 431/440 = 98.0% with them, LFM2's
# older JSON read and a call section ending a reasoning block never closed; 443/445 = 99.6%
# with xLAM's wrappers, Hunyuan's answer frame, Cohere's citation tags, Kimi's bare counters
# and observed Gemma 4 and Nemotron forms read, the other two misses known differences); raise
# a floor as the figure climbs.
FLOOR = {14: 0.99, 15: 0.98}


@pytest.fixture(scope="module")
def cases() -> list[dict]:
    """Every corpus line."""
    return real.load_cases()


@pytest.fixture(scope="module")
def results(cases: list[dict]) -> dict:
    """Every case read strict, lenient and streamed, by format; the table prints for -s runs."""
    measured = real.measure(cases)
    print("\n" + real.report(measured))
    return measured


def test_every_case_names_its_source_and_a_well_formed_expectation(cases: list[dict]) -> None:
    """Ids are unique, sources name a peer's file, expectations are calls with object arguments."""
    ids = Counter(c["id"] for c in cases)
    assert not [i for i, n in ids.items() if n > 1], "duplicate ids"
    peers = ("vllm-project/vllm:", "sgl-project/sglang:", "ggml-org/llama.cpp:")
    for case in cases:
        where = case["id"]
        assert case["source"].startswith(peers), where
        assert case["reasoning"] in (None, "opened"), where
        assert isinstance(case["text"], str) and case["text"], where
        expected = case["expected"]
        assert set(expected) == {"content", "reasoning_content", "tool_calls"}, where
        for key in ("content", "reasoning_content"):
            value = expected[key]
            assert value is None or (value == value.strip() and value), (where, key)
        assert case.get("disputed", "x"), where  # a dispute names its reason
        tools = {tool["name"]: tool["parameters"] for tool in case.get("tools", ())}
        for call in expected["tool_calls"] if tools else ():  # the case's own tools fit its calls
            validator = jsonschema.Draft202012Validator(tools[call["name"]])
            assert not list(validator.iter_errors(call["arguments"])), where
        for call in expected["tool_calls"]:
            assert set(call) <= {"name", "arguments", "id"} and isinstance(call["name"], str), where
            assert isinstance(call["arguments"], dict), where


def test_corpus_spans_both_issues_and_plain_text(cases: list[dict]) -> None:
    """The corpus holds calls and plain answers, from more than one peer, for both issues."""
    issues = Counter(real.issue_of(c["format"]) for c in cases)
    assert issues[14] >= 50 and issues[15] >= 50, issues
    assert sum(not c["expected"]["tool_calls"] for c in cases) >= 10
    assert len({c["source"].split(":")[0] for c in cases}) >= 2


def test_agreement_compares_json_values_ids_and_content() -> None:
    """A case agrees only on equal calls: True is not 1, ids count when written, content folded."""
    from grammargen.parse import Message

    def message(args: str, content: str | None = None, call_id: str = "x") -> Message:
        return Message(content, None, [{"id": call_id, "type": "function",
                                        "function": {"name": "f", "arguments": args}}])

    want = {"content": "Hi there", "reasoning_content": None,
            "tool_calls": [{"name": "f", "arguments": {"a": True, "b": 1.0}}]}
    assert real.difference(want, message('{"b": 1, "a": true}', "Hi\n there")) is None
    assert "arguments" in real.difference(want, message('{"a": 1, "b": 1}', "Hi there"))
    assert "content" in real.difference(want, message('{"a": true, "b": 1}', None))
    with_id = dict(want, tool_calls=[dict(want["tool_calls"][0], id="abc123XYZ")])
    assert "id" in real.difference(with_id, message('{"a": true, "b": 1}', "Hi there"))


def test_report_names_formats_not_implemented(results: dict) -> None:
    """Formats grammargen lacks are listed as not implemented, never counted as failures."""
    text = real.report(results)
    for fmt, result in results.items():
        if not result.implemented:
            assert f"| {fmt} | {result.issue} | {result.cases} | not implemented |" in text
            assert fmt in json.dumps(real.overall(results, result.issue)["not_implemented"])
            assert not result.failures


def test_no_call_loses_its_arguments(cases: list[dict]) -> None:
    """Strict parse never returns a call with empty arguments where the model wrote some."""
    lost = []
    for case in cases:
        if not real.implemented(case["format"]):
            continue
        options = {"reasoning": case["reasoning"]} if case["reasoning"] else {}
        try:
            message = real.parse(case["text"], case["format"], tools=case.get("tools"), **options)
        except (real.GrammarGenError, TypeError):  # TypeError: a parse without reasoning=
            continue
        want = {c["name"]: c["arguments"] for c in case["expected"]["tool_calls"]}
        for call in message.tool_calls:
            if want.get(call["function"]["name"]) and json.loads(call["function"]["arguments"]) == {}:
                lost.append(case["id"])
    assert not lost, f"arguments lost silently in: {lost}"


def test_plain_answers_stay_plain(cases: list[dict]) -> None:
    """An answer with no call and no reasoning comes back as exactly its text, in every format."""
    plain = [c for c in cases if real.implemented(c["format"]) and not c["expected"]["tool_calls"]
             and not c["expected"]["reasoning_content"] and c["reasoning"] is None]
    assert plain, "no plain answers in implemented formats"
    wrong = [f"{c['id']}: {reason}" for c in plain if (reason := real.judge(c, lenient=False))]
    assert not wrong, "plain answers misread:\n" + "\n".join(wrong)


def test_every_miss_is_a_known_difference(cases: list[dict], results: dict) -> None:
    """A strict failure is a case marked ``differs`` with its reason (else it is a regression),
    and a marked case still fails (else its mark, and README's list of differences, is stale)."""
    marked = {c["id"] for c in cases if "differs" in c and real.implemented(c["format"])}
    failing = {case_id: r.format for r in results.values() for case_id in r.failures}
    unexplained = [f"{case_id} [{fmt}]: {results[fmt].failures[case_id]}" for case_id, fmt in failing.items()
                   if case_id not in marked]
    assert not unexplained, "strict misses that are no known difference:\n" + "\n".join(unexplained)
    assert not marked - set(failing), f"marked differs but now agree (remove the mark): {sorted(marked - set(failing))}"


@pytest.mark.parametrize("issue", [14, 15])
def test_real_outputs_parse_to_the_expected_calls(results: dict, issue: int) -> None:
    """Strict parse agrees with the peers on >= 95% (issue 14) / >= 90% (issue 15) of cases."""
    figure = real.overall(results, issue)
    if not figure["cases"]:
        verdict = (f"issue {issue}: none of its formats is implemented yet; not counted: "
                   f"{figure['not_implemented']}")
        if not ENFORCED[issue]:
            pytest.xfail(verdict)
        pytest.fail(verdict)
    failing = [f"  {case_id} [{r.format}]: {reason}" for r in results.values() if r.issue == issue
               and r.implemented for case_id, reason in r.failures.items()]
    verdict = (f"issue {issue}: strict parse agrees on {figure['strict']}/{figure['cases']} = "
               f"{figure['rate']:.1%} (goal {figure['threshold']:.0%}); not implemented, not counted: "
               f"{figure['not_implemented'] or 'none'}; failing cases:\n" + "\n".join(failing))
    assert figure["rate"] >= FLOOR[issue], f"below the floor {FLOOR[issue]:.0%}: " + verdict
    if figure["rate"] < figure["threshold"] and not ENFORCED[issue]:
        pytest.xfail(verdict)
    assert figure["rate"] >= figure["threshold"], verdict
