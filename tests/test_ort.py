"""Real guided generation with onnxruntime-genai on a tiny in-process model, for every format.

The model (tests/tinymodel.py) has random weights: whatever it emits is valid only because
the grammar forces it, so these tests prove the grammars work in the runtime users run.
Test schemas are closed (enums, maxLength, maxItems, bounded integers) so noise cannot run
to max_length inside a value.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import grammargen
from grammargen.errors import GrammarError, InputError
from grammargen.parse import parse
from grammargen.profiles import Profile, get_profile
from grammargen.prompt import prompt
from grammargen.tokenizer import load_tokenizer

og = pytest.importorskip("onnxruntime_genai", reason="onnxruntime-genai is not installed (extra: ort)")
pytest.importorskip("onnx", reason="onnx is not installed (extra: ort)")

from grammargen import ort  # noqa: E402  (after the importorskip guards)

import tinymodel  # noqa: E402

TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "enum": ["Paris", "Tokyo", "Lima"]},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city", "unit"]}}},
    {"type": "function", "function": {
        "name": "search", "description": "Search the web",
        "parameters": {"type": "object", "properties": {
            "query": {"type": "string", "maxLength": 6},
            "limit": {"type": "integer", "minimum": 1, "maximum": 9},
            "tags": {"type": "array", "items": {"type": "string", "enum": ["news", "maps"]},
                     "maxItems": 2}},
            "required": ["query"]}}},
]
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
PROMPT_USER = "What is the weather in Paris?"
MAX_NEW = 300

CHOICES = {
    "required": {"tool_choice": "required", "max_calls": 2},
    "named": {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}, "max_calls": 2},
    "parallel-off": {"tool_choice": "required", "parallel_tool_calls": False},
}


class Models:
    """One tiny model folder per (format, markers special or not), built and loaded once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.loaded: dict[tuple[str, bool], tuple[Any, ort.ModelFolder]] = {}

    def get(self, profile: Profile, special: bool = True) -> tuple[Any, ort.ModelFolder]:
        key = (profile.name, special)
        if key not in self.loaded:
            folder = self.root / f"{profile.name}-{'special' if special else 'plain'}"
            # the format's own characters are whole tokens, as in its real vocabulary (tinymodel)
            written = grammargen.render([{"name": "search", "arguments": {"query": "x"}}], profile.name)
            # every special token the profile lists, those only an encoding writes too (<|"|>)
            tokens = list(dict.fromkeys([*profile.markers, *profile.special]))
            tinymodel.build_model(folder, tokens, special=special, prefer=profile.markers[:1], text=written)
            self.loaded[key] = (og.Model(str(folder)), ort.read_model_folder(folder))
        return self.loaded[key]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    """Tiny onnxruntime-genai models, shared by the tests of this module."""
    return Models(tmp_path_factory.mktemp("tiny-models"))


def prompt_ids(folder: ort.ModelFolder, profile: Profile) -> list[int]:
    """The encoded prompt: grammargen's system text for the tools, then the user's question."""
    text = prompt(TOOLS, profile) + PROMPT_USER
    return folder.tokenizer.encode(text)


def run(models: Models, fmt: str, *, special: bool = True, ff: bool = False,
        tokenizer: Any = "folder", max_new_tokens: int = MAX_NEW,
        **options: Any) -> tuple[ort.Generation, grammargen.Grammar]:
    """Compile for the tiny model of ``fmt`` and generate greedily under the grammar."""
    profile = get_profile(fmt)
    model, folder = models.get(profile, special)
    grammar = grammargen.compile(TOOLS, fmt, tokenizer=folder.path if tokenizer == "folder" else tokenizer,
                                 **options)
    result = ort.generate(model, grammar, prompt_ids(folder, profile), folder=folder,
                          max_new_tokens=max_new_tokens, enable_ff_tokens=ff)
    return result, grammar


def calls_of(text: str, fmt: str) -> list[dict[str, Any]]:
    """The calls grammargen.parse reads from ``text``, arguments decoded from their JSON string."""
    message = parse(text, fmt, tools=TOOLS)
    assert not message.content, f"text beside the calls: {message.content!r}"
    return [{"name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])}
            for c in message.tool_calls]


def tail_of(profile: Profile) -> str:
    """The literal text every call section ends with (empty when EOS alone ends it)."""
    pieces = list(profile.end)
    if not pieces:
        for piece in reversed(profile.call):
            if piece.kind not in ("text", "marker"):
                break
            pieces.insert(0, piece)
    return "".join(p.value for p in pieces if p.kind in ("text", "marker"))


@pytest.mark.parametrize("choice", list(CHOICES), ids=list(CHOICES))
@pytest.mark.parametrize("fmt", grammargen.formats())
def test_guided_generation_yields_valid_calls(models: Models, fmt: str, choice: str) -> None:
    """A random model under the grammar stops by itself with calls that parse and match their schemas."""
    result, _ = run(models, fmt, **CHOICES[choice])
    assert result.finished, f"ran to max_length: {result.text!r}"
    profile = get_profile(fmt)
    text = next((result.text.removesuffix(a) for a in profile.after_calls if result.text.endswith(a)), result.text)
    assert text.endswith(tail_of(profile))  # a trailing newline (what after_calls allows) is allowed
    calls = calls_of(result.text, fmt)
    assert calls
    for call in calls:
        jsonschema.validate(call["arguments"], SCHEMAS[call["name"]])
    if choice == "named":
        assert {c["name"] for c in calls} == {"get_weather"}
    if choice == "parallel-off":
        assert len(calls) == 1
    else:
        assert len(calls) <= 2


@pytest.mark.parametrize("fmt", grammargen.formats())
def test_markers_not_flagged_special_are_referenced_by_id(models: Models, fmt: str) -> None:
    """With markers added as plain (non-special) tokens the grammar uses their ids and still works."""
    result, grammar = run(models, fmt, special=False, tool_choice="required", max_calls=2)
    assert set(grammar.markers.values()) <= {"id", "text"}
    assert result.finished
    for call in calls_of(result.text, fmt):
        jsonschema.validate(call["arguments"], SCHEMAS[call["name"]])


@pytest.mark.parametrize("fmt", grammargen.formats())
def test_fast_forward_tokens_take_fewer_steps_for_the_same_output(models: Models, fmt: str) -> None:
    """enable_ff_tokens=True produces the identical output in fewer generate steps."""
    plain, _ = run(models, fmt, tool_choice="required", max_calls=2)
    fast, _ = run(models, fmt, tool_choice="required", max_calls=2, ff=True)
    assert fast.text == plain.text
    assert fast.token_ids == plain.token_ids
    assert fast.steps < plain.steps


def test_forced_text_split_inside_a_character_breaks_the_runtime(tmp_path: Path) -> None:
    """The runtime limit the tiny vocabulary's merges avoid: a forced character spelled by byte
    tokens makes onnxruntime-genai's tokenize callback read half a character, and generation fails.

    DeepSeek V3.2's DSML tags are forced text holding ``｜``; its real vocabulary has the whole
    character (id 28217), so the grammar runs there.  When this starts passing generation,
    onnxruntime-genai has fixed its callback.
    """
    profile = get_profile("deepseekv32")
    folder = tmp_path / "bytes-only"
    tinymodel.build_model(folder, profile.markers, prefer=profile.markers[:1])  # no merges: ｜ is 3 tokens
    model, info = og.Model(str(folder)), ort.read_model_folder(folder)
    grammar = grammargen.compile(TOOLS, "deepseekv32", tokenizer=folder, tool_choice="required")
    with pytest.raises(GrammarError, match="forced bytes"):
        ort.generate(model, grammar, prompt_ids(info, profile), folder=info, max_new_tokens=40)


def test_id_references_work_when_the_marker_is_special(models: Models) -> None:
    """A grammar naming markers by id (<[id]>) runs on a model whose markers are special tokens."""
    profile = get_profile("phi4-mini")
    plain_folder = models.get(profile, special=False)[1]
    result, grammar = run(models, "phi4-mini", special=True, tokenizer=plain_folder.path,
                          tool_choice="required", parallel_tool_calls=False)
    assert grammar.markers["<|tool_call|>"] == "id"
    assert result.finished
    assert result.text.startswith("<|tool_call|>[")


def test_special_references_fail_to_load_when_the_marker_is_not_special(models: Models) -> None:
    """A grammar naming <|tool_call|> as a special token is refused by a model where it is not special."""
    with pytest.raises(GrammarError, match="could not load.*unknown special token"):
        run(models, "phi4-mini", special=False, tokenizer=None, tool_choice="required")


def test_quoted_markers_fail_generation_when_the_marker_is_special(models: Models) -> None:
    """A grammar spelling the marker as quoted text fails mid-generation on a model where it is special."""
    no_markers = load_tokenizer(None, get_profile("json"))
    with pytest.raises(GrammarError, match="compile with tokenizer= this model folder"):
        run(models, "phi4-mini", special=True, tokenizer=no_markers, tool_choice="required")


def test_generation_keeps_special_tokens_in_the_text(models: Models) -> None:
    """The decoded output keeps the special markers the runtime's own decode drops."""
    profile = get_profile("phi4-mini")
    model, _ = models.get(profile)
    result, _ = run(models, "phi4-mini", tool_choice="required", parallel_tool_calls=False)
    runtime_text = og.Tokenizer(model).decode(list(result.token_ids))
    assert "<|tool_call|>" not in runtime_text
    assert result.text.startswith("<|tool_call|>") and result.text.endswith("<|/tool_call|>")


def test_model_folder_gives_marker_forms_and_eos(models: Models) -> None:
    """read_model_folder reads the EOS id and context length, and compile follows its tokenizer."""
    profile = get_profile("qwen25")
    folder = models.get(profile)[1]
    assert folder.eos_token_ids == (folder.tokenizer.hf.token_to_id(tinymodel.EOS),)
    assert folder.context_length == 4096
    grammar = grammargen.compile(TOOLS, "qwen25", tokenizer=folder.tokenizer)
    assert grammar.markers["<tool_call>"] == "special"


def test_read_model_folder_rejects_a_folder_without_genai_config(tmp_path: Path) -> None:
    """A folder that is not an onnxruntime-genai model is reported, not half-read."""
    with pytest.raises(InputError, match="no genai_config.json"):
        ort.read_model_folder(tmp_path)


def test_broken_grammar_is_reported_with_its_location(models: Models) -> None:
    """A grammar the runtime refuses raises GrammarError quoting llguidance's location."""
    profile = get_profile("json")
    model, folder = models.get(profile)
    broken = grammargen.Grammar(lark="start: missing_rule\n", format="json", tool_names=())
    with pytest.raises(GrammarError, match=r"could not load the json grammar.*at 1\(8\)"):
        ort.generate(model, broken, [1, 2], folder=folder, max_new_tokens=4)


def test_without_the_grammar_the_same_model_makes_no_calls(models: Models) -> None:
    """Control: unguided, the tiny model's output holds no valid call, so the grammar is what works."""
    profile = get_profile("phi4-mini")
    model, folder = models.get(profile)
    result = ort.generate(model, None, prompt_ids(folder, profile), folder=folder,
                          max_new_tokens=60)
    try:
        calls = parse(result.text, "phi4-mini", tools=TOOLS).tool_calls
    except grammargen.OutputParseError:
        calls = []
    assert calls == []


def test_fast_forward_past_the_token_budget_stops_cleanly(models: Models) -> None:
    """A forced run that crosses max_new_tokens ends the generation unfinished instead of crashing."""
    result, _ = run(models, "phi4-mini", ff=True, tool_choice="required", max_calls=2, max_new_tokens=30)
    assert not result.finished
    assert 30 <= len(result.token_ids) < MAX_NEW
    assert result.text.startswith('<|tool_call|>[{"name": "')


EXAMPLE_TOOLS = {
    "weather": [{"type": "function", "function": {
        "name": "get_weather", "description": "Current weather",
        "parameters": {"type": "object", "properties": {
            "location": {"type": "string", "enum": ["Paris", "Tokyo"]},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["location", "unit"]}}}],
    "travel": [
        {"name": "booking_flight_tickets", "description": "booking flights", "parameters": {
            "type": "object", "properties": {
                "origin_airport_code": {"type": "string", "enum": ["PEK", "CDG"]},
                "destination_airport_code": {"type": "string", "enum": ["PEK", "CDG"]},
                "departure_date": {"type": "string", "enum": ["2025-12-04"]},
                "return_date": {"type": "string", "enum": ["2025-12-10"]}},
            "required": ["origin_airport_code", "destination_airport_code", "departure_date",
                         "return_date"]}},
        {"name": "booking_hotels", "description": "booking hotel", "parameters": {
            "type": "object", "properties": {
                "destination": {"type": "string", "maxLength": 8},
                "check_in_date": {"type": "string", "enum": ["2025-12-04"]},
                "checkout_date": {"type": "string", "enum": ["2025-12-10"]}},
            "required": ["destination", "check_in_date", "checkout_date"]}}],
}
EXAMPLE_RUNS = [
    pytest.param("phi4_onnx_guide.py", "travel", ["--max-calls", "2"], '"tool_calls": [', id="phi4-guide"),
    pytest.param("multi_turn.py", "weather", ["--max-new-tokens", "120"], "turn 2, final answer:",
                 id="multi-turn"),
    pytest.param("parallel_calls.py", "travel", ["--max-calls", "2", "--max-new-tokens", "400"],
                 "call(s) ran concurrently", id="parallel"),
]


@pytest.mark.parametrize(("script", "tools", "extra", "expected"), EXAMPLE_RUNS)
def test_examples_run_against_the_tiny_model(models: Models, tmp_path: Path, script: str,
                                              tools: str, extra: list[str], expected: str) -> None:
    """Each example script runs end to end on a model folder and prints its parsed result."""
    import subprocess
    import sys

    folder = models.get(get_profile("phi4-mini"))[1]
    tools_file = tmp_path / f"{tools}.json"
    tools_file.write_text(json.dumps(EXAMPLE_TOOLS[tools]), encoding="utf-8")
    examples = Path(__file__).resolve().parent.parent / "examples"
    done = subprocess.run([sys.executable, str(examples / script), str(folder.path), "--tools",
                           str(tools_file), *extra], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert expected in done.stdout


def test_cli_travel_grammar_is_accepted_by_set_guidance(models: Models, examples: Path) -> None:
    """The grammar `grammargen compile examples/travel_tools.json` prints loads in onnxruntime-genai and guides a call."""
    from click.testing import CliRunner

    from grammargen.cli import main

    printed = CliRunner().invoke(main, ["compile", str(examples / "travel_tools.json"), "--tool-choice", "required"])
    assert printed.exit_code == 0
    model, folder = models.get(get_profile("phi4-mini"))
    params = og.GeneratorParams(model)
    params.set_search_options(max_length=600)
    params.set_guidance("lark_grammar", printed.output)
    generator = og.Generator(model, params)
    generator.append_tokens(folder.tokenizer.encode("Book a flight and a hotel."))
    while not generator.is_done():
        generator.generate_next_token()
    text = folder.tokenizer.decode(list(generator.get_sequence(0))[len(folder.tokenizer.encode("Book a flight and a hotel.")):])
    # The travel strings are unbounded, so random weights may not finish a call before
    # max_length; what they wrote must still be a prefix the grammar allows, call marker first.
    assert text.startswith('<|tool_call|>[{"name": "booking_')
    result = grammargen.validate(printed.output, [text], tokenizer=folder.path, format="phi4-mini").results[0]
    assert result.got in ("accepted", "incomplete"), result.context
