"""Parse throughput: MB/s of model output read by parse() and by StreamParser, per format.

The outputs are what a server sees: prose before the calls where the format allows it,
then 1-4 calls with realistic arguments (strings, numbers, nested objects, arrays),
rendered by grammargen itself.  Streaming is measured with token-sized chunks (4
characters, about a token of English) and with whole 64-character chunks; every output
gets a fresh StreamParser, as every response does.  With ``--tools`` the arguments are
also checked against the schemas (jsonschema).

    python benchmarks/parse_speed.py              # every format, 300 outputs each
    python benchmarks/parse_speed.py --smoke      # a second or two
"""

from __future__ import annotations

import argparse
import json
import random
import time
from typing import Any, Callable

from grammargen import formats, get_profile, load_tools, render
from grammargen.parse import StreamParser, parse

TOOLS = load_tools([
    {"name": "get_weather", "parameters": {"type": "object", "properties": {
        "location": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]},
        "days": {"type": "integer"}}, "required": ["location"]}},
    {"name": "search", "parameters": {"type": "object", "properties": {
        "query": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}},
        "filters": {"type": "object", "properties": {"safe": {"type": "boolean"},
                                                      "since": {"type": "string"},
                                                      "score": {"type": "number"}}}},
        "required": ["query"]}},
])
WORDS = "the quick brown fox jumps over a lazy dog while it rains in Zürich near 42 lakes".split()


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def outputs(fmt: str, count: int, seed: int = 0) -> list[str]:
    """``count`` realistic outputs of one format."""
    rng = random.Random(seed)
    profile = get_profile(fmt)
    out = []
    for _ in range(count):
        calls = []
        for _ in range(rng.randint(1, 4)):
            if rng.random() < 0.5:
                calls.append({"name": "get_weather", "arguments": {
                    "location": sentence(rng, 3), "unit": rng.choice("cf"), "days": rng.randint(1, 14)}})
            else:
                calls.append({"name": "search", "arguments": {
                    "query": sentence(rng, rng.randint(5, 30)), "tags": [sentence(rng, 1) for _ in range(4)],
                    "filters": {"safe": True, "since": "2024-01-01", "score": rng.random()}}})
        content = sentence(rng, rng.randint(5, 40)) + "." if profile.content_before_calls else None
        out.append(render(calls, fmt, tools=TOOLS, content=content))
    return out


def streamed(fmt: str, text: str, size: int, tools: Any) -> int:
    parser = StreamParser(fmt, tools)
    deltas = 0
    for i in range(0, len(text), size):
        deltas += len(parser.feed(text[i:i + size]))
    return deltas + len(parser.close())


def rate(texts: list[str], run: Callable[[str], Any], repeat: int) -> float:
    """MB/s (UTF-8 bytes) over ``texts``, best of ``repeat`` passes."""
    size = sum(len(t.encode()) for t in texts)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for text in texts:
            run(text)
        best = min(best, time.perf_counter() - start)
    return size / best / 1e6


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--count", type=int, default=300, help="outputs per format")
    cli.add_argument("--repeat", type=int, default=3, help="passes; the best is reported")
    cli.add_argument("--tools", action="store_true", help="also validate arguments with jsonschema")
    cli.add_argument("--smoke", action="store_true", help="a quick run: 20 outputs, one pass")
    args = cli.parse_args()
    count, repeat = (20, 1) if args.smoke else (args.count, args.repeat)
    tools = TOOLS if args.tools else None
    # The json format's outputs are plain JSON arrays of calls: what C-speed json.loads does
    # with the same bytes, to read the table against on a busy or slow machine.
    print(f"json.loads baseline on the json format's outputs: {rate(outputs('json', count), json.loads, repeat):.1f} MB/s\n")
    print("| format | outputs | mean size (B) | parse MB/s | stream MB/s (4-char chunks) | stream MB/s (64-char chunks) |")
    print("|---|---|---|---|---|---|")
    for fmt in formats():
        texts = outputs(fmt, count)
        mean = sum(len(t.encode()) for t in texts) / len(texts)
        whole = rate(texts, lambda t: parse(t, fmt, tools=tools), repeat)
        small = rate(texts, lambda t: streamed(fmt, t, 4, tools), repeat)
        large = rate(texts, lambda t: streamed(fmt, t, 64, tools), repeat)
        print(f"| {fmt} | {len(texts)} | {mean:.0f} | {whole:.1f} | {small:.1f} | {large:.1f} |")


if __name__ == "__main__":
    main()
