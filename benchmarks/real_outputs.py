"""Do we read what real models write?  ``parse`` against peers' fixtures of real model outputs.

The corpus, ``tests/data/real_outputs.jsonl``, holds model outputs that vLLM
(``tests/tool_parsers``, ``tests/entrypoints/openai/tool_parsers``, and for Hunyuan A13B's
answer frame ``tests/reasoning``), SGLang
(``test/srt/test_function_call_parser.py`` and its neighbours) and llama.cpp
(``tests/test-chat.cpp``, ``tests/test-chat-parser.cpp``) feed their own parsers, each
with the peer's expected message, normalized to ``{name, arguments as JSON}`` and
OpenAI-style content (surrounding whitespace stripped, empty is null).  Every line names
its source.  Issue 14 asks for >= 95% agreement on the formats it claims, issue 15 for
>= 90% on the new encodings.

A case *agrees* when ``parse(text, format, reasoning=...)`` returns the same calls (names,
arguments compared as JSON values with booleans kept apart from numbers, ids where the
model wrote one), the same content and the same reasoning content (both compared with
runs of whitespace folded to one space: where a parser joins text around calls is not
meaning).  ``StreamParser`` reads every case too, three characters at a time (markers
split anywhere), reported in its own column.  A case may carry ``tools`` (the peer's
tool list, where its schema types the values: XML and pythonic encodings write ``2`` for
an integer and for a string alike); ``parse`` then gets them.  Each case is read twice: in the default strict mode (the
figure the issues ask for) and lenient, reported beside it.  Formats that grammargen
does not define yet are listed as such and count in no figure.

Expectations are the peers' own, with these normalizations (each noted on its line):

* content and reasoning as an OpenAI server returns them: a peer's *tool* parser that
  leaves a ``<think>`` block in content (vLLM's Seed-OSS, GLM, Nemotron, xLAM, MiniMax M1
  tests) is read as served with the model's reasoning parser: that block is
  ``reasoning_content``;
* ``reasoning: "opened"`` where the peer's generation prompt opened the reasoning block
  (QwQ, R1 distills, GLM-4.7, MiniMax M2, Nemotron, Qwen3.5, DeepSeek V3.1/V3.2 thinking);
* text joined from a peer's streamed chunks where only the streaming test holds it;
* ids only where the model wrote one (Mistral, Kimi K2 ``functions.NAME:N``, Command R
  ``tool_call_id``); peers that make up ids are not compared on them;
* a case grammargen reads otherwise on purpose carries ``differs`` with the reason: it stays
  in every figure as a miss, and the report lists it as a known difference (a strict failure
  without that mark is a regression; a marked case that agrees has its mark removed);
* where peers disagree both readings stay, each on its own line; a line whose expected
  content another peer (or issue 14's own rule) contradicts carries ``disputed`` with the
  reason, and its content is not compared (its calls are): vLLM drops the text around
  Llama 3, DeepSeek V3.1, Hunyuan, GLM and Mistral calls, which SGLang and llama.cpp
  return as content.

Left out of the corpus, by category (so the figure measures model outputs, not the
peers' own machinery):

* outputs cut short mid-call or made invalid on purpose (malformed JSON, missing
  markers, ``is_partial`` parses) to test a peer's fallback: strict ``parse`` raises on
  them by design;
* inputs that only exist inside a peer: mocked regex timeouts, token-id plumbing,
  request adjustment, structural tags and EBNF generation, buffer-state tests of
  synthetic detectors, continuation of a prefilled assistant message, SGLang's
  MultiFormatDetector dialects (wrappers no model was trained on), value-coercion tests
  that hold no model turn;
* inputs given as token ids, not text (vLLM's gpt-oss tests render harmony token ids
  with ``openai_harmony``);
* text decoded with special tokens skipped (vLLM's Mistral v11 tests feed
  ``[TOOL_CALLS]name{...}`` with ``[ARGS]``/``[CALL_ID]`` removed): grammargen reads
  markers as text and needs them kept;
* llama.cpp's response_format post-processing (a ```json fence stripped from content
  when a json_schema is set) and its ``reasoning_format=none`` variants (an option that
  keeps the raw block in content) and the peers' repairs of broken output (DSML ``string="true"`` coerced by
  schema, ``arguments``/``input`` wrapper unwrapping, doubly nested Python quotes, NUL
  bytes, a value holding its own closing tag);
* fixtures whose layout comes from the test source's indentation where the peer strips it;
* arguments that are not a JSON object (a bare string such as ``"hello"``), and Llama
  3.1's built-in code interpreter (raw code after ``<|python_tag|>``, which llama.cpp maps
  to an ``ipython``/``python`` call);
* a peer's filtering by tool name (a call to a function not offered read as content);
* families outside issues 14 and 15 (GigaChat, Step3, DeepSeek V4, MiniMax M3, Kimi K3,
  Spark, Ling, Reka Edge, Apriel, Command R+, Functionary v3.1, MiMo, Olmo 3 ...).

    python benchmarks/real_outputs.py            # per-format table, then the issue figures
    python benchmarks/real_outputs.py --failures # every failing case with its reason
    python benchmarks/real_outputs.py --json     # the same as data
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from grammargen import get_profile
from grammargen.errors import GrammarGenError, ProfileError
from grammargen.parse import Message, StreamParser, parse

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "real_outputs.jsonl"

ISSUE_14 = ("phi4-mini", "qwen25", "llama3", "mistral", "mistral-nemo", "mistral-v11", "ministral3",
            "deepseekv3", "deepseekv31", "granite", "granite4", "firefunction", "functools", "json")
ISSUE_15 = ("qwen3-coder", "seed-oss", "minimax-m2", "glm45", "glm47", "deepseekv32", "lfm2", "pythonic",
            "llama4", "gemma4", "kimi-k2", "kimi-k2-thinking", "gpt-oss", "command-r7b", "functionary-v32",
            "nemotron-nano-v2", "apertus", "minimax-m1", "jamba", "xlam", "hunyuan", "internlm",
            "functiongemma")
THRESHOLD = {14: 0.95, 15: 0.90}
_SPACE = re.compile(r"\s+")


def issue_of(fmt: str) -> int:
    """The issue that claims a corpus format (14 or 15)."""
    if fmt in ISSUE_14:
        return 14
    if fmt in ISSUE_15:
        return 15
    raise ValueError(f"corpus format {fmt!r} belongs to neither issue 14 nor 15")


def load_cases(path: Path = CORPUS) -> list[dict[str, Any]]:
    """The corpus lines, checked for the keys every case must carry."""
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        case = json.loads(line)
        missing = {"id", "source", "family", "format", "reasoning", "text", "expected", "note"} - case.keys()
        if missing:
            raise ValueError(f"{path}:{number}: case lacks {sorted(missing)}")
        issue_of(case["format"])
        if "differs" in case and not (isinstance(case["differs"], str) and case["differs"].strip()):
            raise ValueError(f"{path}:{number}: differs names the reason the case is read otherwise")
        cases.append(case)
    return cases


def implemented(fmt: str) -> bool:
    """Whether grammargen knows the format (by name or alias)."""
    try:
        get_profile(fmt)
    except ProfileError:
        return False
    return True


def _fold(text: str | None) -> str | None:
    if text is None:
        return None
    text = _SPACE.sub(" ", text).strip()
    return text or None


def _same(a: Any, b: Any) -> bool:
    """JSON value equality: True is not 1, 1 equals 1.0, key order is free."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def difference(expected: dict[str, Any], message: Any, *, content: bool = True) -> str | None:
    """The first way ``message`` differs from the expected one, or None when they agree.

    ``content=False`` leaves content uncompared (a case whose content peers dispute).
    """
    got = message.tool_calls
    want = expected["tool_calls"]
    names = [c["name"] for c in want]
    if not got and want:
        return f"no call read (content {_short(_fold(message.content))!r}), expected {names}"
    if len(got) != len(want):
        read = [c["function"]["name"] for c in got]
        return f"{len(got)} calls {read} where {len(want)} expected {names}"
    for i, (call, exp) in enumerate(zip(got, want)):
        if call["function"]["name"] != exp["name"]:
            return f"call {i} name {call['function']['name']!r}, expected {exp['name']!r}"
        try:
            args = json.loads(call["function"]["arguments"])
        except ValueError:
            return f"call {i} arguments are not JSON: {_short(call['function']['arguments'])}"
        if not _same(args, exp["arguments"]):
            return f"call {i} arguments {_short(args)}, expected {_short(exp['arguments'])}"
        if "id" in exp and call.get("id") != exp["id"]:
            return f"call {i} id {call.get('id')!r}, expected {exp['id']!r}"
    for key, value in (("content", message.content), ("reasoning_content", message.reasoning_content)):
        if key == "content" and not content:
            continue
        if _fold(value) != _fold(expected[key]):
            return f"{key} {_short(_fold(value))!r}, expected {_short(_fold(expected[key]))!r}"
    return None


_TAKES_REASONING = "reasoning" in inspect.signature(parse).parameters


def judge(case: dict[str, Any], *, lenient: bool) -> str | None:
    """None when ``parse`` agrees with the case, else the reason it does not."""
    options: dict[str, Any] = {"lenient": lenient}
    if "tools" in case:
        options["tools"] = case["tools"]
    if case["reasoning"] is not None:
        if not _TAKES_REASONING:
            return f"parse() takes no reasoning= (needed: reasoning={case['reasoning']!r})"
        options["reasoning"] = case["reasoning"]
    try:
        message = parse(case["text"], case["format"], **options)
    except GrammarGenError as exc:
        return f"{type(exc).__name__}: {exc}"
    return difference(case["expected"], message, content="disputed" not in case)


def judge_stream(case: dict[str, Any], chunk: int = 3) -> str | None:
    """The same, read by ``StreamParser`` in chunks of ``chunk`` characters (strict)."""
    options: dict[str, Any] = {}
    if "tools" in case:
        options["tools"] = case["tools"]
    if case["reasoning"] is not None:
        if "reasoning" not in inspect.signature(StreamParser).parameters:
            return f"StreamParser takes no reasoning= (needed: reasoning={case['reasoning']!r})"
        options["reasoning"] = case["reasoning"]
    text = case["text"]
    try:
        stream = StreamParser(case["format"], **options)
        deltas = [d for i in range(0, len(text), chunk) for d in stream.feed(text[i:i + chunk])]
        deltas += stream.close()
    except GrammarGenError as exc:
        return f"{type(exc).__name__}: {exc}"
    return difference(case["expected"], Message.from_deltas(deltas), content="disputed" not in case)


@dataclass
class FormatResult:
    """One format's figures; ``failures`` maps case id to reason (strict mode)."""

    format: str
    issue: int
    implemented: bool
    cases: int = 0
    strict: int = 0
    lenient: int = 0
    stream: int = 0
    disputed: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    known: dict[str, str] = field(default_factory=dict)  # failing cases marked ``differs``: the reason
    lenient_failures: dict[str, str] = field(default_factory=dict)
    stream_failures: dict[str, str] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.strict / self.cases if self.cases else 0.0


def measure(cases: list[dict[str, Any]]) -> dict[str, FormatResult]:
    """Every case read strict and lenient, grouped by format (issue 14's first)."""
    results: dict[str, FormatResult] = {}
    for fmt in sorted({c["format"] for c in cases}, key=lambda f: (issue_of(f), f)):
        results[fmt] = FormatResult(fmt, issue_of(fmt), implemented(fmt))
    for case in cases:
        result = results[case["format"]]
        result.cases += 1
        result.disputed += "disputed" in case
        if not result.implemented:
            continue
        reason = judge(case, lenient=False)
        if reason is None:
            result.strict += 1
        else:
            result.failures[case["id"]] = reason
            if "differs" in case:
                result.known[case["id"]] = case["differs"]
        reason = judge(case, lenient=True)
        if reason is None:
            result.lenient += 1
        else:
            result.lenient_failures[case["id"]] = reason
        reason = judge_stream(case)
        if reason is None:
            result.stream += 1
        else:
            result.stream_failures[case["id"]] = reason
    return results


def overall(results: dict[str, FormatResult], issue: int,
            scope: set[str] | None = None) -> dict[str, Any]:
    """An issue's figure over its implemented formats, and what is not implemented yet.

    ``scope`` (the formats asked for with ``--format``) limits the "no peer fixture" list.
    """
    mine = [r for r in results.values() if r.issue == issue]
    done = [r for r in mine if r.implemented]
    cases = sum(r.cases for r in done)
    strict = sum(r.strict for r in done)
    claimed = ISSUE_14 if issue == 14 else ISSUE_15
    return {"issue": issue, "threshold": THRESHOLD[issue], "cases": cases, "strict": strict,
            "lenient": sum(r.lenient for r in done), "stream": sum(r.stream for r in done),
            "rate": strict / cases if cases else None,
            "disputed": sum(r.disputed for r in done),
            "known": sum(len(r.known) for r in done),
            "formats": [r.format for r in done],
            "not_implemented": {r.format: r.cases for r in mine if not r.implemented},
            "no_fixture": [f for f in claimed
                           if f not in results and (scope is None or f in scope)]}


def _pct(n: int, d: int) -> str:
    return f"{100 * n / d:.1f}%" if d else "-"


def report(results: dict[str, FormatResult], *, failures: bool = False,
           scope: set[str] | None = None) -> str:
    """The per-format Markdown table, the issue figures, and optionally every failure."""
    lines = ["| format | issue | cases | strict agree | % | lenient agree | % | stream agree | % "
             "| content disputed | first strict failure |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results.values():
        if not r.implemented:
            lines.append(f"| {r.format} | {r.issue} | {r.cases} | not implemented | - | - | - | - | - "
                         f"| {r.disputed} | - |")
            continue
        first = next(iter(r.failures.items()), None)
        shown = f"`{first[0]}`: {_short(first[1], 140)}" if first else ""
        shown += " (known difference)" if first and first[0] in r.known else ""
        shown = shown.replace("|", "\\|").replace("\n", "\\n")
        lines.append(f"| {r.format} | {r.issue} | {r.cases} | {r.strict} | {_pct(r.strict, r.cases)} "
                     f"| {r.lenient} | {_pct(r.lenient, r.cases)} | {r.stream} | {_pct(r.stream, r.cases)} "
                     f"| {r.disputed} | {shown} |")
    lines.append("")
    for issue in (14, 15):
        o = overall(results, issue, scope)
        missing = ", ".join(f"{f} ({n})" for f, n in o["not_implemented"].items()) or "none"
        lines.append(f"issue {issue}: strict {o['strict']}/{o['cases']} = {_pct(o['strict'], o['cases'])} "
                     f"(goal {o['threshold']:.0%}), lenient {o['lenient']}/{o['cases']} = "
                     f"{_pct(o['lenient'], o['cases'])}, stream {o['stream']}/{o['cases']} = "
                     f"{_pct(o['stream'], o['cases'])} ({o['disputed']} with content disputed, not compared; "
                     f"{o['known']} of the misses known differences); "
                     f"not implemented, not counted: {missing}; "
                     f"no peer fixture: {', '.join(o['no_fixture']) or 'none'}")
    if failures:
        lines.append("")
        for r in results.values():
            for case_id, reason in r.failures.items():
                known = f" [known difference: {r.known[case_id]}]" if case_id in r.known else ""
                lines.append(f"{r.format}  {case_id}: {reason}{known}")
            for case_id, reason in r.stream_failures.items():
                if case_id not in r.failures:
                    lines.append(f"{r.format}  {case_id} (stream only): {reason}")

    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS, help="the JSON Lines corpus")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--failures", action="store_true", help="list every failing case (strict mode)")
    ap.add_argument("--format", action="append", help="only these formats (repeatable)")
    args = ap.parse_args(argv)
    cases = load_cases(args.corpus)
    if args.format:
        cases = [c for c in cases if c["format"] in args.format]
    scope = set(args.format) if args.format else None
    results = measure(cases)
    if args.json:
        data = {"formats": {f: asdict(r) | {"rate": r.rate} for f, r in results.items()},
                "overall": [overall(results, 14, scope), overall(results, 15, scope)]}
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print(report(results, failures=args.failures, scope=scope))
    return 0


if __name__ == "__main__":
    sys.exit(main())
