"""The built wheel ships the format profiles and prompt templates, carries the hot modules
compiled with mypyc (hatch_build.py), and installed on its own writes what the source writes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

from conftest import ROOT

pytest.importorskip("hatchling", reason="building the wheel needs hatchling (a test extra)")

# the build hook's list (grammargen/fastjson.py...), read from pyproject.toml as hatch_build.py reads it
COMPILED_MODULES = [m.removeprefix("grammargen/").removesuffix(".py") for m in tomllib.loads(
    (ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]["custom"]["modules"]]


def _can_compile() -> str | None:
    """Why this machine builds a pure wheel, or None when mypyc and a C compiler are here."""
    try:
        import mypyc  # noqa: F401
    except ImportError:
        return "mypy (mypyc) is not installed"
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        return f"no C compiler ({cc})"
    return None


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> tuple[Path, Path, str]:
    """The wheel built from the tree (as ``pip install .`` builds it), a folder it is installed
    in, and the build's output (where the build hook says why a wheel is pure)."""
    out = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k != "GRAMMARGEN_PURE"}
    # the C compiler at -O0: the same mypyc semantics, built in ~45 s instead of ~75 s (the fast
    # suite's budget); users' wheels get mypyc's default -O3
    env["MYPYC_OPT_LEVEL"] = "0"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v",
                            "-w", str(out / "dist"), str(ROOT)], check=True, capture_output=True, text=True, env=env)
    (built,) = (out / "dist").glob("grammargen-*.whl")
    target = out / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(built)],
                   check=True, capture_output=True)
    return built, target, build.stdout + build.stderr


def _run(script: str, path: Path, cwd: Path) -> str:
    env = dict(os.environ, PYTHONPATH=str(path))
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=cwd, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_wheel_ships_templates_and_compiles_from_them(wheel, tmp_path) -> None:
    """A wheel built from the tree contains templates/ and, installed alone, compiles every format."""
    built, target, _ = wheel
    names = zipfile.ZipFile(built).namelist()
    shipped = sorted(p.name for p in (ROOT / "templates" / "formats").glob("*.toml"))
    assert sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("grammargen/templates/formats/")) == shipped
    assert any(n.startswith("grammargen/templates/prompts/") for n in names)
    script = ("import grammargen, pathlib; from grammargen.profiles import templates_dir; "
              "assert pathlib.Path(grammargen.__file__).parent in templates_dir().parents; "
              "print(len([grammargen.compile([{'name': 'f'}], f) for f in grammargen.formats()]))")
    assert _run(script, target, tmp_path).strip() == str(len(shipped))


def test_wheel_runs_the_hot_modules_compiled(wheel, tmp_path) -> None:
    """Where mypyc and a C compiler are at hand, the wheel is platform-tagged and imports the
    compiled modules (about 2x faster to compile a grammar); ``--version`` says so."""
    reason = _can_compile()
    if reason is not None:
        pytest.skip(f"the wheel is pure Python here: {reason}")
    built, target, log = wheel
    assert not built.name.endswith("-none-any.whl"), "the build hook made a pure wheel:\n" + log[-3000:]
    names = zipfile.ZipFile(built).namelist()
    for module in COMPILED_MODULES:
        assert any(n.startswith(f"grammargen/{module}.") and n.endswith(tuple(EXTENSION_SUFFIXES))
                   for n in names), module
        assert f"grammargen/{module}.py" in names  # the source ships beside it
    script = ("import grammargen, grammargen.fastjson as f; from click.testing import CliRunner; "
              "from grammargen.cli import main; print(grammargen.COMPILED, f.__file__.endswith('.py'), "
              "CliRunner().invoke(main, ['--version']).output.strip())")
    out = _run(script, target, tmp_path)
    assert out.split()[:2] == ["True", "False"]
    assert out.strip().endswith(" 0.1.0 (compiled with mypyc)")


# Grammars and errors of every format on tools that take every path of the compiled writers:
# bounded strings and integers, enums, nested and optional members, arrays, anyOf, type lists,
# %json fallbacks, DSL type names, and bad input.  Printed as JSON, to compare two installs.
_SAME_OUTPUT = r'''
import json, grammargen
def tool(name, params):
    return {"type": "function", "function": {"name": name, "description": "d", "parameters": params}}
tools = json.load(open(EXAMPLES + "/travel_tools.json"))
tools = tools["tools"] if isinstance(tools, dict) else tools
tools = tools + [
    tool("find_1", {"type": "object", "properties": {
        "q": {"type": "string", "minLength": 2, "maxLength": 9}, "n": {"type": "integer", "minimum": -7, "maximum": 1234},
        "mode": {"enum": ["a", "b\"c", 3, None, True]}, "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        "opt": {"type": "object", "properties": {"f": {"type": "boolean"}, "x": {"type": "number"}}, "required": ["f"]},
        "either": {"anyOf": [{"type": "integer"}, {"type": "null"}]}, "k": {"type": ["string", "integer"]},
        "c": {"const": "fixed"}}, "required": ["q", "n"]}),
    tool("find_2", {"type": "object", "properties": {"p": {"type": "string", "pattern": "^[a-z]+$"},
        "d": {"type": "dict"}, "f": {"type": "float", "minimum": 0.5}}, "required": ["p"]}),
    tool("find_3", {"type": "object", "properties": {"q": {"type": "string", "minLength": 2, "maxLength": 9}}}),
    tool("x.y-z", {"type": "object", "properties": {}}),
]
out = {}
for fmt in grammargen.formats():
    for options in ({}, {"tool_choice": "required", "parallel_tool_calls": False}, {"tool_choice": "find_1"}):
        key = fmt + json.dumps(options)
        try:
            out[key] = grammargen.compile(tools, fmt, check=False, **options).lark
        except grammargen.GrammarGenError as exc:
            out[key] = "error: " + str(exc)
bad = [[tool("f", {"type": "object", "properties": {"a": {"type": 7}}})], [{"name": ""}],
       [tool("f", {"type": "object", "properties": {"a": {"enum": list(range(5000))}}})], "[]"]
for i, tools in enumerate(bad):
    try:
        grammargen.load_tools(tools)
        out[f"bad{i}"] = "loaded"
    except grammargen.GrammarGenError as exc:
        out[f"bad{i}"] = type(exc).__name__ + ": " + str(exc)
print(json.dumps(out, sort_keys=True))
'''


def test_the_compiled_wheel_writes_what_the_source_writes(wheel, tmp_path) -> None:
    """The installed wheel (compiled where it can be) and the source tree (plain Python) write
    the same grammar in every format and option, and the same errors."""
    _, target, _ = wheel
    script = f"EXAMPLES = {str(ROOT / 'examples')!r}\n" + _SAME_OUTPUT
    installed = json.loads(_run(script, target, tmp_path))
    source = json.loads(_run(script, ROOT, tmp_path))
    assert installed.keys() == source.keys()
    assert sum(not v.startswith("error") for v in installed.values()) > 100  # grammars, not only errors
    assert [k for k in installed if installed[k] != source[k]] == []
