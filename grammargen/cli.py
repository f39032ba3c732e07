"""The ``grammargen`` command: the only place that prints or exits.

Exit codes: 0 success; 1 a check ran and found a problem; 2 bad input or usage, with one
line ``error: <file>: <json path>: <what is wrong>`` on stderr and never a traceback.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Callable

import click

from . import COMPILED, compiler, profiles, tools as tools_mod
from .render import call_parts, render as render_calls
from .emit import ENGINES
from .errors import GrammarGenError, InputError, OptionsError

EXIT_OK, EXIT_PROBLEM, EXIT_BAD_INPUT = 0, 1, 2


class Group(click.Group):
    """Maps grammargen errors to exit code 2 and one ``error:`` line, for every command."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GrammarGenError as exc:
            fail(str(exc))
        except RecursionError:
            fail("input nested too deeply")
        except MemoryError:
            fail("input too large to process")


def fail(message: str) -> None:
    """Print one error line and exit 2."""
    click.echo(f"error: {_one_line(message)}", err=True)
    sys.exit(EXIT_BAD_INPUT)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def echo_warnings(warnings: Any) -> None:
    for warning in warnings:
        click.echo(f"warning: {_one_line(warning)}", err=True)


def load_tools_arg(source: str) -> list[tools_mod.Tool]:
    """Load TOOLS (a path or ``-``), naming stdin ``<stdin>`` in errors."""
    name = "<stdin>" if source == "-" else source
    return tools_mod.load_tools(source if source == "-" else _as_path(source), source_name=name)


def _as_path(source: str) -> Any:
    from pathlib import Path

    return Path(source)


def tool_choice_arg(value: str) -> Any:
    """``--tool-choice``: auto/none/required, a tool name, or an OpenAI JSON object."""
    if value.lstrip().startswith("{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise InputError(f"--tool-choice is not valid JSON: {exc.msg}", path="tool_choice") from exc
    return value


def format_option(required: bool = False) -> Callable[[Any], Any]:
    return click.option("-f", "--format", "format_name", default=None if required else "phi4-mini",
                        required=required, metavar="FORMAT",
                        help="Model format profile (see `grammargen formats`).")


REASONING_OPENED = click.option(
    "--reasoning-opened", "reasoning", flag_value="opened",
    help="The generation prompt already opened the reasoning block (QwQ, DeepSeek R1 distills): "
         "the output starts inside it and must close it.")
REASONING = {"allow": True, "required": "required", "opened": "opened"}  # flag value -> API value


def compile_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options that shape a grammar, shared by compile and validate."""
    for option in reversed([
        click.option("--tool-choice", default="auto", show_default=True,
                     help="auto | none | required | a tool name | an OpenAI tool_choice JSON object."),
        click.option("--no-parallel", is_flag=True, help="Exactly one call (parallel_tool_calls=false)."),
        click.option("--reasoning", "reasoning", flag_value="allow", default=None,
                     help="Allow the format's reasoning block (e.g. <think>...</think>) first."),
        click.option("--require-reasoning", "reasoning", flag_value="required",
                     help="Demand the reasoning block first."),
        REASONING_OPENED,
        click.option("--tokenizer", default=None, metavar="PATH",
                     help="tokenizer.json or model folder: marker forms follow this tokenizer."),
        click.option("--lenient", is_flag=True,
                     help="Drop unsupported schema keywords with a warning instead of failing."),
        click.option("--open-objects", is_flag=True,
                     help="Leave objects without additionalProperties open (default: closed)."),
    ]):
        fn = option(fn)
    return fn


def build_grammar(tools: str, format_name: str, tool_choice: str, no_parallel: bool,
                  reasoning: Any, tokenizer: str | None, lenient: bool,
                  open_objects: bool) -> Any:
    """Load the tools and compile them with the CLI's options."""
    return compiler.compile(
        load_tools_arg(tools), format_name, tool_choice=tool_choice_arg(tool_choice),
        parallel_tool_calls=not no_parallel,
        reasoning=REASONING.get(reasoning, False), tokenizer=tokenizer,
        lenient=lenient, close_objects=not open_objects)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="grammargen", message="%(prog)s %(version)s ("
                      + ("compiled with mypyc" if COMPILED else "pure Python") + ")")
def main() -> None:
    """Compile tool lists into llguidance grammars in each model's native tool-call format."""


@main.command("compile")
@click.argument("tools")
@format_option()
@compile_options
@click.option("--emit", type=click.Choice(ENGINES), default="lark", show_default=True,
              help="lark: llguidance Lark; json: llguidance's top-level grammar object; gbnf: "
                   "llama.cpp; xgrammar: xgrammar's Lark; vllm, sglang: request bodies.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the grammar to this file instead of stdout.")
def compile_cmd(tools: str, format_name: str, tool_choice: str, no_parallel: bool,
                reasoning: Any, tokenizer: str | None, lenient: bool, open_objects: bool,
                emit: str, output: str | None) -> None:
    """Print the grammar for TOOLS (a JSON file, or - for stdin)."""
    grammar = build_grammar(tools, format_name, tool_choice, no_parallel, reasoning, tokenizer,
                            lenient, open_objects)
    echo_warnings(grammar.warnings)
    text = grammar.emit(emit)
    if output:
        try:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            raise InputError(f"cannot write: {exc.strerror}", source=output) from exc
    else:
        click.echo(text, nl=False)


@main.command("render")
@click.argument("calls")
@format_option()
@click.option("--tools", "tools_file", default=None, metavar="TOOLS",
              help="Order argument keys as these tools' schemas declare them.")
def render_cmd(calls: str, format_name: str, tools_file: str | None) -> None:
    """Print the model-native text of CALLS (JSON: [{"name", "arguments"}] or OpenAI tool_calls)."""
    name = "<stdin>" if calls == "-" else calls
    try:
        data = tools_mod.read_json(calls if calls == "-" else _as_path(calls))
    except GrammarGenError as exc:
        raise exc.at(source=name)
    prefix = "calls"
    if isinstance(data, dict) and "tool_calls" in data:
        data, prefix = data["tool_calls"], "tool_calls"
    _refuse_tool_list(data, name)
    if not isinstance(data, list):
        raise InputError("expected a JSON array of calls", source=name)
    tool_list = load_tools_arg(tools_file) if tools_file else None
    try:
        if tool_list is not None:
            _check_call_names(data, tool_list, prefix)
        click.echo(render_calls(data, format_name, tools=tool_list))
    except GrammarGenError as exc:
        raise exc.at(source=name)


def _refuse_tool_list(data: Any, source: str) -> None:
    """A tool list given where calls belong would render its schemas as arguments: refuse it.

    A call never has a description or an input schema, and writes ``arguments``; a tool
    whose ``parameters`` is an object schema with ``properties`` is a tool, not a call.
    """
    entries = data.get("tools") if isinstance(data, dict) else data
    if not isinstance(entries, list) or not entries or not all(map(_tool_like, entries)):
        return
    try:
        names = ", ".join(t.name for t in tools_mod.load_tools(entries))
    except GrammarGenError:
        names = ""
    listed = f" ({names})" if names else ""
    raise InputError(f"this is a tool list{listed}, not calls: give calls as "
                     '[{"name": ..., "arguments": {...}}] and the tools with --tools', source=source)


def _tool_like(entry: Any) -> bool:
    if not isinstance(entry, dict):
        return False
    body = entry["function"] if isinstance(entry.get("function"), dict) else entry
    if "arguments" in body or not isinstance(body.get("name"), str):
        return False
    if any(key in body for key in ("inputSchema", "input_schema", "description")):
        return True
    params = body.get("parameters")
    return (isinstance(params, dict) and params.get("type") == "object"
            and isinstance(params.get("properties"), dict))


def _check_call_names(data: list[Any], tool_list: list[tools_mod.Tool], prefix: str) -> None:
    """Every call names a tool of ``--tools``; the error names the call's path and the known tools."""
    known = [t.name for t in tool_list]
    for i, call in enumerate(data):
        name, _ = call_parts(call, f"{prefix}[{i}]")
        if name not in known:
            where = f"{prefix}[{i}]" + (".function" if isinstance(call.get("function"), dict) else "")
            raise InputError(f"unknown tool {name!r} (known: {', '.join(known)})", path=f"{where}.name")


@main.command("formats")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def formats_cmd(as_json: bool) -> None:
    """List the known model formats."""
    rows = [profiles.get_profile(name) for name in profiles.formats()]
    if as_json:
        click.echo(json.dumps([format_json(p) for p in rows], indent=2, ensure_ascii=False))
        return
    width = max(len(p.name) for p in rows)
    for p in rows:
        aliases = f" (aliases: {', '.join(p.aliases)})" if p.aliases else ""
        click.echo(f"{p.name.ljust(width)}  {p.description}{aliases}")


def format_json(profile: profiles.Profile) -> dict[str, Any]:
    """One format for ``formats --json``: its names, what it was proven against, where it comes from."""
    return {"name": profile.name, "aliases": list(profile.aliases), "description": profile.description,
            "models": list(profile.models), "chat_templates": list(profile.chat_templates),
            "source_of_truth": profile.source_of_truth or None, "reference": profile.reference}


@main.command("prompt")
@click.argument("tools")
@format_option()
@click.option("--system", default=None, metavar="TEXT",
              help="The assistant's instructions the tools are appended to.")
def prompt_cmd(tools: str, format_name: str, system: str | None) -> None:
    """Print the system-prompt text that shows TOOLS to a model of FORMAT."""
    from .prompt import DEFAULT_SYSTEM, prompt

    text = prompt(load_tools_arg(tools), format_name,
                  system=DEFAULT_SYSTEM if system is None else system)
    click.echo(text, nl=False)


PROGRESS_MIN_SAMPLES = 50  # fewer samples than this finish before a bar would help


@main.command("validate")
@click.argument("tools")
@format_option()
@compile_options
@click.option("--samples", "samples_file", default=None, metavar="FILE.jsonl",
              help='JSON Lines of {"text", "expect": "accept"|"reject"}; generated samples if absent.')
@click.option("--seed", default=0, show_default=True, help="Seed of the generated samples.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
def validate_cmd(tools: str, format_name: str, tool_choice: str, no_parallel: bool,
                 reasoning: Any, tokenizer: str | None, lenient: bool, open_objects: bool,
                 samples_file: str | None, seed: int, as_json: bool) -> None:
    """Prove the grammar for TOOLS: force samples through it, tokenized as the model would.

    Exit 0 when every sample is accepted or rejected as expected, 1 otherwise.
    """
    from .samples import samples as generated_samples
    from .validate import read_samples, validate

    tool_list = load_tools_arg(tools)
    reasoning = REASONING.get(reasoning, False)
    options = {"tool_choice": tool_choice_arg(tool_choice), "parallel_tool_calls": not no_parallel,
               "reasoning": reasoning, "lenient": lenient, "close_objects": not open_objects}
    grammar = compiler.compile(tool_list, format_name, tokenizer=tokenizer, **options)
    echo_warnings(grammar.warnings)
    if samples_file:
        todo = read_samples(samples_file)
    else:
        todo = generated_samples(tool_list, format_name, seed=seed, tokenizer=tokenizer, **options)
    if len(todo) >= PROGRESS_MIN_SAMPLES:
        with click.progressbar(length=len(todo), label="validating", file=sys.stderr) as bar:
            report = validate(grammar, todo, tokenizer=tokenizer, progress=bar.update)
    else:
        report = validate(grammar, todo, tokenizer=tokenizer)
    echo_warnings(report.warnings)
    if as_json:
        data = {"format": grammar.format, "tools": len(tool_list),
                "samples": samples_file or "generated", **report.to_json()}
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        _print_report(report, grammar.describe())
    sys.exit(EXIT_OK if report.ok else EXIT_PROBLEM)


def _print_report(report: Any, title: str) -> None:
    """A table: one row per sample; failures get a second line saying where and why."""
    click.echo(f"{title}; tokenizer: {report.tokenizer}")
    if report.grammar_error:
        click.echo(f"FAIL  llguidance refuses the grammar: {report.grammar_error}")
        return
    click.echo(f"{'':4}  {'expect':6}  {'got':10}  sample")
    for r in report.results:
        label = r.sample.note or _one_line(r.text)
        click.echo(f"{'ok' if r.ok else 'FAIL':4}  {r.expected:6}  {r.got:10}  {label[:90]}")
        if not r.ok:
            click.echo(f"{'':26}text: {r.text[:120]!r}")
            if r.got != "accepted":
                click.echo(f"{'':26}at byte {r.offset}: {r.context!r}: {r.message}")
    counts = report.counts()
    verdict = "all as expected" if report.ok else f"{len(report.failures)} not as expected"
    click.echo(f"{len(report.results)} samples ({counts['accepted']} accepted, "
               f"{counts['rejected']} rejected, {counts['incomplete']} incomplete): {verdict}")


@main.command("check")
@click.argument("files", nargs=-1)
@click.option("--config", "config_file", default=None, metavar="FILE",
              help="A .grammargen.toml or pyproject.toml (default: the one in the current folder).")
def check_cmd(files: tuple[str, ...], config_file: str | None) -> None:
    """Check tool files: each compiles for each configured format and passes its samples.

    The pre-commit entry point.  FILES are the changed files; only those the config's
    `tools` patterns match are checked (with no FILES, all it names).  Exit 1 on any problem.
    """
    from .check import check, load_config, read_config

    config = read_config(config_file) if config_file else load_config(".")
    report = check(files, config)
    for problem in report.problems:
        click.echo(f"FAIL {problem}")
    files_checked = len({f for f, _ in report.checked})
    summary = (f"grammargen check: {files_checked} tool file(s) x {len(config.formats)} format(s), "
               f"{report.samples} samples: ")
    click.echo(summary + ("ok" if report.ok else f"{len(report.problems)} problem(s)"))
    sys.exit(EXIT_OK if report.ok else EXIT_PROBLEM)


@main.command("parse")
@click.argument("source", default="-", metavar="[FILE|-]")
@format_option()
@click.option("--tools", "tools_file", default=None, metavar="TOOLS",
              help="Check arguments against these tools' schemas; unknown names are errors.")
@click.option("--stream", is_flag=True,
              help="Read the output as it arrives and print OpenAI deltas as JSON lines.")
@click.option("--lenient", is_flag=True,
              help="On malformed output keep the calls read so far; the rest becomes content.")
@REASONING_OPENED
def parse_cmd(source: str, format_name: str, tools_file: str | None, stream: bool,
              lenient: bool, reasoning: str | None) -> None:
    """Print model output (FILE, or - for stdin) as an OpenAI assistant message in JSON."""
    from .parse import StreamParser, parse

    name = "<stdin>" if source == "-" else source
    if reasoning and profiles.get_profile(format_name).reasoning is None:
        raise OptionsError(f"format {format_name!r} has no reasoning block", path="reasoning")
    tool_list = load_tools_arg(tools_file) if tools_file else None
    try:
        handle = click.open_file(source, "rb")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", source=name) from exc
    with handle:
        try:
            if not stream:
                message = parse(handle.read(), format_name, tools=tool_list, lenient=lenient,
                                reasoning=reasoning)
                click.echo(json.dumps(message.to_openai(), indent=2, ensure_ascii=False))
                return
            parser = StreamParser(format_name, tool_list, lenient=lenient, reasoning=reasoning)
            read = getattr(handle, "read1", handle.read)
            while chunk := read(4096):
                for delta in parser.feed(chunk):
                    click.echo(json.dumps(delta, ensure_ascii=False))
            for delta in parser.close():
                click.echo(json.dumps(delta, ensure_ascii=False))
        except GrammarGenError as exc:
            raise exc.at(source=name)
