"""Tool[] x Profile x options -> Grammar: the Lark reading of a profile's layout.

The emitted grammar has one shape for every format::

    start: reasoning? body            // reasoning only when asked for
    body:  TEXT | calls               // by tool_choice: TEXT, calls, or TEXT? calls
                                      // (text: TEXT | TEXT_SHORT where that is the same
                                      // text: a faster first mask, see SHORT_TEXT)
    calls: BEGIN call (SEP call)* END // one call when parallel_tool_calls is off
    call:  CALL_PREFIX CALL_REST END  // the layout's tool-independent lead, written once
    CALL_REST: "get_" CALL_REST_1 | ... // a prefix tree over the tool names; each leaf:
    CALL_REST_1: "weather..." ARGS_0  // the rest of one name, then that tool's arguments
                                      // (terminals: one lexeme; rules where a leaf holds
                                      // a special token or a rule: call_rest, call_rest_1)
    ARGS_0: "{\"q\": \""JSON_CHAR{,16}...   // one exact terminal where the schema allows (fastjson),
    args_1: %json {...}               // else %json; identical schemas share one rule
    JSON_CHAR: ...                    // generic value terminals, defined once, shared by every tool

JSON is compact and exact (``", "`` and ``": "``, no other whitespace), so a model can
never loop on whitespace; free text (TEXT, the reasoning block) is the only open text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from .capacity import ROW_ITEMS
from .collector import collector_paused
from .encodings import Absorbing, Item, Ref, get_encoding
from .errors import GrammarError, OptionsError, ProfileError
from .fastjson import ArgsTerminals
from .grammar import Grammar
from .lark import MarkerForm, concat, json_text, literal, regex_escape
from .profiles import Piece, Profile, get_profile
from .schema import prepare
from .tokenizer import Tokenizer, builtin_for, load_tokenizer, marker_forms
from .tools import Tool, load_tools, names_the_tools_file
from .unwritable import check_writable
from .verify import verify

# How llguidance must write the JSON inside calls: the separators models emit, nothing else.
JSON_STYLE = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}

# llguidance's default token slices (``LLTokenizer.general_slices()``, what vLLM's
# ``llguidance.hf.from_tokenizer`` loads) hold this one: at a lexer state that provably accepts every
# string of a slice, the mask takes the slice's tokens in one step instead of walking them.
# llguidance can't prove that of TEXT (a negation), so the output's first mask walked every
# token (2.0 ms on Qwen3).  Where no text TEXT excludes fits in ten such characters, every
# string of the slice is free text: ``text: TEXT | TEXT_SHORT`` is the same language, and
# its first mask takes 0.7 ms (the same masks at every step: tests/test_free_text.py).
SHORT_TEXT = r'[^"\\\x00-\x1F\x7F]{1,10}'
SHORT_TEXT_RULE = "text: TEXT | TEXT_SHORT"  # free text where TEXT_SHORT is written (emit drops it)
_SHORT_TEXT = re.compile(SHORT_TEXT)  # Python reads the class as llguidance does




@names_the_tools_file
@collector_paused()
def compile(tools: Any, format: str | Profile = "phi4-mini", *, tool_choice: Any = "auto",
            parallel_tool_calls: bool = True, reasoning: bool | str = False,
            tokenizer: Any = None, lenient: bool = False, close_objects: bool = True,
            max_calls: int | None = None, check: bool = True, shape: str = "auto") -> Grammar:
    """Compile a tool list into an llguidance Lark grammar for one model format.

    ``tool_choice``: ``"auto"`` (text or calls), ``"none"`` (text only), ``"required"``
    (at least one call), or a tool name / OpenAI ``{"type": "function", ...}`` object
    (calls of that tool only).  ``parallel_tool_calls=False``: exactly one call.
    ``reasoning``: ``True`` allows the profile's reasoning block first, ``"required"``
    demands it, ``"opened"``: the generation prompt already opened it (QwQ, R1 distills), so
    the output starts inside the block and must close it.  ``tokenizer``: marker forms follow it (special token, id, or text).
    ``lenient``: drop unsupported schema keywords with a warning instead of failing.
    ``close_objects``: objects listing properties get ``additionalProperties: false``
    unless they say otherwise.  ``max_calls`` bounds the number of parallel calls.
    ``check``: have llguidance check the grammar before returning it.
    ``shape``: ``"auto"`` writes each tool's arguments as one exact terminal where the
    schema allows it (faster matchers) and as ``%json`` elsewhere; ``"json"``: ``%json`` only.
    """
    tool_list = load_tools(tools)
    profile = get_profile(format)
    tok = load_tokenizer(tokenizer, profile) if tokenizer is not None else None
    mode, chosen = _tool_choice(tool_choice, tool_list)
    _check_options(profile, reasoning, max_calls)
    if shape not in ("auto", "json"):
        raise OptionsError('shape must be "auto" or "json"', path="shape")
    checker = tok or builtin_for(profile)
    writer = _Writer(profile, marker_forms(profile, tok), lenient=lenient, close=close_objects,
                     shape=shape)
    lark = writer.grammar(chosen, mode, parallel=parallel_tool_calls, reasoning=reasoning,
                          max_calls=max_calls)
    # Every text the arguments became (an encoding may write literals in rules of its own):
    # a special token's text anywhere in it sends the schemas to the walk that names it.
    # Not the layout's rules after them: their markers are special tokens by design, and
    # made every format whose markers the tokenizer has walk every schema (~18 M
    # instructions at 100 tools, pythonic's compile 74 M -> 54 M).
    written = [*writer.args_rules, *writer.rules[:writer.args_end], *writer.terminals.definitions()]
    check_writable(chosen, profile, writer.forms, checker, written=written)
    options = {"tool_choice": tool_choice, "parallel_tool_calls": parallel_tool_calls,
               "reasoning": reasoning, "lenient": lenient, "close_objects": close_objects}
    if max_calls is not None:
        options["max_calls"] = max_calls
    if shape != "auto":
        options["shape"] = shape
    grammar = Grammar(lark=lark, format=format_name(profile), tool_names=tuple(t.name for t in chosen),
                      options=options, markers={m: f.kind for m, f in writer.forms.items()},
                      warnings=tuple(writer.warnings))
    if check:
        verify(grammar, checker, writer)
    return grammar


def format_name(profile: Profile) -> str:
    """The profile's name if it ships with grammargen, else its file (so it can be found again)."""
    try:
        shipped = get_profile(profile.name) == profile
    except ProfileError:
        shipped = False
    return profile.name if shipped else profile.path


def _tool_choice(choice: Any, tools: Sequence[Tool]) -> tuple[str, list[Tool]]:
    """Normalize tool_choice to a mode (auto/none/required) and the tools calls may use."""
    if choice in ("auto", "none", "required"):
        return choice, list(tools)
    name = choice
    if isinstance(choice, dict):
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else choice.get("name")
        if choice.get("type") != "function":
            name = None
    if not isinstance(name, str):
        raise OptionsError("tool_choice must be auto, none, required, a tool name, or "
                           '{"type": "function", "function": {"name": ...}}', path="tool_choice")
    matches = [t for t in tools if t.name == name]
    if not matches:
        known = ", ".join(t.name for t in tools[:10]) + (", ..." if len(tools) > 10 else "")
        raise OptionsError(f"tool_choice names {name!r}, which is not in the tool list ({known})",
                           path="tool_choice")
    return "required", matches


def _check_options(profile: Profile, reasoning: Any, max_calls: Any) -> None:
    if reasoning not in (True, False, "required", "opened"):
        raise OptionsError('reasoning must be true, false, "required" or "opened"', path="reasoning")
    if reasoning and profile.reasoning is None:
        raise OptionsError(f"format {profile.name!r} has no reasoning block", path="reasoning")
    if max_calls is not None and (not isinstance(max_calls, int) or max_calls < 1):
        raise OptionsError("max_calls must be a positive integer", path="max_calls")


class _Writer:
    """Builds the Lark text for one compile: rules, shared argument rules, warnings.

    The argument encodings use ``rules``, ``args_rules``, ``args_terminals``, ``args_uses``,
    ``terminals``, ``memo`` and ``args_rule`` (see :mod:`.encodings`): keep them when changing
    this class.
    """

    def __init__(self, profile: Profile, forms: dict[str, MarkerForm], *, lenient: bool,
                 close: bool, shape: str) -> None:
        self.profile = profile
        self.forms = forms
        self.lenient = lenient
        self.close = close
        self.rules: list[str] = []
        self.warnings: list[str] = []
        self.args_rules: dict[str, str] = {}  # argument text (terminal or %json schema) -> its name
        self.args_terminals: dict[str, tuple[str, list[Item]]] = {}  # ARGS_n -> its text and items
        self.args_uses: dict[str, int] = {}  # ARGS_n -> the tools whose arguments it is
        self.tool_args: list[tuple[Tool, str]] = []  # (tool, its %json schema text)
        self.shape = shape  # "auto": a terminal where exact (fastjson), else %json
        self.terminals = ArgsTerminals(close)  # value terminals the argument terminals share
        # the calls start with the tool name as plain text (Functionary): no lead marks them
        self.bare = profile.call[0].kind in ("name", "id", "index") and not profile.begin
        self.mode = "auto"  # the tool_choice mode being written (set by grammar())
        self._markers: dict[Any, Item] = {}  # a marker's item, a call object's keys: made once
        self.args_end = 0  # how many of ``rules`` the arguments wrote (set by grammar())
        # what an encoding keeps for the length of one compile (its rule set, its reading of
        # the layout), by a key of its own: the writer takes no attributes of theirs (compiled
        # with mypyc, it has a fixed set: hatch_build.py)
        self.memo: dict[str, Any] = {}

    # -- sequences ---------------------------------------------------------------------
    def items(self, pieces: Iterable[Piece], tool: Tool | None = None) -> list[Item]:
        out: list[Item] = []
        for piece in pieces:
            if piece.kind == "text":
                out.append(piece.value)
            elif piece.kind == "marker":
                marker = self._markers.get(piece.value)
                if marker is None:  # (every call writes its markers: made once a compile)
                    form = self.forms[piece.value]
                    marker = piece.value if form.kind == "text" else Ref(form.lark(piece.value))
                    self._markers[piece.value] = marker
                out.append(marker)
            elif piece.kind == "choice":
                out.append(self.choice(piece.value))
            elif piece.kind == "optional":
                form = self.forms[piece.value]
                out.append(Ref(f"({form.lark(piece.value)})?"))
            elif piece.kind == "content":  # the turn's text inside the section (Llama 4)
                if self.mode == "auto":  # required and named choices start the calls at once
                    self.terminals.shared.setdefault("SLOT_TEXT", "/(?s:.+)/")
                    out.append(Ref("SLOT_TEXT?"))
            elif tool is None:
                raise ProfileError(f"a {piece.kind} piece may only appear in layout.call",
                                   source=self.profile.path)
            elif piece.kind == "name":
                out.append(tool.name if piece.value == "raw" else json_text(tool.name))
            elif piece.kind == "id":
                out.append(Ref(self.id_terminal()))
            elif piece.kind == "index":
                out.append(Ref(self.index_terminal()))
            elif piece.kind == "arguments":
                out += get_encoding(piece.value).grammar(self, tool)
            elif piece.kind == "call_object":
                keys = self._markers.get(piece.value)
                if keys is None:
                    keys = self._markers[piece.value] = _choice([json_text(k) for k in piece.value])
                out += ['{"name": ', json_text(tool.name), ", ", keys, ": ", Ref(self.args_rule(tool))]
                if piece.id_key:
                    out += [", ", json_text(piece.id_key), ': "', Ref(self.id_terminal()), '"']
                out.append("}")
        return _merge(out)

    def marker_items(self, text: str) -> list[Item]:
        """A reasoning or content marker: one marker, or a run of special markers and text
        (gpt-oss's ``<|channel|>analysis<|message|>``)."""
        run = self.profile.marker_run(text)
        return _merge([x for m in run for x in (self.items([Piece("marker", m)]) if m in self.forms
                                                 else [m])])

    def choice(self, texts: Sequence[str]) -> Item:
        """One of several texts; those the profile lists as special are matched as markers."""
        if not any(t in self.forms for t in texts):
            return _choice(texts)
        forms = [self.forms[t].lark(t) if t in self.forms else literal(t) for t in texts]
        return Ref("(" + "|".join(forms) + ")")

    def args_rule(self, tool: Tool) -> str:
        written = self.terminals.pieces(tool.parameters) if self.shape == "auto" else None
        if written is not None:
            lead, middle, tail, expr = written
            name = self.args_rules.get(expr)
            if name is None:  # identical argument languages share a terminal
                name = self.args_rules[expr] = f"ARGS_{len(self.args_rules)}"
                self.args_terminals[name] = (expr, [lead, Ref(middle), tail] if middle else [lead + tail])
            self.args_uses[name] = self.args_uses.get(name, 0) + 1
            return name  # its rule is written by grammar(), unless the name tree takes it in
        where = f"{tool.path or 'tool ' + repr(tool.name)}.parameters"
        prepared = prepare(tool.parameters, where, lenient=self.lenient, close_objects=self.close)
        self.warnings += prepared.warnings
        schema = dict(prepared.schema)
        schema["x-guidance"] = JSON_STYLE
        text = json.dumps(schema, ensure_ascii=True, sort_keys=False)
        if text not in self.args_rules:
            name = f"args_{len(self.args_rules)}"
            self.args_rules[text] = name
            self.rules.append(f"{name}: %json {text}")
        self.tool_args.append((tool, text))
        return self.args_rules[text]

    def id_terminal(self) -> str:
        """CALL_ID: the ids the model writes, as the profile shapes them (checked on load)."""
        if "CALL_ID" not in self.terminals.shared:
            chars, length = self.profile.id_shape
            body = regex_escape(chars)
            self.terminals.shared["CALL_ID"] = f"/[{body}]{{{length}}}/"
        return "CALL_ID"

    def index_terminal(self) -> str:
        """CALL_INDEX: a call's position, a decimal number without leading zeros.  Any number:
        models that number calls across the conversation go on counting (Kimi K2's ``:5``);
        bounded, so a model can't run on writing digits."""
        self.terminals.shared.setdefault("CALL_INDEX", "/0|[1-9][0-9]{0,5}/")
        return "CALL_INDEX"

    def sizes(self, tools: int) -> dict[str, int]:
        """What decides whether the grammar fits llguidance's limits (see capacity)."""
        terminals = [text for text, name in self.args_rules.items() if name.startswith("ARGS_")]
        chars = sum(map(len, terminals)) + sum(map(len, self.terminals.definitions()))
        return {"tools": tools, "arg_terminals": len(terminals), "terminal_chars": chars,
                "json_rules": len(self.args_rules) - len(terminals)}

    # -- the grammar -------------------------------------------------------------------
    def grammar(self, tools: Sequence[Tool], mode: str, *, parallel: bool, reasoning: Any,
                max_calls: int | None) -> str:
        p = self.profile
        self.mode = mode
        begin, sep, end = self.items(p.begin), self.items(p.separator), self.items(p.end)
        lead, marks = self._lead()
        head: list[str] = []
        if mode != "none":
            seqs = [self.items(p.call, t) for t in tools]
            self.args_end = len(self.rules)  # the rules so far are the arguments' own
            forced = lead if not begin and all(isinstance(s[0], str) for s in seqs) else None
            prefix, rests = _split_common_prefix(seqs, forced)
            rests, suffix = _split_lexical(rests)
            rest = "CALL_REST" if suffix is not None else "call_rest"
            if suffix is not None:
                rests = [self._args_in_place(r) for r in rests]
            self.rules += _name_tree(rest, rests)
            prefix += [Ref(rest), *(suffix or [])]
            repeat = ""
            if parallel and max_calls != 1:
                bound = "*" if max_calls is None else f"{{0,{max_calls - 1}}}"
                repeat = f" ({_expr(sep)} call){bound}" if sep else f" call{bound}"
            # After the last call: what models write before their end-of-turn token (a
            # newline), allowed and never demanded, so the model can always stop there.
            tail = _sp(_expr(end)) + (f" ({' | '.join(map(literal, p.after_calls))})?" if p.after_calls else "")
            self.rules.append(f"call: {_expr(prefix)}")
            before = f"{literal(p.before_calls)}? " if p.before_calls else ""
            self.rules.append(f"calls: {before}{_expr(begin + [Ref('call')])}{repeat}{tail}")
            if mode == "auto" and p.content_before_calls and lead is not None:
                # Text may precede calls and the calls start with plain text: a lazy rule
                # eats text up to the first lead, then the calls go on from there.
                if begin:
                    after, first = _strip_lead(begin, lead), prefix
                else:
                    after, first = [], _strip_lead(prefix, lead)
                self.rules.append(f"call_first: {_expr(first)}")
                self.rules.append(f"calls_after_lead: {_expr(after + [Ref('call_first')])}"
                                  f"{repeat}{tail}")
                # HEAD may not start with the lead itself: llguidance lexes greedily, and a
                # HEAD still alive would keep the calls' own lead from ever ending.
                esc = regex_escape(lead)
                # It ends at the first lead: the lead occurs nowhere before its end, so HEAD
                # can't run on past it (where a lazy lexeme would turn llguidance's token
                # slices off at the start: see SHORT_TEXT).
                head = [f"HEAD: /(?s:.+){esc}/ & ~/{esc}(?s:.*)/ & ~/(?s:.*){esc}(?s:.+)/", "head: HEAD"]
                if reasoning and p.reasoning:
                    # Nor may it start a reasoning block: a HEAD alive from the first byte
                    # keeps a text <think> from ever being lexed (TEXT excludes it likewise).
                    think = regex_escape(p.reasoning.begin)
                    head[0] += f" & ~/[ \\t\\r\\n]*{think}(?s:.*)/"
        # tool_choice required (or named) starts the calls at once: text before them is an
        # auto behaviour, and a weak model given the chance writes text until max_length.
        body = {"none": ["TEXT"], "auto": ["TEXT", *self._calls_alternatives(lead)],
                "required": ["calls"]}[mode]
        text_rules = self._text_rules(lead, marks, reasoning)
        if any(rule.startswith("TEXT_SHORT:") for rule in text_rules):  # the same text, a faster first mask
            body = [re.sub(r"\bTEXT\b", "text", b) for b in body]
            text_rules.insert(0, SHORT_TEXT_RULE)
        wrap = []
        if p.content_begin and mode != "required":
            # Text between the model's own markers (Command R7B's <|START_RESPONSE|>...), as
            # the model writes it; bare text means the same and is allowed too.
            body = [re.sub(r"\bTEXT\b", "text", b) for b in body]
            opening = _expr(self.marker_items(p.content_begin))
            closing = _sp(_expr(self.marker_items(p.content_end))) if p.content_end else ""
            wrap = [f"text: {opening} TEXT{closing} | {'BARE_TEXT' if self.bare else 'TEXT'}"]
            if self.bare:
                # Calls start with the tool name as plain text, and llguidance lexes greedily:
                # text still alive at a name (or at content_begin) would never let their own
                # lexemes end.  Bare text may not start as those do (the model writes "all\n").
                firsts = "".join(sorted({t.name[0] for t in tools} | {p.content_begin[0]}))
                text_body = text_rules[0].split(": ", 1)[1]
                # nor be a word alone on its first line: that is a call (as the parser reads it)
                wrap.append(f"BARE_TEXT: {text_body} & ~/[{regex_escape(firsts)}](?s:.*)/"
                            " & ~/[\\w.:-]+[ \\t]*\\n(?s:.*)/")
            if p.calls_after_text and mode == "auto":
                # text up to the first calls_after_text (lazy: it ends there), then the calls
                cat = regex_escape(p.calls_after_text)
                wrap += [f"TEXT_TO_CALLS: /(?s:.+){cat}/ & ~/{cat}(?s:.*)/",
                         "text_to_calls[lazy]: TEXT_TO_CALLS", f"text_head: {opening} text_to_calls"]
        rules = ["body: " + " | ".join(body)]
        if reasoning and p.reasoning:
            # After the block: at most two newlines, then text that doesn't start with one
            # (so the newlines have exactly one reading and can't run on).
            body_after = " | ".join(b.replace("TEXT", "TEXT_AFTER").replace("head ", "head_after ") for b in body)
            if head:  # text before plain-text calls: no leading newline either (else GAP never ends)
                head += [f"HEAD_AFTER: {head[0].split(': ', 1)[1]} & ~/\\n(?s:.*)/",
                         "head_after: HEAD_AFTER"]
            block = "reasoning_rest" if reasoning == "opened" else "reasoning"
            if reasoning != "opened" and p.reasoning.before:
                block = f"{literal(p.reasoning.before)}? {block}"
            start = f"{block} GAP? body_after" + (" | body" if reasoning is True else "")
            rules = [f"start: {start}", *rules, f"body_after: {body_after}"]
        else:
            rules = ["start: body", *rules]
        rules += wrap + text_rules
        args = [f"{name}: {expr}" for name, (expr, _) in self.args_terminals.items()
                if self.args_uses[name]]  # those the name tree did not take in
        return "\n".join(rules + head + args + self.rules + self.terminals.definitions()) + "\n"

    def _args_in_place(self, rest: list[Item]) -> list[Item]:
        """A tool's rest with its argument terminal written in place when no other tool
        shares it: a named terminal costs llguidance a definition (4% of the build at 100
        tools), and the arguments' leading text joins the name's."""
        out: list[Item] = []
        for item in rest:
            if type(item) is Ref and self.args_uses.get(item.expr) == 1:
                self.args_uses[item.expr] = 0
                out += self.args_terminals[item.expr][1]
            else:
                out.append(item)
        return _merge(out)

    def _lead(self) -> tuple[str | None, list[str]]:
        """How the call section starts: its first plain text (None when it starts with a
        token), and the text of every marker that can open it.

        Free text may not contain the lead (or start with it, where text and calls exclude
        each other), so text and calls never read the same; nor may it spell out an opening
        marker, which a parser would take for a call.
        """
        pieces = list(self.profile.begin or self.profile.call)
        marks = []
        while pieces and pieces[0].kind == "optional":
            marks.append(pieces.pop(0).value)
        first = pieces[0] if pieces else None
        if first is None:
            return None, marks
        if first.kind == "marker":
            marks.append(first.value)
        if first.kind == "call_object":
            return "{", marks
        if not first.is_literal:
            return None, marks
        item = self.items([first])[0]
        return (item if isinstance(item, str) else None), marks

    def _calls_alternatives(self, lead: str | None) -> list[str]:
        if not self.profile.content_before_calls:
            return ["calls"]
        if self.profile.calls_after_text and self.profile.content_begin:
            return ["calls", "text_head calls"]  # Functionary: all\n, text, ">>>", the calls
        if lead is None:
            return ["TEXT? calls"]
        return ["calls", "head calls_after_lead"]

    def _text_rules(self, lead: str | None, marks: list[str], reasoning: Any) -> list[str]:
        """TEXT is free text that can't be mistaken for calls (or for a reasoning block)."""
        blank = "[ \\t\\r\\n]*"
        before = self.profile.content_before_calls
        never = []
        excluded = [*marks, *([lead] if lead else [])]  # texts free text may not hold
        for text in dict.fromkeys(excluded):
            if before:
                never.append(f"(?s:.*){regex_escape(text)}(?s:.*)")  # calls may follow text
            else:
                never.append(f"{blank}{regex_escape(text)}(?s:.*)")  # text or calls, not both
        content_end = self.profile.content_end
        if content_end and self.forms[content_end].kind == "text":  # text ends at its closing marker's text
            never.append(f"(?s:.*){regex_escape(content_end)}(?s:.*)")
            excluded.append(content_end)
        if self.profile.calls_after_text:  # and at the text that starts calls after it
            never.append(f"(?s:.*){regex_escape(self.profile.calls_after_text)}(?s:.*)")
            excluded.append(self.profile.calls_after_text)
        rules = []
        r = self.profile.reasoning
        if reasoning and r:
            begin, end = self.marker_items(r.begin), self.marker_items(r.end)
            never.append(f"{blank}{regex_escape(r.begin)}(?s:.*)")  # that is a reasoning block
            if isinstance(end[0], str):
                # A text end marker: a lazy lexeme runs to its first occurrence (a greedy one
                # would swallow "</think" and fail at ">").
                rules.append(f"think[lazy]: /(?s:.*){regex_escape(r.end)}/")
                inside = "think"
            else:
                rules.append("THINK: /(?s:.*)/")
                inside = f"THINK {_expr(end)}"
            # "opened": the generation prompt wrote the begin marker; the output starts inside.
            rules.append(f"reasoning: {_expr(begin)} {inside}" if reasoning != "opened"
                         else f"reasoning_rest: {inside}")
            rules.append('GAP: "\\n" | "\\n\\n"')
        text = " & ".join(["/(?s:.+)/"] + [f"~/{n}/" for n in never])
        if reasoning and r:
            rules.append(f"TEXT_AFTER: {text} & ~/\\n(?s:.*)/")
        elif (self.mode != "required" and not self.profile.content_begin
              and all(map(_beyond_short_text, excluded))):
            rules.append(f"TEXT_SHORT: /{SHORT_TEXT}/")  # SHORT_TEXT_RULE (grammar())
        return [f"TEXT: {text}"] + rules


def _beyond_short_text(text: str) -> bool:
    """Can no string of :data:`SHORT_TEXT` hold ``text``?  Only where ``text`` is one itself:
    it is too long, or holds a character the slice lacks."""
    return _SHORT_TEXT.fullmatch(text) is None


def _name_tree(name: str, rests: list[list[Item]]) -> list[str]:
    """The per-tool alternatives as a prefix tree over their leading text (the tool names).

    A flat alternation puts every tool in one Earley row (llguidance stops at 2,000 items
    a row) and predicts them all on every name token; a rule per shared prefix branches
    at most once per distinct next character.  An upper-case ``name`` writes the tree as
    terminals (see :func:`_split_lexical`): one lexeme, no Earley rows at all.
    """
    terminal = name.isupper()
    rules: list[str] = []
    count = 0

    def node(rule: str, entries: list[tuple[str, list[Item]]]) -> None:
        nonlocal count
        alts: list[str] = []
        groups: dict[str, list[tuple[str, list[Item]]]] = {}
        for text, tail in entries:
            if text:
                groups.setdefault(text[0], []).append((text, tail))
            else:
                alts.append(_expr(tail))
        for group in groups.values():
            shared = _common_text([text for text, _ in group])
            if len(group) == 1:
                alts.append(_expr([shared, *group[0][1]]))
                continue
            count += 1
            child = f"{name}_{count}"
            alts.append(concat([literal(shared), child]))
            node(child, [(text[len(shared):], tail) for text, tail in group])
        if not terminal and len(alts) * 2 > ROW_ITEMS:  # a branch is an Earley item, and predicts one more
            raise GrammarError(f"{len(alts):,} tools branch at one point of the call syntax; "
                               f"llguidance's Earley rows hold {ROW_ITEMS:,} items")
        rules.append(f"{rule}: " + "|".join(alts))

    node(name, [(r[0], r[1:]) if r and isinstance(r[0], str) else ("", r) for r in rests])
    return rules


_TERMINAL_NAME = re.compile(r"[A-Z][A-Z0-9_]*")


def _split_lexical(rests: list[list[Item]]) -> tuple[list[list[Item]], list[Item] | None]:
    """The per-tool rests cut before the first item of their common end that can't be inside
    a terminal (a special token, a rule), when what is left of every rest can: then the name
    tree and each tool's arguments are one lexeme, and the cut end follows it.

    llguidance pays for every lexeme with every grammar symbol (its build grows faster than
    the tool count), and for every rule; one lexeme for all the tools cost 10-15% less to
    build than a literal per branch and a terminal per tool (cachegrind, 100 and 1,000
    tools), and its lexer branches on the name byte by byte as the rule tree did.  Only
    literal text and named terminals qualify (arguments written by fastjson): a greedy
    lexeme must not end where it could go on, and those end where the rule tree's did.
    Returns ``(rests, None)`` when the tree must stay rules.
    """
    width = min(map(len, rests), default=0)
    common = 0
    while common < width and _all_same([r[-1 - common] for r in rests]):
        common += 1
    tail = rests[0][len(rests[0]) - common:] if common else []
    cut = next((i for i, item in enumerate(tail) if not _lexical(item)), len(tail))
    kept = [r[:len(r) - (common - cut)] for r in rests]
    if not all(kept) or not all(_lexical(item) for r in kept for item in r):
        return rests, None
    return kept, tail[cut:]


def _lexical(item: Item) -> bool:
    """Literal text, a named terminal, or a choice of literals (phi4-mini's "arguments" or
    "parameters" key): what a terminal definition may hold and end with as the rules did."""
    if isinstance(item, str):
        return True
    if type(item) is not Ref:
        return False
    return (_TERMINAL_NAME.fullmatch(item.expr) is not None
            or _CHOICE_OF_LITERALS.fullmatch(_LITERAL.sub("", item.expr)) is not None)


_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"')
_CHOICE_OF_LITERALS = re.compile(r"\((?: *\| *)* *\)")  # what is left of ("a" | "b")


def _choice(texts: Sequence[str]) -> Item:
    return texts[0] if len(texts) == 1 else Ref("(" + "|".join([literal(t) for t in texts]) + ")")


def _merge(items: list[Item]) -> list[Item]:
    """Join adjacent literal texts: fewer lexemes, and the lead reads as one string."""
    out: list[Item] = []
    for item in items:  # (runs once or twice a tool: type checks first, no Ref == str)
        if type(item) is not str:
            out.append(item)
        elif item:
            last = out[-1] if out else None
            if type(last) is str:
                out[-1] = last + item
            elif isinstance(last, Absorbing):
                out[-1] = last.absorb(item)  # the closing text joins the arguments' last terminal
            else:
                out.append(item)
    return out


def _expr(items: Sequence[Item]) -> str:
    return concat([literal(i) if isinstance(i, str) else i.expr for i in items])


def _sp(text: str) -> str:
    return " " + text if text else ""


def _strip_lead(items: list[Item], lead: str) -> list[Item]:
    first = items[0]
    if not (isinstance(first, str) and first.startswith(lead)):
        raise AssertionError("the lead must start the call section")  # a compiler bug
    return _merge([first[len(lead):], *items[1:]])


def _split_common_prefix(seqs: list[list[Item]], lead: str | None
                         ) -> tuple[list[Item], list[list[Item]]]:
    """Split the items every tool's call starts with from the per-tool rests.

    The shared start is then written once, so llguidance's parser only branches where the
    tool name is chosen.  ``lead`` (the text a call starts with) always goes to the prefix.
    """
    if lead:
        seqs = [[lead, *([s[0][len(lead):]] if s[0] != lead else []), *s[1:]]  # type: ignore[index]
                for s in seqs]
    if len(seqs) < 2:
        return ([lead], [s[1:] for s in seqs]) if lead else ([], seqs)
    prefix: list[Item] = []
    for column in zip(*seqs):
        if _all_same(column):
            prefix.append(column[0])
            continue
        if all(isinstance(c, str) for c in column):
            shared = _common_text(column)  # type: ignore[arg-type]
            if shared:
                prefix.append(shared)
                n = len(prefix) - 1
                return prefix, [[s[n][len(shared):], *s[n + 1:]] for s in seqs]  # type: ignore[index]
        break
    n = len(prefix)
    return prefix, [s[n:] for s in seqs]


def _all_same(items: Sequence[Item]) -> bool:
    """Whether every item equals the first (count() compares in C, the same object first:
    the compile hands every tool the same marker items)."""
    return items.count(items[0]) == len(items)


def _common_text(texts: Sequence[str]) -> str:
    """The longest text every one of ``texts`` starts with: that of the first and the last in
    sorted order (os.path.commonprefix's way, without its os.fspath on every text)."""
    if not texts:
        return ""
    first, last = min(texts), max(texts)
    n, end = 0, min(len(first), len(last))
    while n < end and first[n] == last[n]:
        n += 1
    return first[:n]
