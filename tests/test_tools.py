"""load_tools(): every tool dialect normalized to one Tool type, with errors that name the JSON path."""

from __future__ import annotations

import json

import pytest

from grammargen import InputError, ToolError, load_tools

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}

DIALECTS = {
    "chat-completions": [{"type": "function", "function": {"name": "w", "description": "d", "parameters": SCHEMA}}],
    "responses": [{"type": "function", "name": "w", "description": "d", "parameters": SCHEMA}],
    "bare": [{"name": "w", "description": "d", "parameters": SCHEMA}],
    "mcp": [{"name": "w", "description": "d", "inputSchema": SCHEMA}],
    "anthropic": [{"name": "w", "description": "d", "input_schema": SCHEMA}],
    "legacy-flat-map": [{"name": "w", "description": "d", "parameters": {"city": {"type": "string"}}}],
    "wrapper": {"tools": [{"type": "function", "function": {"name": "w", "description": "d", "parameters": SCHEMA}}]},
}


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_dialects_normalize_to_the_same_tool(dialect: str) -> None:
    """Each dialect yields the same name, description and object schema."""
    (tool,) = load_tools(DIALECTS[dialect])
    assert (tool.name, tool.description) == ("w", "d")
    assert tool.parameters["type"] == "object"
    assert tool.parameters["properties"] == {"city": {"type": "string"}}
    assert tool.parameters["required"] == ["city"]


def test_json_string_and_path_sources(tmp_path) -> None:
    """A JSON string and a file path load the same tools; errors then name the file."""
    text = json.dumps(DIALECTS["bare"])
    file = tmp_path / "tools.json"
    file.write_text(text)
    assert load_tools(text) == load_tools(file) == load_tools(str(file))
    file.write_text('[{"name": 1}]')
    with pytest.raises(ToolError) as info:
        load_tools(file)
    assert str(info.value) == f"{file}: tools[0].name: tool name must be a string"


def test_legacy_map_makes_every_parameter_required() -> None:
    """The Phi-4 guide's flat parameter map becomes an object schema with all params required."""
    (tool,) = load_tools([{"name": "b", "parameters": {"a": {"type": "string"}, "b": {"type": "integer"}}}])
    assert tool.parameters == {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
                               "required": ["a", "b"]}


@pytest.mark.parametrize(("bfcl", "schema"), [
    ("dict", {"type": "object"}), ("float", {"type": "number"}), ("tuple", {"type": "array"}),
    ("any", {}), ("String", {"type": "string"}), ("HashMap", {"type": "object"}),
    ("ArrayList", {"type": "array"}), ("long", {"type": "integer"}), ("Boolean", {"type": "boolean"}),
    ("char", {"type": "string"}), ("double", {"type": "number"}),
])
def test_bfcl_types_map_to_json_schema(bfcl: str, schema: dict) -> None:
    """BFCL's and Java/JS type names become JSON Schema types (any: no type constraint)."""
    (tool,) = load_tools([{"name": "math.factorial", "parameters": {
        "type": "dict", "properties": {"v": {"type": bfcl, "description": "x"}}, "required": ["v"]}}])
    assert tool.name == "math.factorial"
    assert tool.parameters["type"] == "object"
    assert {k: v for k, v in tool.parameters["properties"]["v"].items() if k != "description"} == schema


def test_draft4_tuple_items_become_prefix_items() -> None:
    """Old tuple-form items (a list) becomes prefixItems, additionalItems becomes items."""
    (tool,) = load_tools([{"name": "t", "parameters": {"type": "object", "properties": {
        "p": {"type": "tuple", "items": [{"type": "integer"}, {"type": "string"}], "additionalItems": False}}}}])
    assert tool.parameters["properties"]["p"] == {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}],
                                                  "items": False}


@pytest.mark.parametrize(("tools", "error", "path", "message"), [
    ([], InputError, "", "the tool list is empty"),
    ({"tools": "x"}, InputError, "", "expected a JSON array"),
    ([3], InputError, "tools[0]", "a tool must be a JSON object"),
    ([{"description": "x"}], ToolError, "tools[0].name", "missing tool name"),
    ([{"name": ""}], ToolError, "tools[0].name", "tool name is empty"),
    ([{"name": "a\nb"}], ToolError, "tools[0].name", "control character"),
    ([{"name": "a"}, {"type": "function", "function": {"name": "a"}}], ToolError, "tools[1].function.name", "duplicate tool name 'a'"),
    ([{"name": "a", "parameters": []}], ToolError, "tools[0].parameters", "must be a JSON object"),
    ([{"name": "a", "parameters": {"type": "object", "properties": {"u": {"type": "strnig"}}}}], ToolError,
     "tools[0].parameters.properties.u.type", "invalid JSON Schema"),
    ([{"name": "a", "description": 5}], ToolError, "tools[0].description", "must be a string"),
    ([{"type": "web_search"}], ToolError, "tools[0].type", "only function tools"),
], ids=["empty", "wrapper-not-list", "entry-not-object", "missing-name", "empty-name", "control-char",
        "duplicate", "params-not-object", "bad-type", "bad-description", "not-a-function"])
def test_bad_tools_name_the_path(tools: object, error: type, path: str, message: str) -> None:
    """Each invalid tool list raises the documented error at the JSON path of the problem."""
    with pytest.raises(error) as info:
        load_tools(tools)
    assert info.value.path == path
    assert message in info.value.message


def test_names_with_dots_and_unicode_are_accepted() -> None:
    """Any non-empty name without control characters is a valid tool name."""
    names = ["math.factorial", "a b", "naïve-ツール", 'q"uote']
    assert [t.name for t in load_tools([{"name": n} for n in names])] == names


@pytest.mark.parametrize(("raw", "message"), [
    (b"{not json", "invalid JSON at line 1 column 2"),
    (b"\xff\xfe\x00garbage", "not UTF-8 text"),
], ids=["invalid-json", "binary"])
def test_unreadable_input(tmp_path, raw: bytes, message: str) -> None:
    """Bytes that are not JSON raise InputError naming the file."""
    file = tmp_path / "t.json"
    file.write_bytes(raw)
    with pytest.raises(InputError) as info:
        load_tools(file)
    assert info.value.source == str(file) and message in info.value.message


def test_missing_file(tmp_path) -> None:
    """A path that does not exist is an InputError naming it."""
    with pytest.raises(InputError, match="cannot read file"):
        load_tools(tmp_path / "nope.json")


def test_strict_flag_and_openai_round_trip() -> None:
    """strict is kept, and to_openai() gives back a Chat Completions tool."""
    (tool,) = load_tools([{"type": "function", "function": {"name": "d", "strict": True, "parameters": SCHEMA}}])
    assert tool.strict
    assert tool.to_openai() == {"type": "function", "function": {"name": "d", "parameters": SCHEMA, "strict": True}}


def test_fast_metaschema_agrees_with_jsonschema() -> None:
    """The merged 2020-12 metaschema judges schemas exactly as jsonschema's check_schema does."""
    import jsonschema

    from conftest import SHARED
    from grammargen.schema import metaschema_2020

    schemas = [{"type": "strnig"}, {"type": "object", "properties": {"a": {"minLength": -1}}}, {"pattern": "("},
               {"$defs": {"x": {"enum": 3}}}, {"prefixItems": [{"type": "integer"}], "items": False},
               {"anyOf": []}, {"required": "a"}, True, {"type": ["string", "null"], "maxLength": 3}]
    corpus = SHARED / "corpus" / "jsonschemabench" / "schemas.jsonl"
    if corpus.is_file():
        import json

        schemas += [json.loads(line)["schema"] for line in corpus.read_text().splitlines()]
    fast = metaschema_2020()
    for schema in schemas:
        if isinstance(schema, dict) and "$schema" in schema:
            continue
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
            expected = None
        except jsonschema.SchemaError as exc:
            expected = (exc.message, list(exc.absolute_path))
        error = jsonschema.exceptions.best_match(fast.iter_errors(schema))
        assert (None if error is None else (error.message, list(error.absolute_path))) == expected, schema


def test_metaschema_verdicts_match_jsonschema_on_the_corpus() -> None:
    """load_tools asks jsonschema-rs first: on every corpus schema it accepts and refuses what
    jsonschema's own check_schema does, and a refusal carries jsonschema's message and path."""
    import json

    import jsonschema

    from conftest import SHARED
    from grammargen.schema import _metaschema_error

    schemas = [{"type": "strnig"}, {"properties": {"a": {"minLength": -1}}}, {"pattern": "("},
               {"$schema": "http://json-schema.org/draft-07/schema#", "type": "strnig"},
               {"$schema": "http://json-schema.org/draft-04/schema#", "required": []}]
    corpus = SHARED / "corpus" / "jsonschemabench" / "schemas.jsonl"
    if corpus.is_file():
        schemas += [json.loads(line)["schema"] for line in corpus.read_text().splitlines()]
    for schema in schemas:
        if not isinstance(schema, dict):
            continue
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        try:
            cls.check_schema(schema)
            expected = None
        except jsonschema.SchemaError as exc:
            expected = exc.message
        message, _ = _metaschema_error(schema)
        assert (message is None) == (expected is None), (schema, message, expected)


def test_patterns_are_ecma_regexes() -> None:
    """A Unicode property class is a valid JSON Schema pattern (ECMA-262), loaded and enforced."""
    from grammargen import Sample, compile, validate

    tools = [{"name": "f", "parameters": {"type": "object", "properties": {"w": {"type": "string",
                                                                            "pattern": "^\\p{L}+$"}},
                                          "required": ["w"]}}]
    report = validate(compile(tools, "json", tool_choice="required"),
                      [Sample('[{"name": "f", "arguments": {"w": "héllo"}}]'),
                       Sample('[{"name": "f", "arguments": {"w": "h3"}}]', "reject")])
    assert report.ok, [r.to_json() for r in report.failures]


def test_loading_leaves_the_input_untouched() -> None:
    """BFCL type names are mapped in a copy: the caller's tool list is not changed."""
    import copy

    raw = [{"name": "f", "parameters": {"type": "dict", "properties": {"n": {"type": "float", "enum": [1.5]},
                                                                      "t": {"type": "tuple", "items": [{}]}}}}]
    before = copy.deepcopy(raw)
    (tool,) = load_tools(raw)
    assert raw == before
    assert tool.parameters["properties"]["n"]["type"] == "number"
    tool.parameters["properties"]["n"]["enum"].append(2.5)
    assert raw == before


def test_loaded_tools_pass_through() -> None:
    """A list of already-loaded Tools is returned as it is, so every entry point takes either."""
    tools = load_tools(DIALECTS["bare"])
    assert load_tools(tools) == tools


def test_resolve_ref_follows_json_pointers() -> None:
    """Local $refs resolve with JSON-pointer escapes and array indices; a dangling one is a LookupError."""
    from grammargen.schema import resolve_ref

    root = {"$defs": {"a/b": {"type": "integer"}, "list": [{"type": "string"}]}}
    assert resolve_ref(root, "#/$defs/a~1b") == {"type": "integer"}
    assert resolve_ref(root, "#/$defs/list/0") == {"type": "string"}
    assert resolve_ref(root, "#") is root
    for bad in ("#/$defs/missing", "other.json#/x"):
        with pytest.raises(LookupError):
            resolve_ref(root, bad)
