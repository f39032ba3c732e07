"""The pre-commit check: every tool file compiles for every format and passes its samples.

Configured by ``.grammargen.toml`` or ``[tool.grammargen]`` in ``pyproject.toml``::

    tools = ["tools/*.json"]            # glob patterns of tool-list files
    formats = ["phi4-mini", "qwen25"]   # compile every tool file for each of these
    samples = "samples/"                # optional: <stem>.<format>.jsonl files, checked as declared
    generated = true                    # also check generated samples (default true)
    lenient = false                     # compile option, as in `grammargen compile --lenient`
    tokenizer = "path/tokenizer.json"   # optional: validate with this tokenizer

Every problem is collected -- a broken tool file does not hide the next one -- and
returned; the CLI prints them and picks the exit code.  A config the check cannot use is
an :class:`InputError` (exit 2) before anything is checked: a malformed file, an unknown
key or format, or a ``tools`` pattern that matches no file (a renamed folder would
otherwise turn the check into a silent pass).
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Iterable

from .compiler import compile as compile_tools
from .errors import GrammarGenError, InputError
from .profiles import get_profile
from .samples import samples as generated_samples
from .tools import load_tools
from .validate import Result, read_samples, validate

CONFIG_FILE = ".grammargen.toml"
DEFAULT_FORMAT = "phi4-mini"
KEYS = {"tools": list, "formats": list, "samples": str, "generated": bool, "lenient": bool,
        "tokenizer": str}


@dataclass(frozen=True)
class Config:
    """What to check; ``source`` is the file it came from ('' when there is none)."""

    tools: tuple[str, ...] = ()
    formats: tuple[str, ...] = (DEFAULT_FORMAT,)
    samples: str | None = None
    generated: bool = True
    lenient: bool = False
    tokenizer: str | None = None
    source: str = ""


@dataclass(frozen=True)
class Problem:
    """One thing wrong: a tool file, a grammar, or one sample not as declared."""

    file: str
    message: str
    format: str | None = None
    result: Result | None = None

    def __str__(self) -> str:
        where = f"{self.file} [{self.format}]" if self.format else self.file
        return f"{where}: {self.message}"


@dataclass
class CheckReport:
    """Every problem found, and what was checked."""

    problems: list[Problem] = field(default_factory=list)
    checked: list[tuple[str, str]] = field(default_factory=list)  # (tool file, format)
    samples: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def load_config(root: str | Path = ".") -> Config:
    """The config in ``root``: ``.grammargen.toml``, else ``[tool.grammargen]``, else defaults."""
    root = Path(root)
    own = root / CONFIG_FILE
    if own.is_file():
        return _config(_read_toml(own), str(own))
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        section = _read_toml(pyproject).get("tool", {}).get("grammargen")
        if section is not None:
            return _config(section, f"{pyproject}: [tool.grammargen]")
    return Config()


def read_config(path: str | Path) -> Config:
    """The config in one named file: a ``.grammargen.toml``-style file or a ``pyproject.toml``."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such config file", source=str(path))
    data = _read_toml(path)
    if path.name == "pyproject.toml":
        section = data.get("tool", {}).get("grammargen")
        if section is None:
            raise InputError("no [tool.grammargen] table", source=str(path))
        return _config(section, f"{path}: [tool.grammargen]")
    return _config(data, str(path))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read config: {exc}", source=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"invalid TOML: {exc}", source=str(path)) from exc


def _config(data: Any, source: str) -> Config:
    if not isinstance(data, dict):
        raise InputError("the grammargen config must be a table", source=source)
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in KEYS:
            raise InputError(f"unknown key (known: {', '.join(KEYS)})", source=source, path=key)
        if key in ("tools", "formats") and isinstance(value, str):
            value = [value]
        if not isinstance(value, KEYS[key]) or (
                isinstance(value, list) and not all(isinstance(v, str) for v in value)):
            wanted = {list: "a list of strings", str: "a string", bool: "true or false"}[KEYS[key]]
            raise InputError(f"must be {wanted}", source=source, path=key)
        values[key] = tuple(value) if isinstance(value, list) else value
    for name in values.get("formats", ()):
        try:
            get_profile(name)
        except GrammarGenError as exc:
            raise exc.at(source=source)
    if "formats" in values and not values["formats"]:
        raise InputError("list at least one format", source=source, path="formats")
    return Config(**values, source=source)


def select(files: Iterable[str], config: Config, root: Path) -> list[str]:
    """The tool files to check: the given files that the config's patterns match, or all it names.

    A changed sample file (``<stem>.<format>.jsonl`` in the samples folder) selects the
    tool files of that stem; a changed config file selects everything.
    """
    given = list(files)
    if any(Path(f).name in (CONFIG_FILE, "pyproject.toml") for f in given):
        given = []  # the config changed: everything it names is checked
    if not given:
        found = {str(p.relative_to(root)) if p.is_relative_to(root) else str(p)
                 for pattern in config.tools for p in root.glob(pattern) if p.is_file()}
        return sorted(found)
    if not config.tools:
        return [f for f in given if f.endswith(".json")]
    every = select([], config, root)
    chosen = [f for f in given if _matches(f, config.tools)]
    if config.samples:
        folder = PurePosixPath(Path(config.samples).as_posix())
        stems = {PurePosixPath(f).name.split(".")[0] for f in given
                 if f.endswith(".jsonl") and PurePosixPath(Path(f).as_posix()).parent == folder}
        chosen += [f for f in every if Path(f).stem in stems and f not in chosen]
    return chosen


def check_patterns(config: Config, root: Path) -> None:
    """Every ``tools`` pattern must match at least one file under ``root``."""
    for i, pattern in enumerate(config.tools):
        where = {"source": config.source or None, "path": f"tools[{i}]"}
        try:
            found = any(p.is_file() for p in root.glob(pattern))
        except (ValueError, NotImplementedError) as exc:  # '', absolute or malformed patterns
            raise InputError(f"unusable pattern {pattern!r}: give a glob relative to the project "
                             f"folder, e.g. 'tools/*.json' ({exc})", **where) from exc
        if not found:
            raise InputError(f"no file matches the pattern {pattern!r} (relative to {root.resolve()})",
                             **where)


def _matches(file: str, patterns: Iterable[str]) -> bool:
    posix = Path(file).as_posix()
    return any(fnmatch.fnmatch(posix, p) or fnmatch.fnmatch(posix, p.replace("**/", ""))
               for p in patterns)


def check(files: Iterable[str] = (), config: Config | None = None,
          root: str | Path = ".") -> CheckReport:
    """Compile each selected tool file for each format and validate its samples."""
    root = Path(root)
    config = config or load_config(root)
    check_patterns(config, root)
    report = CheckReport()
    for file in select(files, config, root):
        path = root / file if not Path(file).is_absolute() else Path(file)
        try:
            tools = load_tools(path, source_name=file)
        except GrammarGenError as exc:
            report.problems.append(Problem(file, _without_source(exc, file)))
            continue
        for name in config.formats:
            report.checked.append((file, name))
            report.problems += _check_one(file, tools, name, config, root, report)
    return report


def _check_one(file: str, tools: list[Any], format_name: str, config: Config, root: Path,
               report: CheckReport) -> list[Problem]:
    tokenizer = str(root / config.tokenizer) if config.tokenizer else None
    try:
        grammar = compile_tools(tools, format_name, lenient=config.lenient, tokenizer=tokenizer)
    except GrammarGenError as exc:
        return [Problem(file, f"does not compile: {_without_source(exc, file)}", format_name)]
    problems: list[Problem] = []
    todo = []
    if config.generated:
        todo += generated_samples(tools, format_name, lenient=config.lenient, tokenizer=tokenizer)
    if config.samples:
        sample_file = root / config.samples / f"{Path(file).stem}.{format_name}.jsonl"
        if sample_file.is_file():
            try:
                todo += read_samples(sample_file)
            except GrammarGenError as exc:
                problems.append(Problem(file, f"bad sample file: {exc}", format_name))
    result = validate(grammar, todo, tokenizer=tokenizer)
    report.samples += len(result.results)
    if result.grammar_error:
        problems.append(Problem(file, f"llguidance refuses the grammar: {result.grammar_error}",
                                format_name))
    for failure in result.failures:
        problems.append(Problem(file, describe(failure), format_name, failure))
    return problems


def _without_source(exc: GrammarGenError, file: str) -> str:
    """The error as text, without its source when that is ``file`` (the line names it already)."""
    source = "" if exc.source == file else exc.source
    return ": ".join(p for p in (source, exc.path, exc.message) if p)


def describe(result: Result) -> str:
    """One line for a sample that did not do what it declared."""
    note = f" ({result.sample.note})" if result.sample.note else ""
    text = result.text if len(result.text) <= 60 else result.text[:57] + "..."
    line = f"sample{note} {text!r}: expected {result.expected}, got {result.got}"
    if result.offset is not None and result.got != "accepted":
        line += f" at byte {result.offset}: {result.context!r}"
    if result.message:
        line += f" -- {result.message}"
    return line
