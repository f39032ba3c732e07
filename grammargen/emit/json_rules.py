"""A ``%json`` schema as plain rules that accept exactly what llguidance's ``%json`` accepts.

GBNF and xgrammar's Lark have no ``%json`` with grammargen's compact separators, so the
argument schemas of a grammar are written out as rules here.  Exact means the same strings
as llguidance 1.9.1's ``%json`` with ``x-guidance`` compact separators (``", "``, ``": "``,
no other whitespace), measured by tests/test_json_rules.py on JSONSchemaBench and BFCL:

* objects: the declared properties in order, then required names not declared; optional
  ones may be left out; further keys (``additionalProperties``, ``patternProperties``)
  after them, any number, a further key spelled unlike every named key (llguidance compares
  spellings, and lets such a key use any ``\\uXXXX``);
* strings: any character but ``"``, ``\\``, the controls and DEL, or the escapes
  ``\\" \\\\ \\b \\f \\n \\r \\t`` and ``\\u00XX`` (either case) for the controls and
  DEL; ``minLength``/``maxLength`` count characters; ``pattern`` matches anywhere unless
  anchored, read as llguidance reads it (``llguidance.regex_to_lark``);
* integers with bounds as digit ranges (:func:`grammargen.fastjson.int_range`) and whole
  ``multipleOf`` steps, numbers in every JSON form; ``enum``/``const`` as the values' own
  text; arrays with ``items``, ``prefixItems``, ``minItems``/``maxItems``; ``anyOf`` (with
  keywords beside it met branch by branch); ``allOf`` over open objects; local ``$ref``,
  recursion included.

What else llguidance enforces (``format``, bounds and ``multipleOf`` on non-integer numbers,
where llguidance's own ranges skip values such as 0.2 in [0.1, 0.25]; ``allOf`` that would
intersect more than open objects; ``min/maxProperties`` beside optional properties beyond
llguidance's "at most / at least one of them") is a :class:`GrammarError` naming the keyword
and its path.
"""

from __future__ import annotations

import json
import math
from typing import Any

import jsonschema
import llguidance

from .. import ir
from ..errors import GrammarError, join_path
from ..fastjson import INTEGER, NUMBER, int_range
from ..schema import UNSUPPORTED, resolve_ref
from .lower import ANY, DFA, UNIVERSE, automaton, chars, dfa_rules, intersect, norm, regex_expr, spelled, subtract

COMPACT = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
TYPES = ("null", "boolean", "number", "string", "array", "object")
_SHORT = {'"': '"', "\\": "\\", "\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t"}
_CONTROLS: tuple[tuple[int, int], ...] = ((0, 0x1F), (0x7F, 0x7F))
_RAW = subtract(UNIVERSE, ((0x22, 0x22), (0x5C, 0x5C), (0, 0x1F), (0x7F, 0x7F)))
_HEX = ir.Chars(((48, 57), (65, 70), (97, 102)))
_KNOWN_TYPES = frozenset(TYPES) | {"integer"}
_REFUSED_BY_TYPE = {
    "string": {"format"},
    "number": {"multipleOf", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"},
}
_REFUSED = UNSUPPORTED  # keywords that constrain and that no grammar here enforces (oneOf, not, if...)


class _Unsat(Exception):
    """No JSON value satisfies this schema (llguidance drops optional ones, else fails)."""


def json_rules(schema: dict[str, Any], name: str) -> list[ir.Rule]:
    """Rules, ``name`` first, accepting exactly the JSON text ``%json schema`` accepts."""
    if not isinstance(schema, dict):
        raise GrammarError("a %json schema must be an object", path=name)
    style = schema.get("x-guidance", {})
    if {k: style.get(k) for k in COMPACT} != COMPACT or set(style) - set(COMPACT):
        raise GrammarError(f"only the compact %json style {COMPACT} is written as rules, not {style}",
                           path=join_path(name, "x-guidance"))
    root = {k: v for k, v in schema.items() if k != "x-guidance"}
    writer = _Writer(root, name)
    try:
        body = writer.value(root, "")
    except _Unsat as exc:
        raise GrammarError(f"the schema accepts no value: {exc}", path=name) from None
    return [ir.Rule(name, body), *writer.rules]


class _Writer:
    def __init__(self, root: Any, name: str) -> None:
        self.root = root
        self.name = name
        self.rules: list[ir.Rule] = []
        self.shared: dict[str, str] = {}  # what -> rule name (strings, any value, refs)
        self.count = 0

    def fail(self, what: str, path: str) -> GrammarError:
        return GrammarError(f"{what}: no exact plain rules for it", path=join_path(self.name, path))

    def rule(self, expr: ir.Expr, key: str | None = None) -> ir.Ref:
        """``expr`` as a new helper rule (shared under ``key`` when given)."""
        self.count += 1
        name = f"{self.name}-{self.count}"
        if key is not None:
            self.shared[key] = name
        self.rules.append(ir.Rule(name, expr))
        return ir.Ref(name)

    def placeholder(self, key: str) -> tuple[ir.Ref, int]:
        """A rule whose body comes later (recursion: a ``$ref`` reached again inside itself)."""
        ref = self.rule(ir.Seq(()), key)
        return ref, len(self.rules) - 1

    # -- values ----------------------------------------------------------------------------
    def value(self, schema: Any, path: str) -> ir.Expr:
        if schema is True or schema == {}:
            return self.any_value()
        if schema is False:
            raise _Unsat(f"false at {path or 'the root'}")
        if not isinstance(schema, dict):
            raise self.fail("a schema that is not an object", path)
        if "allOf" in schema:
            schema = self.all_of(schema, path)
            if schema is True or schema == {}:
                return self.any_value()
        for key in schema:
            if key in _REFUSED:
                raise self.fail(f"the keyword {key!r}", join_path(path, key))
        if "$ref" in schema:
            return self.ref(schema, path)
        if "anyOf" in schema:
            return self.any_of(schema, path)
        types = self.types(schema, path)
        if "enum" in schema or "const" in schema:
            return self.literals(schema, types, path)
        options = []
        for t in types:
            try:
                options.append(getattr(self, "_" + t)(schema, path))
            except _Unsat:
                if len(types) == 1:
                    raise
        if not options:
            raise _Unsat(f"no type of {types} is satisfiable at {path or 'the root'}")
        return options[0] if len(options) == 1 else ir.Alt(tuple(options))

    def types(self, schema: dict[str, Any], path: str) -> list[str]:
        t = schema.get("type")
        types = list(TYPES) if t is None else [t] if isinstance(t, str) else list(t)
        if not types or any(x not in _KNOWN_TYPES for x in types):
            raise self.fail(f"the type {t!r}", join_path(path, "type"))
        for x in types:
            for key in _REFUSED_BY_TYPE.get(x, ()):
                if key in schema:
                    raise self.fail(f"the keyword {key!r} on a {x}", join_path(path, key))
        return types

    def all_of(self, schema: dict[str, Any], path: str) -> Any:
        """allOf that intersects nothing: branches that allow anything dropped, and one left
        with no sibling keywords is that branch (llguidance merges the rest: refused)."""
        branches = schema["allOf"]
        if not isinstance(branches, list):
            raise self.fail("allOf that is not a list", join_path(path, "allOf"))
        if any(b is False for b in branches):
            raise _Unsat(f"allOf with false at {path or 'the root'}")
        kept = [b for b in branches if b is not True and b != {}]
        siblings = set(schema) - {"allOf", "$defs", "definitions", "$id", "$anchor"}
        if not kept:
            return {k: v for k, v in schema.items() if k != "allOf"}
        if len(kept) == 1 and not siblings:
            return kept[0]
        merged = self.merge_objects(schema, kept)
        if merged is None:
            raise self.fail("the keyword 'allOf' merging several schemas", join_path(path, "allOf"))
        return merged

    _MERGEABLE = frozenset({"type", "properties", "required", "additionalProperties", "$defs", "definitions",
                            "$id", "$anchor"})

    def merge_objects(self, schema: dict[str, Any], branches: list[Any]) -> dict[str, Any] | None:
        """allOf over open objects, merged as llguidance merges them: properties in order of
        appearance (the keys beside allOf where they stand), required likewise, every type
        ``object``.  None when anything else is involved (a clash, a closed part...)."""
        siblings = {k: v for k, v in schema.items() if k != "allOf"}
        parts = []
        for branch in branches:
            if isinstance(branch, dict) and set(branch) == {"$ref"}:
                try:
                    branch = resolve_ref(self.root, branch["$ref"])
                except (LookupError, TypeError):
                    return None
            parts.append(branch)
        keys = list(schema)
        first_sibling = min((keys.index(k) for k in siblings if k in ("properties", "required")), default=-1)
        if first_sibling >= 0:
            parts.insert(0 if first_sibling < keys.index("allOf") else len(parts), siblings)
        types: set[str] | None = None
        properties: dict[str, Any] = {}
        required: list[str] = []
        for part in [*parts, {"type": siblings["type"]} if "type" in siblings else {}]:
            if not isinstance(part, dict) or not set(part) <= self._MERGEABLE:
                return None
            if part.get("additionalProperties", True) is not True:
                return None
            if "type" in part:
                own = {part["type"]} if isinstance(part["type"], str) else set(part["type"])
                types = own if types is None else types & own
            for key, sub in (part.get("properties") or {}).items():
                if key in properties and properties[key] != sub:
                    if sub is True or sub == {}:
                        continue
                    if not (properties[key] is True or properties[key] == {}):
                        return None
                properties[key] = sub if key not in properties or sub not in (True, {}) else properties[key]
            required += [r for r in part.get("required") or [] if r not in required]
        if types != {"object"}:
            return None
        return {"type": "object", "properties": properties, "required": required}

    def typed(self, schema: dict[str, Any], branch: Any) -> dict[str, Any] | None:
        """``branch`` meeting a lone ``type`` beside it: the two type sets intersected."""
        if set(schema) - {"anyOf", "type", "$defs", "definitions", "$id", "$anchor"} or not isinstance(branch, dict):
            return None
        if set(branch) & {"$ref", "anyOf", "allOf", "oneOf"}:
            return None
        outer, inner = _type_set(schema.get("type")), _type_set(branch.get("type"))
        if outer is None or inner is None:
            return None
        both = sorted(_meet(outer, inner))
        return {**branch, "type": both} if both else False  # type: ignore[return-value]

    def typed_within(self, branch: Any, types: Any) -> bool:
        """Does ``branch`` (or the schema its $ref names) only allow values of ``types``?"""
        allowed = {types} if isinstance(types, str) else set(types) if isinstance(types, list) else set()
        if "number" in allowed:
            allowed.add("integer")
        for _ in range(8):  # a chain of $refs, followed a few steps
            if not isinstance(branch, dict) or set(branch) & {"anyOf", "allOf", "oneOf"}:
                return False
            if "$ref" not in branch:
                break
            try:
                branch = resolve_ref(self.root, branch["$ref"])
            except (LookupError, TypeError):
                return False
        if not isinstance(branch, dict) or "$ref" in branch:
            return False
        own = branch.get("type")
        own_set = {own} if isinstance(own, str) else set(own) if isinstance(own, list) else None
        return own_set is not None and bool(own_set) and own_set <= allowed

    def ref(self, schema: dict[str, Any], path: str) -> ir.Expr:
        extra = set(schema) - {"$ref", "$defs", "definitions", "$id", "$anchor"}
        if extra == {"type"} and self.typed_within({"$ref": schema["$ref"]}, schema["type"]):
            extra = set()
        if extra:
            raise self.fail(f"keywords beside $ref ({sorted(extra)}), which llguidance intersects",
                            join_path(path, sorted(extra)[0]))
        target = schema["$ref"]
        key = "$ref " + str(target)
        if key in self.shared:
            return ir.Ref(self.shared[key])
        try:
            node = resolve_ref(self.root, target)
        except (LookupError, TypeError):
            raise self.fail(f"the $ref {target!r} (only local JSON pointers)", join_path(path, "$ref")) from None
        ref, index = self.placeholder(key)
        body = self.value(node, str(target))
        self.rules[index] = ir.Rule(ref.name, body)
        return ref

    def any_of(self, schema: dict[str, Any], path: str) -> ir.Expr:
        extra = set(schema) - {"anyOf", "$defs", "definitions", "$id", "$anchor"}
        if extra == {"type"} and all(self.typed_within(b, schema["type"]) for b in schema["anyOf"]):
            extra = set()  # every branch already says a type the sibling allows: it adds nothing
        branches = schema["anyOf"]
        if extra:  # each branch meets the keywords beside it: open objects merge, else refused
            as_all_of = [{("allOf" if k == "anyOf" else k): ([b] if k == "anyOf" else v) for k, v in schema.items()}
                         for b in branches]
            branches = [b if b is False else self.merge_objects(m, [b]) or self.typed(schema, b)
                        for m, b in zip(as_all_of, branches)]
            if any(b is None for b in branches):
                raise self.fail(f"keywords beside anyOf ({sorted(extra)}), which llguidance intersects",
                                join_path(path, sorted(extra)[0]))
        options = []
        for i, branch in enumerate(branches):
            try:
                options.append(self.value(branch, join_path(path, f"anyOf[{i}]")))
            except _Unsat:
                continue
        if not options:
            raise _Unsat(f"every anyOf branch at {path or 'the root'}")
        return options[0] if len(options) == 1 else ir.Alt(tuple(options))

    def literals(self, schema: dict[str, Any], types: list[str], path: str) -> ir.Expr:
        """enum/const: the values that also satisfy the schema's other keywords (llguidance
        intersects them), each as its own text."""
        if "enum" in schema and "const" in schema:
            raise self.fail("enum beside const", join_path(path, "const"))
        rest = {k: v for k, v in schema.items() if k not in ("enum", "const", "type", "$defs", "definitions")}
        if set(rest) & {"$ref", "anyOf", "allOf", "oneOf", "pattern", "format", "multipleOf"}:
            raise self.fail(f"enum/const beside {sorted(rest)}, which llguidance intersects",
                            join_path(path, "enum" if "enum" in schema else "const"))
        check = jsonschema.Draft202012Validator(rest)
        values = [schema["const"]] if "const" in schema else schema["enum"]
        options = []
        for i, v in enumerate(values):
            kind = _kind(v)
            if (kind in types or (kind == "integer" and "number" in types)) and check.is_valid(v):
                options.append(self.constant(v, join_path(path, f"enum[{i}]")))
        if not options:
            raise _Unsat(f"no enum value fits at {path or 'the root'}")
        return options[0] if len(options) == 1 else ir.Alt(tuple(dict.fromkeys(options)))

    def constant(self, v: Any, path: str) -> ir.Expr:
        """One enum/const value: its compact text, strings spelled every way JSON escapes allow."""
        if v is None or isinstance(v, bool):
            return ir.Lit(json.dumps(v))
        if isinstance(v, int):
            if not abs(v) < 2**63:
                raise self.fail(f"the integer {v} (llguidance reads 64 bits)", path)
            return ir.Lit(str(v))
        if isinstance(v, float):
            raise self.fail(f"the number {v!r} (a non-integer constant; llguidance reads it as a range)", path)
        if isinstance(v, str):
            return ir.Seq((ir.Lit('"'), *[self.spelled(c) for c in v], ir.Lit('"')))
        if isinstance(v, list):
            items: list[ir.Expr] = [ir.Lit("[")]
            for i, x in enumerate(v):
                items += ([ir.Lit(", ")] if i else []) + [self.constant(x, join_path(path, f"[{i}]"))]
            return ir.Seq((*items, ir.Lit("]")))
        items = [ir.Lit("{")]
        for i, (k, x) in enumerate(v.items()):
            items += [ir.Lit((", " if i else "") + serde_string(k) + ": "), self.constant(x, join_path(path, k))]
        return ir.Seq((*items, ir.Lit("}")))

    def spelled(self, c: str) -> ir.Expr:
        """One character of a string value as JSON may write it."""
        return json_char(((ord(c), ord(c)),))

    # -- types -------------------------------------------------------------------------------
    def _null(self, schema: dict[str, Any], path: str) -> ir.Expr:
        return ir.Lit("null")

    def _boolean(self, schema: dict[str, Any], path: str) -> ir.Expr:
        return ir.Alt((ir.Lit("true"), ir.Lit("false")))

    def _number(self, schema: dict[str, Any], path: str) -> ir.Expr:
        return self.shared_regex("number", NUMBER)

    def _integer(self, schema: dict[str, Any], path: str) -> ir.Expr:
        low, high = self.integer_bounds(schema, path)
        if low is not None and high is not None and low > high:
            raise _Unsat(f"minimum {low} > maximum {high} at {path or 'the root'}")
        step = schema.get("multipleOf")
        if step is not None:
            if isinstance(step, bool) or not isinstance(step, (int, float)) or step != int(step) or not 0 < step <= 10_000:
                raise self.fail(f"multipleOf {step!r} on an integer (only whole steps up to 10000)",
                                join_path(path, "multipleOf"))
            dfa = automaton(ir.And((regex_expr(INTEGER if (low, high) == (None, None) else int_range(low, high)),
                                    _multiples(int(step)))))
            if not dfa.accept:
                raise _Unsat(f"no multiple of {step} in range at {path or 'the root'}")
            return self.dfa_rule(dfa)
        if low is None and high is None:
            return self.shared_regex("integer", INTEGER)
        return regex_expr(int_range(low, high))

    def shared_regex(self, key: str, pattern: str) -> ir.Expr:
        if key not in self.shared:
            self.rule(regex_expr(pattern), key)
        return ir.Ref(self.shared[key])

    def integer_bounds(self, schema: dict[str, Any], path: str) -> tuple[int | None, int | None]:
        """Integer bounds as llguidance reads them (draft 4's boolean exclusives included)."""
        def number(key: str) -> float | None:
            v = schema.get(key)
            if v is None or isinstance(v, bool):
                return None
            if not isinstance(v, (int, float)) or not abs(v) < 2**53:
                raise self.fail(f"the bound {v!r}", join_path(path, key))
            return v
        minimum, maximum = number("minimum"), number("maximum")
        ex_min = minimum if schema.get("exclusiveMinimum") is True else number("exclusiveMinimum")
        ex_max = maximum if schema.get("exclusiveMaximum") is True else number("exclusiveMaximum")
        lows = [math.ceil(minimum)] if minimum is not None else []
        lows += [math.floor(ex_min) + 1] if ex_min is not None else []
        highs = [math.floor(maximum)] if maximum is not None else []
        highs += [math.ceil(ex_max) - 1] if ex_max is not None else []
        return (max(lows) if lows else None), (min(highs) if highs else None)

    def _string(self, schema: dict[str, Any], path: str) -> ir.Expr:
        low = _count(schema.get("minLength"), 0)
        high = _count(schema.get("maxLength"), None)
        if high is not None and high < low:
            raise _Unsat(f"minLength {low} > maxLength {high} at {path or 'the root'}")
        if "pattern" not in schema:
            if (low, high) == (0, None):
                return self.string()
            return ir.Seq((ir.Lit('"'), ir.Repeat(self.char(), low, high), ir.Lit('"')))
        pattern = schema["pattern"]
        try:
            text = llguidance.regex_to_lark(pattern, "dw")
            expr = regex_expr(text, search=True)
            if (low, high) != (0, None):
                expr = ir.And((expr, ir.Repeat(ANY, low, high)))
            dfa = automaton(expr)
        except (GrammarError, ValueError) as exc:
            raise self.fail(f"the pattern {pattern!r} ({exc})", join_path(path, "pattern")) from None
        if not dfa.moves[0] and not dfa.accept:
            raise _Unsat(f"no string matches the pattern at {path or 'the root'}")
        self.count += 1
        rules = dfa_rules(dfa, f"{self.name}-{self.count}", label=json_char)
        self.rules += rules
        return ir.Seq((ir.Lit('"'), ir.Ref(rules[0].name), ir.Lit('"')))

    def char(self) -> ir.Ref:
        if "char" not in self.shared:
            self.rule(json_char(UNIVERSE), "char")
        return ir.Ref(self.shared["char"])

    def string(self) -> ir.Ref:
        if "string" not in self.shared:
            self.rule(ir.Seq((ir.Lit('"'), ir.Repeat(self.char(), 0, None), ir.Lit('"'))), "string")
        return ir.Ref(self.shared["string"])

    def _array(self, schema: dict[str, Any], path: str) -> ir.Expr:
        low = _count(schema.get("minItems"), 0)
        high = _count(schema.get("maxItems"), None)
        if high is not None and high < low:
            raise _Unsat(f"minItems {low} > maxItems {high} at {path or 'the root'}")
        prefix = schema.get("prefixItems") or []
        try:
            extra: ir.Expr | None = self.value(schema.get("items", True), join_path(path, "items"))
        except _Unsat:
            if len(prefix) < low:
                raise
            extra = None
        items: list[ir.Expr] = []
        for i in range(high if high is not None else max(len(prefix), low)):
            if i < len(prefix):
                try:
                    items.append(self.value(prefix[i], join_path(path, f"prefixItems[{i}]")))
                except _Unsat:
                    if i < low:
                        raise
                    high = i  # no more items can be written
                    break
            elif extra is not None:
                items.append(extra)
            else:
                break
        needed, optional = items[:low], items[low:]
        if high is None and extra is not None:  # any number of further items, as one optional piece
            optional.append(ir.Seq((ir.Repeat(ir.Seq((extra, ir.Lit(", "))), 0, None), extra)))
        body: list[ir.Expr] = []
        for i, item in enumerate(needed):
            body += [ir.Lit(", "), item] if i else [item]
        run = 0  # the trailing optional items that are all `items`: one bounded repeat
        while run < len(optional) and extra is not None and optional[len(optional) - 1 - run] is extra:
            run += 1
        distinct = optional[:len(optional) - run]
        more = ir.Repeat(ir.Seq((ir.Lit(", "), extra)), 0, run) if run else None  # type: ignore[arg-type]
        if not needed and not distinct and run:
            first = extra if run == 1 else ir.Seq((extra, ir.Repeat(ir.Seq((ir.Lit(", "), extra)), 0, run - 1)))
            body.append(ir.Repeat(first, 0, 1))  # type: ignore[arg-type]
        elif distinct:
            rest: ir.Expr | None = more
            for item in reversed(distinct[1:]):
                rest = ir.Repeat(ir.Seq((ir.Lit(", "), item, *([rest] if rest is not None else []))), 0, 1)
            first = ir.Seq((distinct[0], rest)) if rest is not None else distinct[0]
            body.append(ir.Repeat(ir.Seq((ir.Lit(", "), first)) if needed else first, 0, 1))
        elif more is not None:
            body.append(more)
        return self.rule(ir.Seq((ir.Lit("["), *body, ir.Lit("]"))))

    def _object(self, schema: dict[str, Any], path: str) -> ir.Expr:
        properties = schema.get("properties") or {}
        required = schema.get("required") or []
        additional = schema.get("additionalProperties", True)
        patterns = {p: self.key_pattern(p, join_path(path, f"patternProperties.{p}"))
                    for p in schema.get("patternProperties") or {}}
        members: list[tuple[ir.Expr, bool]] = []
        taken: list[str] = []
        for key in [*properties, *[r for r in required if r not in properties]]:
            for p, decoded in patterns.items():
                if _matches(decoded, key):
                    raise self.fail(f"the property {key!r} that patternProperties {p!r} also matches "
                                    "(llguidance intersects the two)", join_path(path, "patternProperties"))
            sub = properties[key] if key in properties else additional
            needed = key in required
            quoted = serde_string(key)
            taken.append(quoted)
            try:
                value = self.value(sub, join_path(path, f"properties.{key}"))
            except _Unsat:
                if needed:
                    raise
                continue
            members.append((ir.Seq((ir.Lit(quoted + ": "), value)), needed))
        options: list[ir.Expr] = []  # one further member: a pattern's key, or any other key
        quoted_patterns = []
        for p, decoded in patterns.items():
            quoted_patterns.append(spelled(decoded, json_char, '"', '"'))
            try:
                value = self.value(schema["patternProperties"][p], join_path(path, f"patternProperties.{p}"))
            except _Unsat:
                continue
            options.append(ir.Seq((self.dfa_rule(quoted_patterns[-1]), ir.Lit(": "), value)))
        try:
            extra = self.value(additional, join_path(path, "additionalProperties"))
        except _Unsat:
            extra = None
        if extra is not None:
            key_expr = self.other_key(taken, quoted_patterns) if taken or quoted_patterns else self.string()
            options.append(ir.Seq((key_expr, ir.Lit(": "), extra)))
        low, high = self.property_counts(schema, members, path)
        closed = not patterns and extra is None  # llguidance's condition for the two cases below
        if high is not None and any(not needed for _, needed in members):
            if not closed or high != 1 or low > 1:
                raise self.fail("maxProperties/minProperties beside optional properties (llguidance "
                                "only takes at most/at least one of them, with no further keys)",
                                join_path(path, "maxProperties"))
            return self.one_of_optional(members, exactly=low == 1)
        if low > 0 and any(not needed for _, needed in members):
            if not closed or low > 1:
                raise self.fail("minProperties beside optional properties (llguidance only takes "
                                "'at least one of them', with no further keys)", join_path(path, "minProperties"))
            return self.at_least_one(members)
        if options and high != 0:
            member = options[0] if len(options) == 1 else ir.Alt(tuple(options))
            count = ir.Repeat(ir.Seq((member, ir.Lit(", "))), max(low - 1, 0), None if high is None else high - 1)
            members.append((ir.Seq((count, member)), low > 0))
        elif low > 0:
            raise _Unsat(f"minProperties beyond the properties there can be at {path or 'the root'}")
        return self.rule(ir.Seq((ir.Lit("{"), *self.ordered(members), ir.Lit("}"))))

    def property_counts(self, schema: dict[str, Any], members: list[tuple[ir.Expr, bool]],
                        path: str) -> tuple[int, int | None]:
        """min/maxProperties less the required properties: what the other keys must make up."""
        required = sum(1 for _, needed in members if needed)
        try:
            low = _count(schema.get("minProperties"), 0)
            high = _count(schema.get("maxProperties"), None)
        except GrammarError as exc:
            raise self.fail(exc.message, join_path(path, "minProperties")) from None
        return max((low or 0) - required, 0), None if high is None else max(high - required, 0)

    def one_of_optional(self, members: list[tuple[ir.Expr, bool]], exactly: bool) -> ir.Expr:
        """At most (``exactly``: exactly) one optional property, beside the required ones."""
        options = [[(m, True) for k, (m, needed) in enumerate(members) if needed or k == i]
                   for i, (_, needed) in enumerate(members) if not needed]
        if not exactly:
            options.append([(m, True) for m, needed in members if needed])
        return ir.Alt(tuple(self.rule(ir.Seq((ir.Lit("{"), *self.ordered(o), ir.Lit("}")))) for o in options))

    def at_least_one(self, members: list[tuple[ir.Expr, bool]]) -> ir.Expr:
        """At least one optional property: one alternative per optional one made required."""
        options = [[(m, needed or k == i) for k, (m, needed) in enumerate(members)]
                   for i, (_, needed) in enumerate(members) if not needed]
        return ir.Alt(tuple(self.rule(ir.Seq((ir.Lit("{"), *self.ordered(o), ir.Lit("}")))) for o in options))

    def key_pattern(self, pattern: str, path: str) -> DFA:
        """A patternProperties key pattern, as llguidance reads it (a search), over characters."""
        try:
            return automaton(regex_expr(llguidance.regex_to_lark(pattern, "dw"), search=True))
        except (GrammarError, ValueError) as exc:
            raise self.fail(f"the pattern {pattern!r} ({exc})", path) from None

    def dfa_rule(self, dfa: DFA) -> ir.Ref:
        self.count += 1
        rules = dfa_rules(dfa, f"{self.name}-{self.count}")
        self.rules += rules
        return ir.Ref(rules[0].name)

    def ordered(self, members: list[tuple[ir.Expr, bool]]) -> tuple[ir.Expr, ...]:
        """Members in order, ``", "`` only between those present; optional ones skippable.

        ``rest[i]``: members i.. after one came before, each suffix a shared rule when wide.
        """
        if not members:
            return ()
        rest: list[ir.Expr | None] = [None] * (len(members) + 1)
        for i in range(len(members) - 1, -1, -1):
            expr, needed = members[i]
            step: ir.Expr = ir.Seq((ir.Lit(", "), expr))
            if not needed:
                step = ir.Repeat(step, 0, 1)
            seq = ir.Seq((step, rest[i + 1])) if rest[i + 1] is not None else step
            rest[i] = self.rule(seq) if len(members) > 3 and i > 0 else seq
        firsts: list[ir.Expr] = []
        for i, (expr, needed) in enumerate(members):
            firsts.append(ir.Seq((expr, rest[i + 1])) if rest[i + 1] is not None else expr)
            if needed:
                return (ir.Alt(tuple(firsts)) if len(firsts) > 1 else firsts[0],)
        return (ir.Repeat(ir.Alt(tuple(firsts)) if len(firsts) > 1 else firsts[0], 0, 1),)

    def other_key(self, taken: list[str], patterns: list[DFA] = ()) -> ir.Ref:  # type: ignore[assignment]
        """A key that is none of ``taken`` as spelled nor a pattern's key (any ``\\uXXXX``
        allowed, as llguidance does there)."""
        key = "key " + json.dumps(taken)
        if patterns or key not in self.shared:
            spellings = ir.Alt((*(ir.Lit(t) for t in taken), *patterns))  # type: ignore[arg-type]
            ref = self.dfa_rule(automaton(ir.And((_GENERAL_STRING, ir.Not(spellings)))))
            if patterns:
                return ref
            self.shared[key] = ref.name
        return ir.Ref(self.shared[key])

    def any_value(self) -> ir.Ref:
        """Any JSON value (llguidance's: keys plain strings, no ``\\uXXXX`` beyond controls)."""
        if "any" in self.shared:
            return ir.Ref(self.shared["any"])
        ref, index = self.placeholder("any")
        member = ir.Seq((self.string(), ir.Lit(": "), ref))
        body = ir.Alt((
            ir.Lit("null"), ir.Lit("true"), ir.Lit("false"), self.shared_regex("number", NUMBER), self.string(),
            ir.Seq((ir.Lit("["), ir.Repeat(ir.Seq((ref, ir.Repeat(ir.Seq((ir.Lit(", "), ref)), 0, None))), 0, 1),
                    ir.Lit("]"))),
            ir.Seq((ir.Lit("{"), ir.Repeat(ir.Seq((member, ir.Repeat(ir.Seq((ir.Lit(", "), member)), 0, None))),
                                           0, 1), ir.Lit("}"))),
        ))
        self.rules[index] = ir.Rule(ref.name, body)
        return ref


def json_char(cs) -> ir.Expr:
    """The characters of ``cs`` as JSON string content: raw where JSON allows, else escaped
    (``\\"``, ``\\\\``, ``\\b``... and ``\\u00XX`` in either case for controls and DEL)."""
    options: list[ir.Expr] = []
    raw = intersect(norm(cs), _RAW)
    if raw:
        options.append(chars(raw))
    for c, letter in _SHORT.items():
        if intersect(norm(cs), ((ord(c), ord(c)),)):
            options.append(ir.Lit("\\" + letter))
    controls = intersect(norm(cs), _CONTROLS)
    if controls == _CONTROLS:
        low = ir.Seq((ir.Chars(((48, 49),)), _HEX))  # 00-1f
        delete = ir.Seq((ir.Lit("7"), _hex_digit(15)))  # 7f
        options.append(ir.Seq((ir.Lit("\\u00"), ir.Alt((low, delete)))))
    else:
        for lo, hi in controls:
            for cp in range(lo, hi + 1):
                options.append(ir.Seq((ir.Lit(f"\\u00{cp >> 4:x}"), _hex_digit(cp & 15))))
    if not options:
        return ir.Chars(())
    return options[0] if len(options) == 1 else ir.Alt(tuple(options))


def _hex_digit(n: int) -> ir.Expr:
    d = f"{n:x}"
    return ir.Lit(d) if d.isdigit() else ir.Chars(((ord(d.upper()), ord(d.upper())), (ord(d), ord(d))))


# A JSON string where any \uXXXX may stand for a character (a surrogate only in a pair).
_GENERAL_STRING = regex_expr(
    r'"(?:[^"\\\x00-\x1F\x7F]|\\["\\bfnrt]|\\u(?:[0-9a-cA-C][0-9a-fA-F]{3}|[eEfF][0-9a-fA-F]{3}'
    r'|[dD][0-7][0-9a-fA-F]{2}|[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}))*"')


def serde_string(text: str) -> str:
    """A key as llguidance writes a named property (serde_json): short escapes, other
    controls as lower-case ``\\u00xx``, everything else (DEL, non-ASCII) raw."""
    out = ['"']
    for c in text:
        if c in _SHORT:
            out.append("\\" + _SHORT[c])
        elif ord(c) < 0x20:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def _multiples(step: int) -> DFA:
    """Decimal integers (a ``-`` allowed first) divisible by ``step``: the remainder so far is the state."""
    digits = [(d, ((48 + d, 48 + d),)) for d in range(10)]

    def moves(remainder: int | None) -> list:
        by_target: dict[int, list] = {}
        for d, cs in digits:
            by_target.setdefault(2 + ((remainder or 0) * 10 + d) % step, []).extend(cs)
        return [(norm(r), t) for t, r in by_target.items()]

    table = [[(((45, 45),), 1), *moves(None)], moves(None)] + [moves(r) for r in range(step)]
    return DFA(table, {2})


def _type_set(t: Any) -> set[str] | None:
    """A ``type`` as a set (absent: every type; integer kept apart from number)."""
    if t is None:
        return set(TYPES) | {"integer"}
    types = {t} if isinstance(t, str) else set(t) if isinstance(t, list) else None
    return types if types is not None and types <= _KNOWN_TYPES else None


def _meet(a: set[str], b: set[str]) -> set[str]:
    """Types both allow: an integer is a number."""
    out = a & b
    if ("integer" in a and "number" in b) or ("number" in a and "integer" in b):
        out.add("integer")
    return out


def _matches(d: DFA, text: str) -> bool:
    """Does the automaton ``d`` take the whole of ``text``?"""
    state = 0
    for c in text:
        for cs, t in d.moves[state]:
            if any(lo <= ord(c) <= hi for lo, hi in cs):
                state = t
                break
        else:
            return False
    return state in d.accept


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    return "array" if isinstance(v, list) else "object"


def _count(value: Any, default: int | None) -> int | None:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != int(value):
        raise GrammarError(f"a count {value!r} that is not a natural number")
    return int(value)
