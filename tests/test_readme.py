"""The README's set-up commands are the ones CI runs."""

from __future__ import annotations

from conftest import ROOT


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run's install-and-test line appears verbatim in README.md."""
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    command = next(line for line in ci if "pytest" in line)
    assert command in (ROOT / "README.md").read_text()


def test_readme_main_job_uses_a_bundled_example() -> None:
    """The README's first command compiles a file that ships in examples/."""
    readme = (ROOT / "README.md").read_text()
    line = next(x for x in readme.splitlines() if "grammargen compile examples/" in x and "pip install ." in x)
    example = line.split("grammargen compile ")[1].split()[0]
    assert (ROOT / example).is_file()
