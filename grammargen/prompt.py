"""Prompt text that shows a model its tools in its own convention (``templates/prompts/*.jinja``).

Each format profile names its template (``prompt = "<file>.jinja"``).  Tools reach the
template as real JSON: the ``tojson`` filter here is ``json.dumps`` with no HTML escaping
(Jinja2's own would turn ``<`` into ``\\u003c``) and never Python's ``repr``.  Rendering the
prompt ourselves also keeps every ``required`` and ``enum`` the schema has, which a
runtime's ``apply_chat_template(tools=...)`` may rewrite away.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import jinja2

from .errors import ProfileError
from .profiles import Profile, get_profile, templates_dir
from .tools import Tool, load_tools

DEFAULT_SYSTEM = "You are a helpful assistant with access to these tools."


def prompt(tools: Any, format: str | Profile = "phi4-mini", *, system: str = DEFAULT_SYSTEM) -> str:
    """The system-prompt text presenting ``tools`` to a model of ``format``.

    ``tools``: anything :func:`grammargen.load_tools` takes.  ``system``: the assistant's
    instructions the tools are appended to.  The result is the system message's content:
    put it in the runtime's chat template as the system message, without ``tools=``.
    """
    profile = get_profile(format)
    tool_list = load_tools(tools)
    if not profile.prompt:
        raise ProfileError(f"format {profile.name!r} names no prompt template", source=profile.path,
                           path="prompt")
    try:
        template = _environment().get_template(profile.prompt)
    except jinja2.TemplateNotFound as exc:
        raise ProfileError(f"prompt template {profile.prompt!r} not found in templates/prompts",
                           source=profile.path, path="prompt") from exc
    except jinja2.TemplateSyntaxError as exc:
        raise ProfileError(f"prompt template line {exc.lineno}: {exc.message}",
                           source=str(exc.filename or profile.prompt)) from exc
    functions = [_function(t) for t in tool_list]
    text = template.render(
        system=system,
        functions=functions,
        tools=[{"type": "function", "function": f} for f in functions],
        format=profile,
    )
    return text.strip() + "\n"


def _function(tool: Tool) -> dict[str, Any]:
    """``{"name", "description", "parameters"}``: the function object most templates show."""
    function: dict[str, Any] = {"name": tool.name}
    if tool.description:
        function["description"] = tool.description
    function["parameters"] = tool.parameters
    return function


def _tojson(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent)


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / "prompts")),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["tojson"] = _tojson
    return env
