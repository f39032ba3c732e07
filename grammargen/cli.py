"""The ``grammargen`` command: the only place that prints or exits.

Exit codes: 0 success; 1 a check ran and found a problem; 2 bad input or usage, with one
line ``error: <file>: <json path>: <what is wrong>`` on stderr and never a traceback.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Callable

import click

from . import compiler, profiles, tools as tools_mod
from .render import render as render_calls
from .errors import GrammarGenError, InputError

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


def compile_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options that shape a grammar, shared by compile and validate."""
    for option in reversed([
        click.option("--tool-choice", default="auto", show_default=True,
                     help="auto | none | required | a tool name | an OpenAI tool_choice JSON object."),
        click.option("--no-parallel", is_flag=True, help="Exactly one call (parallel_tool_calls=false)."),
        click.option("--reasoning", "reasoning", flag_value=True, default=False,
                     help="Allow the format's reasoning block (e.g. <think>...</think>) first."),
        click.option("--require-reasoning", "reasoning", flag_value="required",
                     help="Demand the reasoning block first."),
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
        parallel_tool_calls=not no_parallel, reasoning=reasoning, tokenizer=tokenizer,
        lenient=lenient, close_objects=not open_objects)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="grammargen")
def main() -> None:
    """Compile tool lists into llguidance grammars in each model's native tool-call format."""


@main.command("compile")
@click.argument("tools")
@format_option()
@compile_options
@click.option("--emit", type=click.Choice(["lark", "json"]), default="lark", show_default=True,
              help="Lark text, or llguidance's top-level grammar JSON.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the grammar to this file instead of stdout.")
def compile_cmd(tools: str, format_name: str, tool_choice: str, no_parallel: bool,
                reasoning: Any, tokenizer: str | None, lenient: bool, open_objects: bool,
                emit: str, output: str | None) -> None:
    """Print the grammar for TOOLS (a JSON file, or - for stdin)."""
    grammar = build_grammar(tools, format_name, tool_choice, no_parallel, reasoning, tokenizer,
                            lenient, open_objects)
    echo_warnings(grammar.warnings)
    text = grammar.lark if emit == "lark" else json.dumps(grammar.to_json(), indent=2) + "\n"
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
    if isinstance(data, dict) and "tool_calls" in data:
        data = data["tool_calls"]
    if not isinstance(data, list):
        raise InputError("expected a JSON array of calls", source=name)
    tool_list = load_tools_arg(tools_file) if tools_file else None
    try:
        click.echo(render_calls(data, format_name, tools=tool_list))
    except GrammarGenError as exc:
        raise exc.at(source=name)


@main.command("formats")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def formats_cmd(as_json: bool) -> None:
    """List the known model formats."""
    rows = [profiles.get_profile(name) for name in profiles.formats()]
    if as_json:
        click.echo(json.dumps([{"name": p.name, "aliases": list(p.aliases), "description": p.description,
                                "reference": p.reference, "models": list(p.models)} for p in rows],
                              indent=2, ensure_ascii=False))
        return
    width = max(len(p.name) for p in rows)
    for p in rows:
        aliases = f" (aliases: {', '.join(p.aliases)})" if p.aliases else ""
        click.echo(f"{p.name.ljust(width)}  {p.description}{aliases}")


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
