"""Format profiles are data: the shipped ones load, and a new format is one TOML file."""

from __future__ import annotations

import pytest

from grammargen import ProfileError, Sample, compile, formats, get_profile, render, validate
from grammargen.profiles import load_profile

SHIPPED = ["deepseek-r1-distill", "deepseekv3", "deepseekv31", "firefunction", "functools", "granite",
           "granite4", "hermes", "json", "llama3", "ministral3", "mistral", "mistral-nemo", "mistral-v11",
           "phi4-mini", "qwen25"]


def test_the_formats_ship() -> None:
    """formats() lists DESIGN.md section 3's profiles, the two split off by tokenizer, and more."""
    assert set(SHIPPED) <= set(formats())


@pytest.mark.parametrize("fmt", formats())
def test_profile_names_its_ground_truth(fmt: str) -> None:
    """Every profile lists the chat templates it is proven against, or says where its layout
    comes from when no template renders its calls."""
    profile = get_profile(fmt)
    assert profile.chat_templates or profile.source_of_truth
    assert all(t.endswith(".jinja") for t in profile.chat_templates)


@pytest.mark.parametrize("fmt", SHIPPED)
def test_profile_carries_reference_and_models(fmt: str) -> None:
    """Every profile names its reference URL and the models it covers."""
    profile = get_profile(fmt)
    assert profile.reference.startswith("https://")
    assert profile.models
    assert profile.call


@pytest.mark.parametrize(("alias", "name"), [("phi4", "phi4-mini"), ("qwq", "qwen25"), ("qwen3", "qwen25"),
                                             ("llama3.1", "llama3"), ("llama3.3", "llama3"),
                                             ("deepseek-r1", "deepseekv3"), ("granite-4.0", "granite4"),
                                             ("magistral", "mistral-v11")])
def test_aliases(alias: str, name: str) -> None:
    """Aliases resolve to their canonical profile."""
    assert get_profile(alias).name == name


def test_unknown_format_lists_known_ones() -> None:
    """An unknown format name raises ProfileError listing every known format."""
    with pytest.raises(ProfileError) as info:
        get_profile("gpt-17")
    assert "unknown format 'gpt-17'" in str(info.value)
    assert all(name in str(info.value) for name in SHIPPED)


TENTH = '''
name = "nemotron"
reference = "https://huggingface.co/nvidia/NVIDIA-Nemotron-Nano-9B-v2"
models = ["nvidia/NVIDIA-Nemotron-Nano-9B-v2"]
special = []
content_before_calls = true

[layout]
begin = [{ marker = "<TOOLCALL>" }, { text = "[" }]
call = [{ call_object = ["arguments"] }]
separator = [{ text = ", " }]
end = [{ text = "]" }, { marker = "</TOOLCALL>" }]
'''


def test_a_tenth_format_is_a_data_file(tmp_path, math_tools: list[dict]) -> None:
    """A new TOML layout compiles, renders and validates with no code change (text markers, text before calls)."""
    file = tmp_path / "nemotron.toml"
    file.write_text(TENTH)
    profile = load_profile(file)
    grammar = compile(math_tools, profile, tool_choice="auto")
    calls = [{"name": "add", "arguments": {"x": 1, "y": 2}}, {"name": "mul", "arguments": {"x": 3, "y": 4}}]
    text = render(calls, profile)
    assert text == ('<TOOLCALL>[{"name": "add", "arguments": {"x": 1, "y": 2}}, '
                    '{"name": "mul", "arguments": {"x": 3, "y": 4}}]</TOOLCALL>')
    report = validate(grammar, [
        Sample(text), Sample("Let me compute. " + text), Sample("Just text."),
        Sample("Text with <TOOLCALL> but no call", "reject"),
        Sample(text.replace("add", "sub"), "reject"),
    ])
    assert not [(r.sample.text, r.got, r.context) for r in report.failures]
    # the same file also works by path as the format argument
    assert compile(math_tools, str(file)).lark == grammar.lark


@pytest.mark.parametrize(("toml", "message"), [
    ("name = 'x'\nreference = 'https://x'\n", "missing key 'layout'"),
    ("name = 'x'\nreference = 'https://x'\n[layout]\ncall = [{ weird = 1 }]\n", "unknown piece kind 'weird'"),
    ("name = 'x'\nreference = 'https://x'\n[layout]\ncall = [{ text = 'a' }]\n", "exactly one call_object or arguments"),
    ("name = 'x'\nreference = 'https://x'\n[layout]\ncall = [{ arguments = 'json' }]\n", "needs a name piece"),
    ("name = 'x'\nreference = 'https://x'\n[layout]\ncall = [{ name = 'upper' }, { arguments = 'json' }]\n", "name is"),
    ("name = [\n", "invalid TOML"),
], ids=["no-layout", "unknown-piece", "no-arguments", "arguments-without-name", "bad-name-mode", "bad-toml"])
def test_malformed_profiles(tmp_path, toml: str, message: str) -> None:
    """A malformed profile file raises ProfileError naming the file."""
    file = tmp_path / "bad.toml"
    file.write_text(toml)
    with pytest.raises(ProfileError, match=message) as info:
        load_profile(file)
    assert info.value.source == str(file)


def test_special_marker_must_be_nameable(tmp_path, math_tools: list[dict]) -> None:
    """A special marker that is not <...> and has no id can't be referenced: a clear error."""
    file = tmp_path / "m.toml"
    file.write_text("name = 'm'\nreference = 'https://x'\nspecial = ['[CALL]']\n[layout]\n"
                    "begin = [{ marker = '[CALL]' }]\ncall = [{ call_object = ['arguments'] }]\n")
    with pytest.raises(ProfileError, match="give its id"):
        compile(math_tools, load_profile(file))
