"""grammargen: compile tool lists into llguidance grammars in each model's native format.

The pipeline: :func:`load_tools` -> :func:`compile` -> :class:`Grammar`, proven by
:func:`validate`, with :func:`render` and :func:`parse` as the other two readings of a
format profile.
"""

from . import fastjson as _fastjson
from .compiler import compile
from .errors import (
    GrammarError,
    GrammarGenError,
    InputError,
    OptionsError,
    OutputParseError,
    ProfileError,
    TokenizerError,
    ToolError,
    UnsupportedSchemaError,
)
from .grammar import Grammar
from .parse import Message, StreamParser, parse
from .profiles import Profile, formats, get_profile
from .prompt import prompt
from .render import render
from .samples import samples
from .tokenizer import Tokenizer, load_tokenizer
from .tools import Tool, load_tools
from .validate import Report, Result, Sample, read_samples, validate

__all__ = [
    "COMPILED", "Grammar", "GrammarError", "GrammarGenError", "InputError", "Message", "OptionsError",
    "OutputParseError", "Profile", "ProfileError", "Report", "Result", "Sample", "StreamParser",
    "Tokenizer", "TokenizerError", "Tool", "ToolError", "UnsupportedSchemaError", "compile",
    "formats", "get_profile", "load_tokenizer", "load_tools", "parse", "prompt", "read_samples",
    "render", "samples", "validate",
]
__version__ = "0.1.0"
# Whether the modules every compile runs through are mypyc-compiled (a wheel: hatch_build.py)
# or plain Python (an editable install, or a machine without a C compiler): about 2x apart.
COMPILED = not (_fastjson.__file__ or "").endswith(".py")
