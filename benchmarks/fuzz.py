"""Grammar-injection fuzzing: hostile strings in every user-controlled field reach the grammar only as literals.

Tool lists come from users, MCP servers and third parties.  For each field a string can
arrive in -- a tool name, an enum value, a const value, a property name, a description, a
profile's marker text -- and each string (quotes, backslashes, newlines, NUL and other
control characters, ``%json``, ``%ignore``, ``/.*/``, ``<|tool_call|>``, ``<[5]>``, ``//``,
long strings, arbitrary Unicode), one case:

* compiles the tool list (or profile) for a format, and then either
* the input was refused with a clear :class:`GrammarGenError` (a control character or
  nothing at all in a name, a name over the length limit, an empty marker), or
* the grammar accepts the call with exactly that literal and rejects every one-character
  change of it (drop the last character, append one, replace the first), and, in the
  formats with their own argument encoding (XML parameters, pythonic, Gemma), ``parse``
  reads the call back as it was: what the grammar forces must be readable.

A clear refusal is a :class:`GrammarGenError` located at the tool (``tools[0]...``) whose
message quotes the value or names the rule it breaks.

Samples are tokenized part by part: markers as their special tokens (where the grammar
uses the special-token form), everything else byte by byte.  So a value that *contains* a
marker's text -- ``"<|tool_call|>"`` as an enum value -- is checked the way a constrained
model must write it: as text, never as the special token (which would end the call early).
``grammargen.validate`` cannot show that, since it tokenizes marker text in a sample as
the special token.

    python benchmarks/fuzz.py                    # 10,000 cases per field (the long run)
    python benchmarks/fuzz.py --per-field 200    # quick
    python benchmarks/fuzz.py --formats encodings # the XML, pythonic and Gemma formats only
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llguidance
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import grammargen
from grammargen import GrammarGenError
from grammargen.encodings import get_encoding
from grammargen.lark import json_text
from grammargen.parse import Message, StreamParser
from grammargen.profiles import Piece, Profile, load_profile
from grammargen.tokenizer import Tokenizer, builtin_for
from grammargen.render import call_id
from grammargen.validate import token_allowed

FIELDS = ("tool_name", "enum_value", "const_value", "property_name", "description", "marker")

# Pieces of grammar syntax and markers an attacker would try, mixed with arbitrary text.
ATOMS = ['"', "\\", "\n", "\r\n", "\t", "\x00", "\x01", "\x1b", "\x7f", "\x85", "\u2028", "\ufeff",
         "%json", "%ignore", "%import", "/.*/", "/(?s:.*)/", "<|tool_call|>", "<|/tool_call|>", "<[5]>",
         "<[0]>", "//", "#", "'", "{", "}", "[", "]", "|", "&", "~", "start:", "TEXT", "\\x{22}",
         "<tool_call>", "</tool_call>", "<think>", "<｜tool▁sep｜>", "[TOOL_CALLS]", "functools[",
         "<|python_tag|>", "<|endoftext|>", "é", "ツ", "𝄞", "😀", " ", "\\u0022", '\\"',
         # the XML, pythonic and Gemma encodings' own syntax
         "</parameter>", "<parameter=", '<parameter name="', "</arg_value>", "<arg_key>", "</｜DSML｜parameter>",
         '" string="false">', "</function>", "</invoke>", '<|"|>', "<|tool_call>", "<tool_call|>", "<|channel>",
         "(", ")", "=", ":", ",", "True", "None", "'''"]


def hostile_text(max_atoms: int = 6) -> st.SearchStrategy[str]:
    """Strings built from grammar syntax, markers, control characters and arbitrary Unicode."""
    part = st.one_of(st.sampled_from(ATOMS), st.text(max_size=6), st.characters(codec="utf-8"))
    short = st.lists(part, max_size=max_atoms).map("".join)
    long = st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=8), st.integers(40, 150))
    return st.one_of(*[short] * 32, long)  # about 3% long: each costs ten short ones


# -- the tokens of a sample ----------------------------------------------------------------------------
Part = tuple[str, bool]  # (text, is a special-token marker)


def call_parts(profile: Profile, forms: dict[str, str], name: str, arguments: Any) -> list[Part]:
    """One call in the profile's layout, as parts: what render() writes, with markers told apart."""
    def pieces(seq: tuple[Piece, ...]) -> list[Part]:
        out: list[Part] = []
        for piece in seq:
            if piece.kind == "marker":
                out.append((piece.value, forms.get(piece.value, "text") != "text"))
            elif piece.kind == "text":
                out.append((piece.value, False))
            elif piece.kind == "choice":  # rendered as its first text, which may be a marker
                out.append((piece.value[0], forms.get(piece.value[0], "text") != "text"))
            elif piece.kind == "name":
                out.append((name if piece.value == "raw" else json_text(name), False))
            elif piece.kind == "arguments":  # in the piece's encoding (JSON, XML parameters...)
                out += split_tokens(get_encoding(piece.value).render(arguments, None), forms)
            elif piece.kind == "call_object":
                body = {"name": name, piece.value[0]: arguments}
                if piece.id_key:
                    body[piece.id_key] = call_id({}, 0, profile)
                out.append((json_text(body), False))
            elif piece.kind == "id":
                out.append((call_id({}, 0, profile), False))
            elif piece.kind == "index":  # the call's position: this is the first call
                out.append(("0", False))
        return out  # (optional pieces are not rendered)

    before = [(profile.before_calls, False)] if profile.before_calls else []
    return before + pieces(profile.begin) + pieces(profile.call) + pieces(profile.end)


def split_tokens(text: str, forms: dict[str, str]) -> list[Part]:
    """An encoding's text with the special tokens it writes told apart (Gemma's ``<|"|>``);
    a value can't hold a special token's text (compile refuses it), so any found is one."""
    specials = sorted((m for m, kind in forms.items() if kind != "text"), key=len, reverse=True)
    if not specials:
        return [(text, False)]
    pattern = "(" + "|".join(map(re.escape, specials)) + ")"
    return [(part, part in specials) for part in re.split(pattern, text) if part]


def token_ids(tok: Tokenizer, parts: list[Part]) -> list[int]:
    """Markers as their special token, all other text byte by byte (the built-in tokenizer's bytes)."""
    vocab = _byte_ids(tok)
    ids: list[int] = []
    for text, special in parts:
        if special:
            ids.append(tok.hf.token_to_id(text))
        else:
            ids += [vocab[b] for b in text.encode()]
    return ids


_BYTE_IDS: dict[int, list[int]] = {}


def _byte_ids(tok: Tokenizer) -> list[int]:
    key = id(tok)
    if key not in _BYTE_IDS:
        from grammargen.tokenizer import _bytes_to_unicode

        b2u = _bytes_to_unicode()
        _BYTE_IDS[key] = [tok.hf.token_to_id(b2u[b]) for b in range(256)]
    return _BYTE_IDS[key]


def accepts(matcher: llguidance.LLMatcher, ids: list[int]) -> bool:
    """Whether the grammar takes exactly these tokens, each allowed by the mask before it (as a runtime checks)."""
    m = matcher.deep_copy()
    for token in ids:
        mask = m.compute_bitmask()
        if not token_allowed(mask, token) or not m.consume_token(token):
            return False
    return m.is_accepting()


def rejects(matcher: llguidance.LLMatcher, ids: list[int]) -> bool:
    """Whether the grammar refuses these tokens: a cheap consume-only pass first, the masks only if it passes."""
    m = matcher.deep_copy()
    if m.validate_tokens(ids) == len(ids):
        for token in ids:
            m.consume_token(token)
        if m.is_accepting():
            return not accepts(matcher, ids)
    return True


def one_char_changes(text: str) -> list[str]:
    """Texts one character away: last dropped, one appended, first replaced."""
    changes = [text[:-1], text + "x", ("y" if text[:1] != "y" else "z") + text[1:]]
    return [c for c in dict.fromkeys(changes) if c != text]


# -- one case per field ---------------------------------------------------------------------------------
@dataclass
class Case:
    """What one field and value make: the tool list (and profile) to compile, and the call to check."""

    tools: list[dict[str, Any]]
    name: str
    arguments: Any
    changed: list[tuple[str, Any]]  # (name, arguments) of calls one character away


def build_case(field: str, value: str) -> Case:
    obj = {"type": "object", "properties": {"v": {}}, "required": ["v"]}
    if field == "tool_name":
        tools = [{"type": "function", "function": {"name": value, "parameters": {"type": "object"}}}]
        return Case(tools, value, {}, [(c, {}) for c in one_char_changes(value)])
    if field in ("enum_value", "const_value"):
        keyword = {"enum": [value]} if field == "enum_value" else {"const": value}
        params = {**obj, "properties": {"v": {"type": "string", **keyword}}}
        tools = [{"type": "function", "function": {"name": "f", "parameters": params}}]
        return Case(tools, "f", {"v": value}, [("f", {"v": c}) for c in one_char_changes(value)])
    if field == "property_name":
        params = {"type": "object", "properties": {value: {"type": "integer"}}, "required": [value]}
        tools = [{"type": "function", "function": {"name": "f", "parameters": params}}]
        return Case(tools, "f", {value: 1}, [("f", {c: 1}) for c in one_char_changes(value)])
    raise ValueError(field)


def check_value(field: str, value: str, fmt: str, shape: str = "auto") -> str:
    """Run one case; return "ok" or "refused", raise AssertionError on an injection."""
    profile = grammargen.get_profile(fmt)
    if field == "description":
        return _check_description(value, fmt)
    case = build_case(field, value)
    try:
        grammar = grammargen.compile(case.tools, profile, tool_choice="required", shape=shape, check=False)
    except GrammarGenError as exc:
        clear = ((field == "tool_name" and "tool name" in exc.message and exc.path.endswith(".name"))
                 or any(sign in exc.message for sign in CLEAR) or repr(value) in exc.message)
        assert clear and exc.path.startswith("tools[0]"), f"{field} {value!r} refused unclearly: {exc}"
        return "refused"
    outcome = _check_grammar(grammar, profile, case)
    if any(p.kind == "arguments" and p.value != "json" for p in profile.call):
        _check_read_back(profile, case)
    return outcome


# What a clear refusal says where it can't quote the value whole.
CLEAR = ("the text of a special token", "U+007F", "ends a raw value", "can't hold", "can't be written")


def _check_read_back(profile: Profile, case: Case) -> None:
    """The call the grammar forces parses back to itself, whole and streamed (an encoding's
    own syntax must not let a name, key or value run into the text around it)."""
    text = grammargen.render([{"name": case.name, "arguments": case.arguments}], profile, tools=case.tools)
    want = [(case.name, case.arguments)]
    try:
        message = grammargen.parse(text, profile, tools=case.tools)
    except GrammarGenError as exc:
        raise AssertionError(f"parse can't read back what the grammar forces: {exc}") from exc
    got = [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in message.tool_calls]
    assert got == want, f"parse reads {got!r} from what the grammar forces, not {want!r}"
    stream = StreamParser(profile, case.tools)
    deltas = [d for i in range(0, len(text), 3) for d in stream.feed(text[i:i + 3])] + stream.close()
    got = [(c["function"]["name"], json.loads(c["function"]["arguments"]))
           for c in Message.from_deltas(deltas).tool_calls]
    assert got == want, f"the stream reads {got!r}, not {want!r}"


def _check_grammar(grammar: grammargen.Grammar, profile: Profile, case: Case) -> str:
    tok = builtin_for(profile)
    matcher = llguidance.LLMatcher(tok.ll, grammar.lark, log_level=0)
    assert not matcher.is_error(), f"llguidance refuses the grammar: {matcher.get_error()}"
    good = call_parts(profile, grammar.markers, case.name, case.arguments)
    rendered = grammargen.render([{"name": case.name, "arguments": case.arguments}], profile)
    assert "".join(t for t, _ in good) == rendered, "render() and the layout disagree"
    assert accepts(matcher, token_ids(tok, good)), f"the literal is rejected: {rendered!r}"
    for name, arguments in case.changed:
        bad = call_parts(profile, grammar.markers, name, arguments)
        assert rejects(matcher, token_ids(tok, bad)), \
            f"a one-character change is accepted: {''.join(t for t, _ in bad)!r}"
    return "ok"


def _check_description(value: str, fmt: str) -> str:
    """Descriptions are annotations: with any text in them the grammar is exactly the one without."""
    params = {"type": "object", "properties": {"v": {"type": "string", "description": value, "title": value}},
              "required": ["v"]}
    plain = {"type": "object", "properties": {"v": {"type": "string"}}, "required": ["v"]}
    with_text = grammargen.compile([{"name": "f", "description": value, "parameters": params}], fmt,
                                   tool_choice="required", check=False)
    without = grammargen.compile([{"name": "f", "parameters": plain}], fmt, tool_choice="required", check=False)
    assert with_text.lark == without.lark, "a description changed the grammar"
    return "ok"


# -- markers: a profile written to a TOML file ---------------------------------------------------------
def toml_string(text: str) -> str:
    """A TOML basic string holding exactly ``text``."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def marker_profile(folder: Path, marker: str, special: bool) -> Path:
    """A phi4-mini-like profile whose begin marker is ``marker`` (a special token or text)."""
    file = folder / "fuzz.toml"
    file.write_text("\n".join([
        'name = "fuzz-marker"', 'reference = "https://example.com/fuzz"',
        f"special = [{toml_string(marker)}]" if special else "special = []",
        "content_before_calls = false", "[layout]",
        f"begin = [{{ marker = {toml_string(marker)} }}, {{ text = \"[\" }}]",
        'call = [{ call_object = ["arguments"] }]', 'separator = [{ text = ", " }]',
        'end = [{ text = "]" }]', ""]), encoding="utf-8")
    return file


def check_marker(value: str, folder: Path, special: bool = False, auto: bool = False) -> str:
    """A marker's text (as text, or as a special token) matches exactly; a changed marker is rejected.

    With ``auto`` (free text or calls) free text may be anything -- a changed marker too --
    but never text that starts with the marker and then breaks the call.
    """
    try:
        profile = load_profile(marker_profile(folder, value, special))
        tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
        grammar = grammargen.compile(tools, profile, tool_choice="auto" if auto else "required", check=False)
    except GrammarGenError as exc:
        assert exc.source.endswith("fuzz.toml") or "special marker" in exc.message \
            or "the text of a special token" in exc.message, \
            f"marker {value!r} refused unclearly: {exc}"
        return "refused"
    tok = builtin_for(profile)
    matcher = llguidance.LLMatcher(tok.ll, grammar.lark, log_level=0)
    assert not matcher.is_error(), f"llguidance refuses the grammar: {matcher.get_error()}"
    is_special = grammar.markers.get(value, "text") != "text"
    rest = [("[", False), (json_text({"name": "f", "arguments": {}}), False), ("]", False)]
    assert accepts(matcher, token_ids(tok, [(value, is_special)] + rest)), f"marker {value!r} rejected"
    if auto:
        assert rejects(matcher, token_ids(tok, [(value, is_special), ("x", False)])), \
            f"free text may start with the marker {value!r}"
        return "ok"
    for changed in one_char_changes(value):
        assert rejects(matcher, token_ids(tok, [(changed, False)] + rest)), \
            f"marker {value!r} also matches {changed!r}"
    if is_special:  # the special marker is never matched by its text spelled out
        assert rejects(matcher, token_ids(tok, [(value, False)] + rest)), f"marker {value!r} matched as text"
    return "ok"


def without_controls(text: str) -> str:
    return "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cs"))


# -- the long run ----------------------------------------------------------------------------------------
def run_field(field: str, count: int, seed: int, counts: Counter[str], failures: list[str],
              formats: list[str] | None = None) -> None:
    """Try ``count`` hostile values in ``field``, each with a format (and shape) drawn at random
    from ``formats`` (default: every format)."""
    names = formats or grammargen.formats()
    rng = random.Random(seed)
    workdir = tempfile.TemporaryDirectory(prefix="grammargen-fuzz-")
    folder = Path(workdir.name)

    @settings(max_examples=count, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck), phases=("generate",))
    @given(value=hostile_text())
    def one(value: str) -> None:
        if field in ("tool_name", "marker") and rng.random() < 0.5:
            value = without_controls(value)  # half the names and markers can be valid at all
        try:
            if field == "marker":
                outcome = check_marker(value, folder, special=rng.random() < 0.25, auto=rng.random() < 0.5)
            else:
                outcome = check_value(field, value, rng.choice(names), rng.choice(("auto", "json")))
            counts[f"{field} {outcome}"] += 1
        except AssertionError as exc:
            counts[f"{field} FAILED"] += 1
            failures.append(f"{field}: {value!r}: {exc}")

    with workdir:
        one()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-field", type=int, default=10_000, help="cases per field (default 10,000)")
    parser.add_argument("--fields", default=",".join(FIELDS), help="comma-separated subset of " + ", ".join(FIELDS))
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--formats", default="", help="comma-separated formats to draw from (default: all); "
                        "'encodings': those with an argument encoding of their own (XML, pythonic, Gemma)")
    args = parser.parse_args(argv)
    formats = [f for f in args.formats.split(",") if f]
    if formats == ["encodings"]:
        formats = [f for f in grammargen.formats()
                   if any(p.kind == "arguments" and p.value != "json" for p in grammargen.get_profile(f).call)]
    counts: Counter[str] = Counter()
    failures: list[str] = []
    for field in args.fields.split(","):
        start = time.perf_counter()
        run_field(field, args.per_field, args.seed, counts, failures, formats)
        tried = sum(n for k, n in counts.items() if k.startswith(field + " "))
        print(f"{field:14} {tried:6,} cases: {counts[field + ' ok']:6,} ok, {counts[field + ' refused']:6,} refused, "
              f"{counts[field + ' FAILED']:3} failed  ({time.perf_counter() - start:.0f} s)", flush=True)
    for failure in failures[:50]:
        print("FAIL", failure[:300])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
