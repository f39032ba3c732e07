"""The built wheel ships the format profiles and prompt templates, and works installed on its own."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT

pytest.importorskip("hatchling", reason="building the wheel needs hatchling (a test extra)")


def test_wheel_ships_templates_and_compiles_from_them(tmp_path) -> None:
    """A wheel built from the tree contains templates/ and, installed alone, compiles every format."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "dist"), str(ROOT)], check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("grammargen-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = sorted(p.name for p in (ROOT / "templates" / "formats").glob("*.toml"))
    assert sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("grammargen/templates/formats/")) == shipped
    assert any(n.startswith("grammargen/templates/prompts/") for n in names)
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    script = ("import grammargen, pathlib; from grammargen.profiles import templates_dir; "
              "assert pathlib.Path(grammargen.__file__).parent in templates_dir().parents; "
              "print(len([grammargen.compile([{'name': 'f'}], f) for f in grammargen.formats()]))")
    env = dict(os.environ, PYTHONPATH=str(target))
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(len(shipped))
