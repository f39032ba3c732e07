"""The template-alignment table for README: each corpus chat template against its profile.

Runs the checks of ``tests/test_templates.py`` (the same functions, so the table and the
tests cannot disagree) for every template in ../shared/corpus/chat-templates/ and prints
a Markdown table -- family | template | render equal | grammar accepts | parse equal |
real tokenizer -- then one numbered note per failed check, saying exactly what differs.

* render equal: ``render`` writes the template's assistant turn byte for byte -- the two
  calls, and the one-call probe with a value of every JSON type;
* grammar accepts: the required-call grammar accepts both (built-in tokenizer), and with
  ``reasoning="opened"`` too where the generation prompt opens ``<think>``;
* parse equal: ``parse`` (with and without the end-of-turn token) and ``StreamParser``
  (3-character chunks, and byte by byte) return the template's calls, no content;
* real tokenizer: the grammar compiled for the family's real tokenizer, and the default
  grammar, accept the turn as that tokenizer splits it (where a registry package ships one).

Run ``python benchmarks/alignment.py`` from the repository root (needs ../shared and the
``test`` extra).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import chat_templates as ct  # noqa: E402
import test_templates as tt  # noqa: E402

# Checks the tests mark xfail(strict=True) for some templates: {check: (what, {file: reason})}.
EXPECTED_FAILURES = {check: ("the one-call typed-values probe", tt.PROBE_XFAIL) for check in (
    tt.test_typed_values_render, tt.test_typed_values_grammar, tt.test_typed_values_parse)}
# Templates whose history form the profile does not write (the model writes another): by design.
for check in (tt.test_render_writes_the_template_turn, tt.test_grammar_accepts_the_template_turn,
              tt.test_typed_values_render, tt.test_typed_values_grammar):
    what, reasons = EXPECTED_FAILURES.get(check, ("the template's own turn", {}))
    EXPECTED_FAILURES[check] = (what, {**reasons, **tt.MODEL_FORM})
# What each registry package holds, for the table.
TOKENIZER_NAMES = {"qwen3": "Qwen3", "llama3.2": "Llama 3.2", "deepseek": "DeepSeek"}


@dataclass
class Row:
    """One template's line of the table, and the notes its failed checks left."""

    family: str
    template: str
    cells: list[str] = field(default_factory=list)


class Notes:
    """Numbered failure notes, referenced from the cells."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, text: str) -> str:
        """The note's mark; the same text gets the same number."""
        if text not in self.lines:
            self.lines.append(text)
        return f"[{self.lines.index(text) + 1}]"

    def run(self, checks: list[Callable[[str], None]], file: str, extra: str = "") -> str:
        """"yes" when every check passes, "—" when all skip, else "no" with a note per failure.

        A check the tests mark as an expected failure for this template (text no format can
        reproduce) does not make the cell "no"; its note gives the reason.
        """
        marks, known, ran, passed = [], [], False, False
        for check in checks:
            try:
                check(file)
                ran = passed = True
            except pytest.skip.Exception:
                continue
            except Exception as exc:  # an assertion or an error grammargen raised: both are findings
                ran = True
                what, reasons = EXPECTED_FAILURES.get(check, ("", {}))
                if file in reasons:
                    known.append(self.add(f"{what} is not reproducible: {reasons[file]}"))
                    continue
                message = str(exc).strip() or type(exc).__name__
                if not isinstance(exc, AssertionError):
                    message = f"{type(exc).__name__}: {message}"
                marks.append(self.add(f"{check.__name__}: {message.split(chr(10) + 'assert ')[0]}"))
        cell = ("no " + " ".join(marks)) if marks else ("yes" if passed else "no, by design" if ran else "—")
        extras = [extra] if extra else []
        if known:
            extras.append(("except " if passed else "see ") + " ".join(sorted(set(known))))
        return cell + (f" ({'; '.join(extras)})" if extras else "")


def skip_reason(check: Callable[[str], None], file: str) -> str:
    try:
        check(file)
    except pytest.skip.Exception as exc:
        return str(exc.msg)
    return ""


def table(only: set[str] | None = None) -> tuple[list[Row], list[str]]:
    notes = Notes()
    rows = []
    files = [f for f in ct.template_files() if only is None or f in only]
    # the claimed families first, then the gaps
    for file in sorted(files, key=lambda f: (tt.claim(f) is None, ct.summary()[f]["family"])):
        row_data = ct.summary()[file]
        fmt = tt.claim(file)
        family = f"{row_data['family']} (`{fmt}`)" if fmt else row_data["family"]
        row = Row(family, f"`{file.removesuffix('.jinja')}`")
        if fmt is None:
            row.cells = ["no profile yet"] * 3 + ["—"]
        elif not row_data["tool_calls_rendered"]:
            named = notes.run([tt.test_template_without_calls_names_source_of_truth], file)
            cell = "renders no calls: source of truth named" if named == "yes" else f"renders no calls: {named}"
            row.cells = [cell, "—", "—", "—"]
        else:
            family_options = tt.FAMILIES.get(file, tt.Family())
            render = [tt.test_render_writes_the_template_turn, tt.test_typed_values_render]
            grammar = [tt.test_grammar_accepts_the_template_turn, tt.test_typed_values_grammar]
            parse = [tt.test_parse_reads_the_template_turn, tt.test_stream_reads_the_template_turn,
                     tt.test_stream_reads_the_template_turn_byte_by_byte, tt.test_typed_values_parse]
            if family_options.writes_reasoning:  # one check of render, grammar and parse together
                for column in (render, grammar, parse):
                    column.append(tt.test_reasoning_block_as_the_template_writes_it)
            if family_options.opened:
                grammar.append(tt.test_opened_reasoning_grammar_accepts)
                parse.append(tt.test_opened_reasoning_parse)
            real = "— (none shipped)"
            if family_options.tokenizer:
                why = skip_reason(tt.test_grammar_accepts_the_turn_with_the_real_tokenizer, file)
                name = TOKENIZER_NAMES[family_options.tokenizer]
                real = notes.run([tt.test_grammar_accepts_the_turn_with_the_real_tokenizer,
                                  tt.test_default_grammar_accepts_the_turn_with_the_real_tokenizer], file)
                real = f"{real}: {name}" if not why else f"not checked: {why}"
            opened = "+ reasoning opened" if family_options.opened else ""
            row.cells = [notes.run(render, file), notes.run(grammar, file, opened),
                         notes.run(parse, file, opened), real]
        rows.append(row)
    return rows, notes.lines


def markdown(rows: list[Row], notes: list[str]) -> str:
    head = ["family (format)", "template", "render equal", "grammar accepts", "parse equal", "real tokenizer"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        lines.append("| " + " | ".join([row.family, row.template, *row.cells]).replace("\n", " ") + " |")
    if notes:
        lines.append("")
        lines.extend(f"{i}. " + note.replace("\n", "\n   ") for i, note in enumerate(notes, 1))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", metavar="TEMPLATE",
                        help="just this template (file name, .jinja optional); repeatable")
    args = parser.parse_args(argv)
    if ct.corpus() is None:
        print(f"error: {tt.NO_CORPUS}", file=sys.stderr)
        return 2
    only = {name if name.endswith(".jinja") else f"{name}.jinja" for name in args.only or ()}
    unknown = only - set(ct.template_files())
    if unknown:
        print(f"error: not in the corpus: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    rows, notes = table(only or None)
    print(markdown(rows, notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
