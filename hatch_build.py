"""Wheel build hook: the modules every compile() runs through, compiled with mypyc.

``compile()`` is Python work (reading the schemas, writing the grammar text) followed by
llguidance's build; compiled, that Python takes less than half the time (100 synthetic tools:
``load_tools`` + ``compile`` 13.5-18 ms -> 5.6 ms), and a new tool list is ready in about 0.3x
of what the hand-written grammar takes (README, Performance).  The source stays plain Python,
typed so mypy passes on these modules:

* wheels (``pip install .``, ``pip wheel .``) carry the compiled modules next to their sources;
* editable installs (``pip install -e .``) stay pure Python, so an edit takes effect at once;
* ``GRAMMARGEN_PURE=1`` builds a pure wheel; so does a machine without a C compiler or
  mypyc (a warning says so).  ``grammargen --version`` tells which one is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CompiledModules(BuildHookInterface):
    """Compiles ``[tool.hatch.build.targets.wheel.hooks.custom] modules`` into the wheel."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable" or os.environ.get("GRAMMARGEN_PURE"):
            return
        modules = list(self.config.get("modules", []))
        self._work = Path(tempfile.mkdtemp(prefix="grammargen-mypyc-"))
        package = self._work / "grammargen"
        shutil.copytree(Path(self.root) / "grammargen", package,
                        ignore=shutil.ignore_patterns("__pycache__", *[f"*{s}" for s in EXTENSION_SUFFIXES]))
        command = [sys.executable, "-m", "mypyc", "--ignore-missing-imports", "--follow-imports=silent",
                   *modules]
        try:
            subprocess.run(command, cwd=self._work, check=True, capture_output=True, text=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            output = getattr(exc, "stdout", "") or ""
            detail = (output + (getattr(exc, "stderr", "") or "")).strip().splitlines()[-3:] or [str(exc)]
            self.app.display_warning("grammargen: mypyc could not compile the hot modules; this wheel is "
                                     "pure Python (about 2x slower to compile a grammar): "
                                     + " | ".join(detail))
            return
        built = [p for suffix in EXTENSION_SUFFIXES for p in self._work.rglob(f"*{suffix}")
                 if "build" not in p.relative_to(self._work).parts]
        for path in built:  # each module's own, and mypyc's shared runtime beside the package
            build_data["force_include"][str(path)] = path.relative_to(self._work).as_posix()
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        work = getattr(self, "_work", None)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
