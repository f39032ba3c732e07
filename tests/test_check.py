"""`grammargen validate` and `grammargen check` (the pre-commit entry): reports, exit codes 0/1/2, and a real pre-commit run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parent.parent
WEATHER = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
    "required": ["city"]}}}]
GOOD_CALL = '<|tool_call|>[{"name": "get_weather", "arguments": {"city": "Paris"}}]<|/tool_call|>'
BROKEN_TOOLS = '[{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": 7}}}}}]'


@pytest.fixture
def run(cli):
    """The CLI runner (conftest's ``cli``)."""
    return cli


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A user's project folder, made the current directory, with one good tool file."""
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "weather.json").write_text(json.dumps(WEATHER))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _samples_file(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return str(path)


# -- grammargen validate --------------------------------------------------------------------

def test_validate_travel_example_passes(run, examples) -> None:
    """`grammargen validate examples/travel_tools.json -f phi4-mini` prints a passing table and exits 0."""
    result = run("validate", str(examples / "travel_tools.json"), "-f", "phi4-mini")
    assert result.exit_code == 0, result.output
    assert "all as expected" in result.stdout and "FAIL" not in result.stdout
    assert "booking_hotels: all properties" in result.stdout


def test_validate_json_report_schema(run, examples) -> None:
    """--json prints the report: format, tools, totals, counts and one object per sample."""
    result = run("validate", str(examples / "weather_tools.json"), "-f", "qwen25", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"ok", "format", "tools", "samples", "tokenizer", "total", "failed", "counts", "results",
            "grammar_error"} <= set(data)
    assert data["ok"] is True and data["format"] == "qwen25" and data["samples"] == "generated"
    assert data["total"] == len(data["results"]) > 5
    assert set(data["results"][0]) == {"text", "expected", "got", "ok", "offset", "context", "message", "note"}


def test_validate_exits_1_and_shows_where_a_sample_failed(run, tmp_path) -> None:
    """A samples file with a sample the grammar rejects exits 1 and prints its byte offset and context."""
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps(WEATHER))
    bad = GOOD_CALL.replace('"Paris"}', '"Paris", "unit": "kelvin"}')
    samples = _samples_file(tmp_path / "s.jsonl", [{"text": GOOD_CALL}, {"text": bad, "note": "kelvin"}])
    result = run("validate", str(tools), "--samples", samples)
    assert result.exit_code == 1
    assert "FAIL  accept  rejected    kelvin" in result.stdout
    assert f"at byte {bad.encode().index(b'kelvin')}" in result.stdout
    assert "1 not as expected" in result.stdout


def test_validate_bad_samples_line_exits_2_naming_file_and_line(run, tmp_path) -> None:
    """A samples line that is not JSON exits 2 with one error line naming the file and line."""
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps(WEATHER))
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"text": GOOD_CALL}) + "\n{oops\n")
    result = run("validate", str(tools), "--samples", str(samples))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {samples}: line 2: not valid JSON")
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args, error", [
    pytest.param(["-f", "nope"], "unknown format 'nope'", id="unknown-format"),
    pytest.param(["--tokenizer", "/nonexistent"], "no tokenizer.json", id="missing-tokenizer"),
    pytest.param(["--tool-choice", "nope"], "tool_choice names 'nope'", id="unknown-tool-choice"),
])
def test_validate_bad_input_exits_2(run, examples, args: list[str], error: str) -> None:
    """Bad options exit 2 with one readable error line."""
    result = run("validate", str(examples / "weather_tools.json"), *args)
    assert result.exit_code == 2 and error in result.stderr


def test_validate_options_shape_the_generated_samples(run, examples) -> None:
    """--no-parallel and --tool-choice required generate the reject cases those options imply."""
    result = run("validate", str(examples / "weather_tools.json"), "-f", "qwen25", "--no-parallel",
                 "--tool-choice", "required", "--json")
    assert result.exit_code == 0, result.output
    notes = {r["note"]: r["got"] for r in json.loads(result.stdout)["results"]}
    assert notes["two calls when parallel is off"] == "rejected"
    assert notes["text when a call is required"] in ("rejected", "incomplete")  # qwen25 lets text precede calls


def test_validate_shows_progress_for_many_samples(run, tmp_path) -> None:
    """With many samples a progress bar is drawn on stderr, keeping stdout clean for --json."""
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps(WEATHER))
    samples = _samples_file(tmp_path / "s.jsonl", [{"text": GOOD_CALL}] * 60)
    result = run("validate", str(tools), "--samples", samples, "--json")
    assert result.exit_code == 0
    assert "validating" in result.stderr and json.loads(result.stdout)["total"] == 60


# -- grammargen check ----------------------------------------------------------------------------

def test_check_passes_good_tool_files_from_config(run, project) -> None:
    """With .grammargen.toml naming tools and two formats, a good tool file passes with exit 0."""
    (project / ".grammargen.toml").write_text('tools = ["tools/*.json"]\nformats = ["phi4-mini", "qwen25"]\n')
    result = run("check")
    assert result.exit_code == 0, result.output
    assert "1 tool file(s) x 2 format(s)" in result.stdout and result.stdout.rstrip().endswith(": ok")


def test_check_reads_pyproject_tool_section(run, project) -> None:
    """[tool.grammargen] in pyproject.toml configures the check when there is no .grammargen.toml."""
    (project / "pyproject.toml").write_text('[tool.grammargen]\ntools = ["tools/*.json"]\nformats = ["llama3"]\n')
    result = run("check")
    assert result.exit_code == 0, result.output
    assert "1 tool file(s) x 1 format(s)" in result.stdout


def test_check_reports_every_problem(run, project) -> None:
    """A broken tool file and two failing declared samples are all reported, and the check exits 1."""
    (project / "tools" / "broken.json").write_text(BROKEN_TOOLS)
    (project / "samples").mkdir()
    _samples_file(project / "samples" / "weather.phi4-mini.jsonl", [
        {"text": GOOD_CALL},
        {"text": GOOD_CALL.replace("Paris", "Paris\", \"x\": \"1"), "note": "invented key"},
        {"text": GOOD_CALL, "expect": "reject", "note": "wrongly declared"},
    ])
    (project / ".grammargen.toml").write_text('tools = ["tools/*.json"]\nsamples = "samples"\n')
    result = run("check")
    assert result.exit_code == 1
    lines = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert len(lines) == 3, result.stdout
    assert "tools/broken.json" in lines[0] and "parameters.properties.a.type" in lines[0]
    assert "(invented key)" in lines[1] and "expected accept, got rejected" in lines[1]
    assert "(wrongly declared)" in lines[2] and "expected reject, got accepted" in lines[2]
    assert "3 problem(s)" in result.stdout


def test_check_only_checks_given_files_matching_the_patterns(run, project) -> None:
    """Given FILES (as pre-commit passes them), only those the tools patterns match are checked."""
    (project / "other.json").write_text(BROKEN_TOOLS)
    (project / ".grammargen.toml").write_text('tools = ["tools/*.json"]\n')
    result = run("check", "tools/weather.json", "other.json")
    assert result.exit_code == 0, result.output
    assert "1 tool file(s)" in result.stdout


def test_check_changed_sample_file_checks_its_tool_file(run, project) -> None:
    """A changed samples/<stem>.<format>.jsonl re-checks the tool file of that stem."""
    (project / "samples").mkdir()
    _samples_file(project / "samples" / "weather.phi4-mini.jsonl", [{"text": "nope", "expect": "reject"}])
    (project / ".grammargen.toml").write_text('tools = ["tools/*.json"]\nsamples = "samples"\n')
    result = run("check", "samples/weather.phi4-mini.jsonl")
    assert result.exit_code == 1 and "tools/weather.json [phi4-mini]: sample" in result.stdout


def test_check_without_config_checks_given_json_files_for_the_default_format(run, project) -> None:
    """With no config, the given JSON files are checked for phi4-mini and a broken one fails."""
    result = run("check", "tools/weather.json")
    assert result.exit_code == 0 and "x 1 format(s)" in result.stdout
    (project / "broken.json").write_text(BROKEN_TOOLS)
    result = run("check", "tools/weather.json", "broken.json")
    assert result.exit_code == 1 and "FAIL broken.json" in result.stdout


@pytest.mark.parametrize("config, error", [
    pytest.param('tool = ["x"]\n', "tool: unknown key", id="unknown-key"),
    pytest.param('formats = ["nope"]\n', "unknown format 'nope'", id="unknown-format"),
    pytest.param("formats = 3\n", "formats: must be a list of strings", id="wrong-type"),
    pytest.param("tools = [\n", "invalid TOML", id="bad-toml"),
])
def test_check_bad_config_exits_2(run, project, config: str, error: str) -> None:
    """A config the check cannot use exits 2 naming the config file and the problem."""
    (project / ".grammargen.toml").write_text(config)
    result = run("check")
    assert result.exit_code == 2 and ".grammargen.toml" in result.stderr and error in result.stderr


@pytest.mark.parametrize("config, error", [
    pytest.param('tools = ["tool/*.json"]\n', "tools[0]: no file matches the pattern 'tool/*.json'", id="renamed-folder"),
    pytest.param('tools = ["tools/*.json", "schemas/*.json"]\n', "tools[1]: no file matches the pattern 'schemas/*.json'",
                 id="second-pattern"),
    pytest.param('tools = ["/abs/*.json"]\n', "tools[0]: unusable pattern '/abs/*.json'", id="absolute"),
    pytest.param('tools = [""]\n', "tools[0]: unusable pattern ''", id="empty"),
])
def test_check_pattern_matching_no_file_exits_2_naming_it(run, project, config: str, error: str) -> None:
    """A tools pattern that matches no file is a config error (exit 2) naming the pattern, not a silent `ok`."""
    (project / ".grammargen.toml").write_text(config)
    for args in ((), ("tools/weather.json",)):  # a full run, and pre-commit's changed-files run
        result = run("check", *args)
        assert result.exit_code == 2, result.output
        [line] = result.stderr.splitlines()
        assert line.startswith(f"error: .grammargen.toml: {error}"), line
        assert "ok" not in result.stdout


# -- a real pre-commit run ---------------------------------------------------------------------------

def _pre_commit() -> str:
    exe = shutil.which("pre-commit") or str(Path(sys.executable).parent / "pre-commit")
    if not Path(exe).exists():
        pytest.skip("pre-commit is not installed (pip install 'grammargen[test]')")
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    if not (ROOT / ".git").exists():
        pytest.skip("this checkout is not a git repository (pre-commit try-repo needs one)")
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-tree", "--name-only", "HEAD", ".pre-commit-hooks.yaml"],
                            capture_output=True, text=True, check=False).stdout
    if ".pre-commit-hooks.yaml" not in listed:
        pytest.skip("HEAD of this repository has no .pre-commit-hooks.yaml committed")
    return exe


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


# pre-commit builds a virtualenv and pip-installs this repository, once per try-repo: about
# 20 s each as a pure wheel, run in CI all the same
def test_pre_commit_try_repo_passes_good_and_fails_broken_tool_files(tmp_path) -> None:
    """In a temporary git repo, this repository's hook passes a good tool file and fails a broken one with a readable message."""
    exe = _pre_commit()
    repo = tmp_path / "user-repo"
    (repo / "tools").mkdir(parents=True)
    (repo / "tools" / "weather.json").write_text(json.dumps(WEATHER))
    (repo / ".grammargen.toml").write_text('tools = ["tools/*.json"]\nformats = ["phi4-mini", "qwen25"]\n')
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    # the hook's environment gets the pure wheel: the same behaviour (tests/test_wheel.py holds
    # the compiled one to it), where compiling it with mypyc took 90 s a try-repo
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com", "GRAMMARGEN_PURE": "1"}
    command = [exe, "try-repo", str(ROOT), "grammargen-check", "--ref", "HEAD", "--all-files"]
    started = time.monotonic()
    good = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "grammargen check" in good.stdout and "Passed" in good.stdout

    (repo / "tools" / "broken.json").write_text(BROKEN_TOOLS)
    _git(repo, "add", ".")
    broken = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "Failed" in broken.stdout
    assert "FAIL tools/broken.json: " in broken.stdout and "parameters.properties.a.type" in broken.stdout
    assert time.monotonic() - started < 600
