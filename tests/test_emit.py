"""--emit: the compiled Lark read into one grammar value and printed for each engine.

Everything here runs on llguidance alone (the fast suite has no other engine): the Lark
printer is checked by reading every grammar every format writes back to the same value;
GBNF through llguidance's own GBNF converter and the xgrammar Lark as Lark, each judging
grammargen's accept/reject samples exactly as the compiled grammar does.  The engines' own
matchers are run by tests/engines.
"""

from __future__ import annotations

import itertools
import json
import re
from functools import lru_cache

import llguidance
import llguidance.gbnf_to_lark
import pytest

import grammargen
from grammargen import ir
from grammargen.emit import ENGINES, emit
from grammargen.emit.gbnf import print_gbnf
from grammargen.emit.lark import print_lark
from grammargen.emit.reader import read
from grammargen.errors import GrammarError
from grammargen.validate import Sample, validate

from conftest import EXAMPLES

TOOL_FILES = ("travel_tools", "math_tools", "weather_tools", "delivery_tools")


@lru_cache(maxsize=None)
def tools(name: str):
    return grammargen.load_tools(EXAMPLES / f"{name}.json")


def option_table(fmt: str):
    """Every option a compiled grammar depends on, for one format."""
    profile = grammargen.get_profile(fmt)
    reasonings = [False, True, "required", "opened"] if profile.reasoning is not None else [False]
    for tool_file, choice, parallel, reasoning, shape in itertools.product(
            TOOL_FILES, ["auto", "none", "required", "named"], [True, False], reasonings, ["auto", "json"]):
        ts = tools(tool_file)
        yield tool_file, dict(tool_choice=ts[0].name if choice == "named" else choice,
                              parallel_tool_calls=parallel, reasoning=reasoning, shape=shape)


# --- reader + Lark printer ------------------------------------------------------------------

@pytest.mark.parametrize("fmt", grammargen.formats())
def test_every_grammar_a_format_writes_reads_back_to_the_same_value(fmt) -> None:
    """Every grammar of every option table is read, and its printed Lark reads back to the same value."""
    count = 0
    for tool_file, options in option_table(fmt):
        for max_calls in ([None, 2] if options["parallel_tool_calls"] else [None]):
            grammar = grammargen.compile(tools(tool_file), fmt, check=False, max_calls=max_calls, **options)
            value = read(grammar.lark)
            printed = print_lark(value)
            assert read(printed) == value, (tool_file, options)
            count += 1
    assert count >= 64


@pytest.mark.parametrize("fmt", grammargen.formats())
def test_printed_lark_is_judged_like_the_compiled_grammar(fmt) -> None:
    """llguidance gives the read-and-printed Lark the compiled grammar's verdict on every sample."""
    for choice in ("auto", "required"):
        ts = tools("travel_tools")
        grammar = grammargen.compile(ts, fmt, tool_choice=choice)
        assert_same_verdicts(grammar, print_lark(read(grammar.lark)), fmt, choice)


BAD_LARK = [
    pytest.param("start: A\nA: /a/i\n", "'i', which is not defined", id="regex-flag"),
    pytest.param("start: \"a\"\nstart: \"b\"\n", "defined twice", id="duplicate-rule"),
    pytest.param("%ignore /x/\nstart: \"a\"\n", "expected 'name: ...'", id="directive"),
    pytest.param("start: \"a\" @\n", "expected a string", id="unknown-character"),
    pytest.param("start: (\"a\"\n", "expected ')'", id="unclosed-group"),
    pytest.param("start: \"a\"{3,1}\n", "bounds reversed", id="reversed-bounds"),
    pytest.param("start: \"a\"{,}\n", "expected a string", id="count-without-bounds"),
    pytest.param("start: %json {oops}\n", "not followed by a JSON value", id="bad-json"),
    pytest.param("body: \"a\"\n", "no 'start' rule", id="no-start"),
    pytest.param("start: T[max_tokens=3]\n", "expected a string", id="attribute-on-a-reference"),
    pytest.param("start[capture]: \"a\"\n", "expected 'name: ...'", id="capture"),
]


@pytest.mark.parametrize("lark, message", BAD_LARK)
def test_reader_refuses_syntax_the_compiler_does_not_write(lark, message) -> None:
    """Lark outside grammargen's subset is a GrammarError naming the line, never a wrong value."""
    with pytest.raises(GrammarError, match=re.escape(message)):
        read(lark)


def test_reader_values() -> None:
    """Each piece of the subset becomes its ir node: tokens, %json, lazy, & and ~, repeats."""
    value = read('start: <[7]> <|x|> R? "a"{2,} T"b"{,3}\nR[lazy]: /(?s:.*)b/\n'
                 'T: /a+/ & ~/ab/ | %json {"type": "integer"}\n')
    start, lazy, term = value.rules
    assert start.expr == ir.Seq((ir.Token(id=7), ir.Token(name="<|x|>"), ir.Repeat(ir.Ref("R"), 0, 1),
                                 ir.Repeat(ir.Lit("a"), 2, None), ir.Ref("T"), ir.Repeat(ir.Lit("b"), 0, 3)))
    assert lazy.lazy and lazy.expr == ir.Regex("(?s:.*)b")
    assert term.terminal and term.expr == ir.Alt((ir.And((ir.Regex("a+"), ir.Not(ir.Regex("ab")))),
                                                  ir.Json({"type": "integer"})))


# --- GBNF and xgrammar, judged by llguidance ----------------------------------------------

_PIECE = re.compile(r'"(?:[^"\\]|\\.)*"|(<\[[0-9]+\]>|<[^\s<>\[\]]+>)|\[(?:[^\]\\]|\\.)*\]')
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"|<\[[0-9]+\]>|<[^\s<>\[\]]+>|\[(?:[^\]\\]|\\.)*\]|/(?:[^/\\]|\\.)+/')
_CHAR = re.compile(r"\\x[0-9A-Fa-f]{2}|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8}|\\.|.", re.S)


def one_char_literals(text: str) -> str:
    """Every string literal as a group of one-character literals.

    llguidance lexes: it commits to the longest lexeme, so ``"<tool_calls>"`` beside a text
    rule of one-character lexemes would refuse ``<tool_call>`` as text.  GBNF and xgrammar
    have no lexer; with one-character literals llguidance judges the language they read.
    """
    def split(m: re.Match) -> str:
        if m.group(1) is None:  # a token, a class or a regex
            return m.group(0)
        chars = _CHAR.findall(m.group(1))
        return '""' if not chars else "(" + " ".join(f'"{c}"' for c in chars) + ")"

    return _STRING.sub(split, text)


def gbnf_as_lark(gbnf: str) -> str:
    """GBNF read by llguidance's own converter (``llguidance.gbnf_to_lark``), judged lexer-free.

    The converter has no token elements: each becomes a placeholder rule, put back as the
    token after.  It folds rules without recursion into lexemes: every rule gets an
    alternative that matches nothing and is recursive (``never``), so none is folded.
    """
    tokens: dict[str, str] = {}

    def placeholder(m: re.Match) -> str:
        return m.group(0) if m.group(1) is None else tokens.setdefault(m.group(1), f"tok{len(tokens)}x")

    lines = []
    for line in _PIECE.sub(placeholder, gbnf).splitlines():
        if line.startswith("#"):
            continue
        name, body = line.split(" ::= ", 1)
        lines.append(f"{name} ::= ( {one_char_literals(body)} ) | never")
    lines += [f'{name} ::= "@"' for name in tokens.values()] + ['never ::= never "@"']
    lark = llguidance.gbnf_to_lark.gbnf_to_lark("\n".join(lines))
    for token, name in tokens.items():
        lark, n = re.subn(rf"(?m)^{name.upper()}: .*$", f"{name}: {token}", lark)
        lark = re.sub(rf"\b{name.upper()}\b", name, lark)
        assert n == 1
    # the converter drops leading zeros (\u897, \U10FFFF), which its regex reader refuses
    return re.sub(r"\\[uU]([0-9A-Fa-f]{1,3}|[0-9A-Fa-f]{5,6})(?![0-9A-Fa-f])", r"\\x{\1}", lark)


EXTRA = [Sample("hello", "accept"), Sample("  \n", "accept"), Sample("<|tool_call|>", "reject"),
         Sample("<tool_call>\n", "reject"), Sample("x <tool_call>", "reject")]


def assert_same_verdicts(grammar, text: str, fmt: str, choice: str) -> None:
    samples = list(grammargen.samples(tools("travel_tools"), fmt, tool_choice=choice)) + EXTRA
    want = validate(grammar, samples)
    got = validate(text, samples, format=fmt)
    assert not got.grammar_error, got.grammar_error
    diff = [(w.text, w.got, g.got) for w, g in zip(want.results, got.results) if w.got != g.got]
    assert not diff, diff


def _lowerable() -> bool:
    try:
        from grammargen.emit import lower  # noqa: F401
    except ImportError:
        return False
    return True


needs_lowering = pytest.mark.skipif(not _lowerable(), reason="grammargen.emit.lower is not there yet")


# Formats an engine's dialect cannot hold exactly: emit refuses them with this in the message.
REFUSED = {
    "gpt-oss": "<|call|> is an end-of-generation token",  # GBNF, parallel calls: <|call|> joins them
}


def emitted(fmt: str, choice: str, engine: str):
    """The compiled grammar and its text for ``engine``; a documented refusal is a skip."""
    grammar = grammargen.compile(tools("travel_tools"), fmt, tool_choice=choice)
    try:
        return grammar, emit(grammar, engine)
    except GrammarError as exc:
        if REFUSED.get(fmt, "\0") not in str(exc):
            raise
        pytest.skip(f"{fmt} {choice}: {engine} refused, as documented: {exc}")


@needs_lowering
@pytest.mark.parametrize("choice", ["auto", "required"])
@pytest.mark.parametrize("fmt", grammargen.formats())
def test_gbnf_is_judged_like_the_compiled_grammar(fmt, choice) -> None:
    """llguidance, reading the printed GBNF, gives every sample the compiled grammar's verdict."""
    grammar, text = emitted(fmt, choice, "gbnf")
    assert_gbnf_shape(text)
    assert_same_verdicts(grammar, gbnf_as_lark(text), fmt, choice)


@needs_lowering
@pytest.mark.parametrize("choice", ["auto", "required"])
@pytest.mark.parametrize("fmt", grammargen.formats())
def test_xgrammar_lark_is_judged_like_the_compiled_grammar(fmt, choice) -> None:
    """The xgrammar Lark avoids what xgrammar refuses and, read by llguidance, means the same."""
    grammar, text = emitted(fmt, choice, "xgrammar")
    rules = [line for line in text.splitlines() if not line.startswith("//")]
    assert text.startswith("// grammargen ") and rules[0].startswith("start: ")
    for refused in ("&", "~", "(?s", "\\x{", "[lazy]", "%json", "%llguidance", "\\p{"):
        assert not any(refused in line.split(":", 1)[0] + _outside_strings(line) for line in rules), refused
    assert_same_verdicts(grammar, one_char_literals(text), fmt, choice)


@needs_lowering
@pytest.mark.parametrize("engine", ["gbnf", "xgrammar"])
@pytest.mark.parametrize("fmt", ["phi4-mini", "qwen25", "mistral-v11", "deepseekv3"])
def test_json_shape_arguments_print_as_exact_rules(fmt, engine) -> None:
    """shape="json" (%json arguments) prints as rules judged like the compiled grammar."""
    for tool_file in ("travel_tools", "weather_tools"):
        ts = tools(tool_file)
        grammar = grammargen.compile(ts, fmt, tool_choice="auto", shape="json")
        assert "%json" in grammar.lark
        text = emit(grammar, engine)
        judged = gbnf_as_lark(text) if engine == "gbnf" else one_char_literals(text)
        samples = list(grammargen.samples(ts, fmt, tool_choice="auto")) + EXTRA
        want, got = validate(grammar, samples), validate(judged, samples, format=fmt)
        assert [r.got for r in want.results] == [r.got for r in got.results]


def _outside_strings(line: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', line.split(":", 1)[1])


def assert_gbnf_shape(text: str) -> None:
    """What llama.cpp's reader demands: names of letters, digits and '-', root first, counts <= 2000."""
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines[0].startswith("root ::= ")
    for line in lines:
        name, body = line.split(" ::= ", 1)
        assert re.fullmatch(r"[A-Za-z0-9-]+", name), name
        for count in re.findall(r"\{([0-9,]+)\}", re.sub(r'"(?:[^"\\]|\\.)*"|\[(?:[^\]\\]|\\.)*\]', "", body)):
            assert all(int(n) <= 2000 for n in count.split(",") if n), line


def _gbnf_verdicts(value: ir.GrammarValue, texts: list[str]) -> list[str]:
    lark = gbnf_as_lark(print_gbnf(value))
    return [r.got for r in validate(lark, texts, format="json").results]


@needs_lowering
def test_gbnf_repetitions_over_2000_are_chained_exactly() -> None:
    """{m,n} past llama.cpp's 2000 is written through helper rules, with the same bounds."""
    value = ir.GrammarValue((ir.Rule("start", ir.Seq((ir.Repeat(ir.Lit("a"), 2001, 4200), ir.Lit("!")))),))
    text = print_gbnf(value)
    assert_gbnf_shape(text)
    assert _gbnf_verdicts(value, ["a" * 2000 + "!", "a" * 2001 + "!", "a" * 4200 + "!", "a" * 4201 + "!"]) == [
        "rejected", "accepted", "accepted", "rejected"]


@needs_lowering
def test_gbnf_repeated_groups_become_one_symbol() -> None:
    """A bounded repeat of a group is a helper rule (llama.cpp multiplies the group's rules by the count)."""
    value = ir.GrammarValue((ir.Rule("start", ir.Repeat(ir.Alt((ir.Lit("a"), ir.Seq((ir.Lit("b"), ir.Lit("c"))))), 2, 3)),))
    text = print_gbnf(value)
    assert "root ::= g-0{2,3}" in text
    assert _gbnf_verdicts(value, ["abc", "aa", "bcabc", "aaaa"]) == ["accepted", "accepted", "accepted", "rejected"]


def test_gbnf_holds_gpt_oss_single_calls_and_refuses_its_parallel_ones() -> None:
    """gpt-oss joins parallel calls with <|call|>, where llama.cpp ends generation: one call prints."""
    ts = tools("math_tools")
    single = grammargen.compile(ts, "gpt-oss", tool_choice="required", parallel_tool_calls=False)
    assert "<|call|>" not in emit(single, "gbnf") and "<|channel|>" in emit(single, "gbnf")
    with pytest.raises(GrammarError, match=re.escape("marker <|call|> is an end-of-generation token")):
        emit(grammargen.compile(ts, "gpt-oss", tool_choice="required"), "gbnf")


def test_gbnf_refuses_an_end_of_generation_marker() -> None:
    """A marker llama.cpp treats as end of generation can't be inside GBNF: refused, naming it."""
    grammar = grammargen.Grammar(lark='start: <|eom_id|> "x"\n', format="llama3", tool_names=("x",),
                                 markers={"<|eom_id|>": "special"})
    with pytest.raises(GrammarError, match=re.escape("<|eom_id|> is an end-of-generation token")):
        emit(grammar, "gbnf")


def test_unknown_engine_names_the_known_ones() -> None:
    """An engine name outside ENGINES is a GrammarError listing them."""
    grammar = grammargen.compile(tools("math_tools"), "qwen25")
    with pytest.raises(GrammarError, match="known: lark, json, gbnf, xgrammar, vllm, sglang"):
        grammar.emit("tgi")


# --- request bodies: the exact llguidance calls the servers make ------------------------

@pytest.mark.parametrize("fmt", grammargen.formats())
def test_server_bodies_go_through_the_servers_llguidance_calls(fmt) -> None:
    """vLLM's grammar_from("grammar", ...) and SGLang's grammar_from("ebnf", ...) take each body's
    grammar unchanged, and the matcher it makes accepts a rendered call."""
    from grammargen.tokenizer import builtin_for

    ts = tools("math_tools")
    grammar = grammargen.compile(ts, fmt, tool_choice="required")
    tok = builtin_for(grammargen.get_profile(fmt))
    text = grammargen.render([{"name": "add", "arguments": {"x": 1, "y": 2}}], fmt)
    vllm = json.loads(emit(grammar, "vllm"))
    sglang = json.loads(emit(grammar, "sglang"))
    assert list(vllm) == ["structured_outputs"] and list(vllm["structured_outputs"]) == ["grammar"]
    assert list(sglang) == ["ebnf"]
    for serialized in (llguidance.grammar_from("grammar", vllm["structured_outputs"]["grammar"]),
                       llguidance.grammar_from("ebnf", sglang["ebnf"])):
        assert llguidance.LLMatcher.validate_grammar(serialized, tok.ll) == ""
        assert validate(serialized, [text], format=fmt).ok


def test_every_engine_prints() -> None:
    """ENGINES lists what --emit takes; lark is the compiled text and json llguidance's object."""
    grammar = grammargen.compile(tools("math_tools"), "phi4-mini")
    assert ENGINES == ("lark", "json", "gbnf", "xgrammar", "vllm", "sglang")
    assert grammar.emit("lark") == grammar.lark
    assert json.loads(grammar.emit("json")) == grammar.to_json()


def test_the_documented_emit_commands_run(cli, tmp_path) -> None:
    """Every `grammargen compile ... --emit` line in docs/engines.md runs and writes its engine's text."""
    import shlex

    doc = (EXAMPLES.parent / "docs" / "engines.md").read_text(encoding="utf-8")
    commands = [line.strip() for line in doc.splitlines() if line.strip().startswith("grammargen compile")]
    assert {shlex.split(c)[shlex.split(c).index("--emit") + 1] for c in commands} >= {"gbnf", "xgrammar", "vllm"}
    for command in commands:
        args = shlex.split(command)[1:]
        args = [str(EXAMPLES.parent / a) if a.startswith("examples/") else a for a in args]
        out = tmp_path / args[args.index("-o") + 1]
        args[args.index("-o") + 1] = str(out)
        result = cli(*args)
        assert result.exit_code == 0, (command, result.output)
        text = out.read_text(encoding="utf-8")
        engine = args[args.index("--emit") + 1]
        if engine == "vllm":
            assert llguidance.LLMatcher.validate_grammar(
                llguidance.grammar_from("grammar", json.loads(text)["structured_outputs"]["grammar"])) == ""
        else:
            assert text.startswith({"gbnf": "# grammargen", "xgrammar": "// grammargen"}[engine])


def spelled_verdict(lark: str, text: str, spelled: str, fmt: str) -> str:
    """llguidance's verdict on ``text`` with ``spelled`` (a marker in it) written character by
    character, as plain text, never as its special token."""
    from grammargen.tokenizer import builtin_for

    tok = builtin_for(grammargen.get_profile(fmt))
    before, after = text.split(spelled, 1)
    ids = tok.hf.encode(before, add_special_tokens=False).ids
    ids += [t for ch in spelled for t in tok.hf.encode(ch, add_special_tokens=False).ids]
    ids += tok.hf.encode(after, add_special_tokens=False).ids
    matcher = llguidance.LLMatcher(tok.ll, lark, log_level=0)
    assert not matcher.is_error(), matcher.get_error()
    for token in ids:
        if not matcher.consume_token(token):
            return "rejected"
    return "accepted" if matcher.is_accepting() else "incomplete"


@needs_lowering
@pytest.mark.parametrize("engine", ["gbnf", "xgrammar"])
def test_text_lexemes_never_hold_a_markers_text(engine) -> None:
    """GBNF and xgrammar take a special token as its text, so the printed text lexemes refuse
    every marker's text: exact for the token (llguidance refuses it too), and the one
    documented place they are stricter: the marker spelled out as plain text."""
    grammar = grammargen.compile(tools("travel_tools"), "qwen25", tool_choice="auto")
    text = emit(grammar, engine)
    assert text.splitlines()[1].startswith(("# its text, so free text", "// its text, so free text"))
    judged = gbnf_as_lark(text) if engine == "gbnf" else one_char_literals(text)
    in_string = grammargen.render([{"name": "booking_hotels", "arguments": {
        "destination": "Os</tool_call>lo", "check_in_date": "a", "checkout_date": "b"}}], "qwen25")
    for sample in (in_string, "see </tool_call> here"):
        # the marker as its token: refused by both
        assert [r.got for r in validate(grammar, [sample]).results] == ["rejected"]
        assert [r.got for r in validate(judged, [sample], format="qwen25").results] == ["rejected"]
        # spelled out as text: llguidance takes it, the printed grammar refuses it
        assert spelled_verdict(grammar.lark, sample, "</tool_call>", "qwen25") == "accepted"
        assert spelled_verdict(judged, sample, "</tool_call>", "qwen25") == "rejected"
