"""The vLLM server proof and load table: runs tests/engines/test_vllm_server.py, prints the numbers.

Run it with the Python of the vLLM venv (it installs nothing; README, "Serving with vLLM", has the setup):

    /work/venvs/vllm/bin/python benchmarks/vllm_serve.py

The test set starts a real vLLM OpenAI server on 127.0.0.1 with grammargen's plugin and a
tiny random-weight model it builds, checks every tool_choice, parallel on and off, streaming
against non-streaming and a refused tool list (HTTP 400), then sends 32 concurrent requests
with their own 10-300 tools and the same 32 without tools.  Exit status: pytest's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def table(report: dict) -> str:
    """The load numbers as a Markdown table (ratios against the same requests without tools)."""
    b = report["no_tools"]
    rows = [
        "| 32 concurrent requests | requests/s | p50 latency (s) | p99 latency (s) | vs no tools: throughput / p50 / p99 |",
        "|---|---:|---:|---:|---|",
    ]
    for key, label in (("plugin", "grammargen plugin, new tool lists (cold compile)"),
                       ("plugin_warm", "grammargen plugin, the same lists again (cache)")):
        p, r = report[key], report[f"ratios_{key}"]
        rows.append(f"| {label} | {p['requests_per_s']:.2f} | {p['p50_s']:.2f} | {p['p99_s']:.2f} "
                    f"| {r['throughput']:.2f}x / {r['p50']:.2f}x / {r['p99']:.2f}x |")
    rows.append(f"| no tools, same output lengths | {b['requests_per_s']:.2f} | {b['p50_s']:.2f} "
                f"| {b['p99_s']:.2f} | 1x |")
    return "\n".join(rows) + (f"\n\n{report['tools_min']}-{report['tools_max']} tools per request, "
                              f"tool_choice=required, {report['completion_tokens']} completion tokens per round.")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "load.json"
        env = {"GRAMMARGEN_VLLM_REPORT": str(report_path)}
        cmd = [sys.executable, "-m", "pytest", str(ROOT / "tests" / "engines" / "test_vllm_server.py"),
               "-v", "-p", "no:cacheprovider", "-rs"]
        result = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **env})
        if report_path.exists():
            print()
            print(table(json.loads(report_path.read_text())))
        else:
            print("\nno load numbers: the load test did not finish (see above)")
        return result.returncode


if __name__ == "__main__":
    sys.exit(main())
