"""grammargen's own work in instructions: a steady measure where wall-clock time is not.

On a shared machine one run of ``compile`` can take 40% longer than the next; the number of
instructions it executes does not change.  This script runs ``load_tools``, ``compile``,
llguidance's build of the grammar, and the build of perf.py's hand-written anyOf grammar
(built-in tokenizer, ``qwen25``, the synthetic tools of perf.py) under valgrind's cachegrind
and prints instructions per tool, taking (three runs - one run) / 2 so that start-up and
imports cancel out, and the default path's work (load_tools + compile + build) against
anyOf's build.  Instructions are not time (the Python stages run more of them per
nanosecond than llguidance's build), so compare commits with it and take ratios of time
from perf.py.

    python benchmarks/instructions.py              # 200 tools
    python benchmarks/instructions.py --tools 1000
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# grammargen's two Python stages, llguidance building grammargen's grammar, and building the
# hand-written anyOf grammar of perf.py (the default path's baseline), all on the same tools
STAGES = ("load_tools", "compile", "build", "anyof_build")


def run_stage(stage: str, tools: int, repeat: int) -> Any:
    """What valgrind measures: ``repeat`` runs of one stage after one untimed warm-up; the last result."""
    sys.path.insert(0, str(HERE))
    import perf

    import llguidance

    import grammargen
    from grammargen.profiles import get_profile
    from grammargen.tokenizer import builtin_for

    tok = builtin_for(get_profile(perf.FORMAT))
    raw = perf.synthetic_tools(tools)
    loaded = grammargen.load_tools(raw)
    grammargen.compile(loaded[:5], perf.FORMAT, tokenizer=tok, check=False)
    lark = ""
    if stage in ("build", "anyof_build"):  # the grammar text, written before the measured runs
        lark = grammargen.compile(loaded, perf.FORMAT, tokenizer=tok, lenient=True, check=False).lark
        if stage == "anyof_build":
            lark = perf.naive_grammar(False)(raw, [], None, tok).lark
        llguidance.LLMatcher(tok.ll, 'start: "a"', log_level=0)  # the tokenizer's own one-time work
    result: Any = None
    for _ in range(repeat):
        perf.cold()  # each run as for a new tool list: nothing written or built before is kept
        if stage == "load_tools":
            result = grammargen.load_tools(raw)
        elif stage == "compile":
            result = grammargen.compile(loaded, perf.FORMAT, tokenizer=tok, lenient=True, check=False)
        else:
            result = llguidance.LLMatcher(tok.ll, lark, log_level=0)
    return result


def instructions(stage: str, tools: int, repeat: int) -> int:
    command = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
               sys.executable, __file__, "--inner", stage, "--tools", str(tools), "--repeat", str(repeat)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stderr
    match = re.search(r"I\s+refs:\s+([\d,]+)", out)
    if not match:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{out[-2000:]}")
    return int(match.group(1).replace(",", ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tools", type=int, default=200)
    parser.add_argument("--inner", choices=STAGES, help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inner:
        run_stage(args.inner, args.tools, args.repeat)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind): nothing measured")
        return 1
    print(f"| stage | instructions per tool ({args.tools} synthetic tools) |\n|---|---:|")
    counts = {}
    for stage in STAGES:
        counts[stage] = (instructions(stage, args.tools, 3) - instructions(stage, args.tools, 1)) / 2
        print(f"| {stage} | {counts[stage] / args.tools:,.0f} |")
    ours = counts["load_tools"] + counts["compile"] + counts["build"]
    print(f"\nload_tools + compile + build: {ours / 1e6:,.1f} M instructions, "
          f"anyOf's build {counts['anyof_build'] / 1e6:,.1f} M ({ours / counts['anyof_build']:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
