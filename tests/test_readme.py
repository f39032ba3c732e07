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


def _block(language: str, containing: str) -> str:
    """The README's one ```language block that contains ``containing``."""
    import re

    blocks = re.findall(rf"^```{language}\n(.*?)^```$", (ROOT / "README.md").read_text(), re.M | re.S)
    [block] = [b for b in blocks if containing in b]
    return block


def _mask_ids(text: str) -> str:
    import re

    return re.sub(r"call_[A-Za-z0-9]{24}", "call_…", text)


def test_readme_parse_snippet_runs_and_prints_what_its_comments_say(monkeypatch) -> None:
    """The parse snippet runs as written (its tools match its text), and each `expr  # value` comment is the value."""
    import ast

    monkeypatch.chdir(ROOT)
    code = _block("python", "grammargen.parse(text")
    setup, checks = code.split("message.content", 1)
    scope: dict = {}
    exec(setup, scope)
    checked = 0
    for line in ("message.content" + checks).splitlines():
        expr, _, comment = line.partition("#")
        if "..." in comment:  # an abbreviated value
            continue
        assert _mask_ids(repr(eval(expr, scope))) == repr(ast.literal_eval(comment.strip())), line
        checked += 1
    assert checked == 4


def test_readme_parse_console_example_prints_what_the_cli_prints(cli) -> None:
    """The `echo ... | grammargen parse -f qwen25` example shows the CLI's output exactly (call id aside)."""
    import shlex

    command, _, shown = _block("console", "grammargen parse").partition("\n")
    echoed, _, parse = command.removeprefix("$ ").partition(" | ")
    [_, text] = shlex.split(echoed)
    result = cli(*shlex.split(parse)[1:], input=text + "\n")  # echo without -e: \n stays two characters
    assert result.exit_code == 0, result.output
    assert _mask_ids(result.stdout) == shown


def test_readme_pre_commit_rev_is_not_a_missing_tag() -> None:
    """The pre-commit snippet's rev is a placeholder to fill in or a tag this repository has."""
    import subprocess

    [rev] = [line.split("rev:")[1].split("#")[0].strip() for line in _block("yaml", "grammargen-check").splitlines()
             if "rev:" in line]
    if rev.startswith("<"):
        return
    tags = subprocess.run(["git", "-C", str(ROOT), "tag"], capture_output=True, text=True, check=False).stdout.split()
    assert rev in tags, f"README pins rev {rev!r}, which is not a tag of this repository"
