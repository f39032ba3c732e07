"""vLLM plugins: each request's tools compiled into its format's grammar, and the output parsed back.

Load with ``--tool-parser-plugin grammargen.vllm`` (a module name: a file path ending in
``vllm.py`` would be imported as ``vllm`` and replace vLLM itself), then pick a format with
``--enable-auto-tool-choice --tool-call-parser grammargen-<format>``.  For formats with a
reasoning block add ``--reasoning-parser grammargen-<format>`` (``grammargen-<format>-opened``
when the chat template's generation prompt already opens the block, as QwQ's and DeepSeek
R1's do); ``--reasoning-parser-plugin`` is not needed, the tool-parser plugin registers both.
The server must use the guidance backend (``--structured-outputs-config
'{"backend": "guidance"}'``): the grammar is llguidance Lark.

The tool parser's ``adjust_request`` compiles ``tools``, ``tool_choice`` and
``parallel_tool_calls`` through :mod:`grammargen.cache` and sets the request's grammar, so
``required`` and named choices are written in the model's own format, not vLLM's JSON array.
A tool list grammargen refuses is the client's error: HTTP 400 with grammargen's one line.

The helpers above the vLLM classes need no vLLM, so they are tested without it; the classes
are defined and registered only when vLLM is importable.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from . import cache
from .errors import GrammarGenError
from .grammar import Grammar
from .parse import Delta, StreamParser, parse
from .profiles import Profile, formats, get_profile

# Set by the reasoning parser's adjust_request, read by the tool parser's right after it:
# vLLM calls both, in that order, on the same request in the same thread.
_HANDOFF = threading.local()


# -- requests ---------------------------------------------------------------------------------

def request_tools(tools: Any) -> list[dict[str, Any]]:
    """vLLM's tool objects (or dicts) as OpenAI tool dicts, in the order given."""
    out = []
    for tool in tools or ():
        if isinstance(tool, dict):
            out.append(tool)
            continue
        function = getattr(tool, "function", None)
        if function is None:  # a Responses-API FunctionTool carries the fields itself
            function = tool
        entry: dict[str, Any] = {"name": function.name}
        if getattr(function, "description", None):
            entry["description"] = function.description
        if getattr(function, "parameters", None) is not None:
            entry["parameters"] = function.parameters
        if getattr(function, "strict", None):
            entry["strict"] = True
        out.append({"type": "function", "function": entry})
    return out


def request_tool_choice(choice: Any) -> Any:
    """vLLM's ``tool_choice`` (None, a string, or a named-choice object) as grammargen takes it."""
    if choice is None:
        return "auto"
    if isinstance(choice, str) or isinstance(choice, dict):
        return choice
    function = getattr(choice, "function", None)
    name = getattr(function, "name", None) or getattr(choice, "name", None)
    return {"type": "function", "function": {"name": name}}


def compile_request(tools: Any, tool_choice: Any, parallel_tool_calls: Any, format: str, *,
                    reasoning: bool | str = False, tokenizer: Any = None) -> Grammar:
    """The grammar for one request, from the process-wide cache."""
    return cache.compile(request_tools(tools), format, tool_choice=request_tool_choice(tool_choice),
                         parallel_tool_calls=parallel_tool_calls is not False,
                         reasoning=reasoning, tokenizer=tokenizer)


def backend_tokenizer(tokenizer: Any) -> Any:
    """The ``tokenizers.Tokenizer`` inside vLLM's tokenizer, or None (profile defaults then)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        backend = getattr(tokenizer, "_tokenizer", None)
    try:
        import tokenizers
    except ImportError:
        return None
    return backend if isinstance(backend, tokenizers.Tokenizer) else None


# -- output -----------------------------------------------------------------------------------

def merge_deltas(deltas: list[Delta]) -> Delta | None:
    """grammargen's stream deltas as one OpenAI delta (a call's pieces joined by ``index``)."""
    content: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    for delta in deltas:
        content.append(delta.get("content") or "")
        reasoning.append(delta.get("reasoning_content") or "")
        for part in delta.get("tool_calls", ()):
            call = calls.setdefault(part["index"], {"index": part["index"]})
            for key in ("id", "type"):
                if part.get(key) is not None:
                    call[key] = part[key]
            function = call.setdefault("function", {})
            for key, value in (part.get("function") or {}).items():
                function[key] = function.get(key, "") + value
    out: Delta = {}
    if "".join(content):
        out["content"] = "".join(content)
    if "".join(reasoning):
        out["reasoning_content"] = "".join(reasoning)
    if calls:
        out["tool_calls"] = [calls[i] for i in sorted(calls)]
    return out or None


@dataclass
class ReasoningSplit:
    """Splits output into the reasoning block and the rest, as it streams.

    ``opened``: the prompt opened the block, so the output starts inside it.  Otherwise the
    block is optional: output that does not start with the begin marker is all content.
    The padding a template writes inside the block (Qwen3's newlines) is not reasoning.
    """

    begin: str
    end: str
    pad: str = ""
    opened: bool = False

    def __post_init__(self) -> None:
        self.state = "inside" if self.opened else "start"
        self.held = ""
        self.at_block_start = self.opened

    @classmethod
    def of(cls, profile: Profile, opened: bool = False) -> ReasoningSplit:
        r = profile.reasoning
        if r is None:
            raise GrammarGenError(f"format {profile.name!r} has no reasoning block")
        return cls(r.begin, r.end, getattr(r, "pad", ""), opened)

    @property
    def ended(self) -> bool:
        """The block is over (or never started): the rest is content."""
        return self.state == "after"

    def feed(self, text: str, final: bool = False) -> tuple[str, str]:
        """(reasoning, content) that ``text`` completes; a possible marker start is held."""
        self.held += text
        reasoning = content = ""
        if self.state == "start":
            if self.held.startswith(self.begin):
                self.held = self.held[len(self.begin):]
                self.state, self.at_block_start = "inside", True
            elif self.begin.startswith(self.held) and not final:
                return "", ""
            else:
                self.state = "after"
        if self.state == "inside":
            if self.at_block_start and self.pad:
                if len(self.held) < len(self.pad) and self.pad.startswith(self.held) and not final:
                    return "", ""
                if self.held.startswith(self.pad):
                    self.held = self.held[len(self.pad):]
                self.at_block_start = False
            found = self.held.find(self.end)
            if found >= 0:
                reasoning = self.held[:found]
                if self.pad and reasoning.endswith(self.pad):
                    reasoning = reasoning[:-len(self.pad)]
                self.held = self.held[found + len(self.end):]
                self.state = "after"
            else:
                keep = 0 if final else _tail_to_hold(self.held, self.pad + self.end, self.end)
                reasoning, self.held = self.held[:len(self.held) - keep], self.held[len(self.held) - keep:]
        if self.state == "after":
            content, self.held = self.held, ""
        return reasoning, content


def _tail_to_hold(text: str, padded_end: str, end: str) -> int:
    """Trailing characters that may be the start of the (padded) end marker."""
    for k in range(min(len(text), len(padded_end)), 0, -1):
        tail = text[-k:]
        if padded_end.startswith(tail) or end.startswith(tail):
            return k
    return 0


def split_reasoning(text: str, profile: Profile, opened: bool = False) -> tuple[str | None, str | None]:
    """(reasoning, content) of a whole output: what streaming the same text gives."""
    split = ReasoningSplit.of(profile, opened)
    reasoning, content = split.feed(text, final=True)
    return reasoning or None, content or None


_MARKER_IDS: dict[tuple[int, str], tuple[Any, tuple[int | None, int | None]]] = {}


def marker_ids(tokenizer: Any, profile: Profile) -> tuple[int | None, int | None]:
    """Token ids of the reasoning markers (None where not one token), looked up once per tokenizer.

    vLLM builds parsers per request; ``get_vocab()`` copies a 150k-entry dict each time.
    """
    key = (id(tokenizer), profile.name)
    known = _MARKER_IDS.get(key)
    if known is not None and known[0] is tokenizer:
        return known[1]
    vocab = tokenizer.get_vocab() if tokenizer is not None else {}
    r = profile.reasoning
    ids = (vocab.get(r.begin), vocab.get(r.end)) if r else (None, None)
    _MARKER_IDS[key] = (tokenizer, ids)  # the tokenizer is kept, so its id stays its own
    return ids


def plugin_names(profile: Profile) -> list[str]:
    """The registered names of a format: ``grammargen-<name>`` and one per alias."""
    return [f"grammargen-{n}" for n in (profile.name, *profile.aliases)]


# -- the vLLM classes -------------------------------------------------------------------------

def _define() -> dict[str, Any]:
    """Define the vLLM parser classes and register one per format (vLLM imported here)."""
    from vllm.entrypoints.generate.base.protocol import (
        DeltaFunctionCall,
        DeltaMessage,
        DeltaToolCall,
        ExtractedToolCallInformation,
        FunctionCall,
        ToolCall,
    )
    from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
    from vllm.exceptions import VLLMValidationError
    from vllm.logger import init_logger
    from vllm.reasoning import ReasoningParser, ReasoningParserManager
    from vllm.sampling_params import StructuredOutputsParams
    from vllm.tool_parsers import ToolParser, ToolParserManager

    logger = init_logger(__name__)

    def delta_message(delta: Delta | None) -> Any:
        if delta is None:
            return None
        calls = [DeltaToolCall(index=c["index"], id=c.get("id"), type=c.get("type"),
                               function=DeltaFunctionCall(**c["function"]) if c.get("function") else None)
                 for c in delta.get("tool_calls", ())]
        return DeltaMessage(content=delta.get("content"), reasoning=delta.get("reasoning_content"),
                            tool_calls=calls)

    class GrammargenToolParser(ToolParser):
        """Constrains each request with grammargen's grammar for ``format`` and parses the output."""

        format = ""
        supports_required_and_named = False  # calls come in the model's format, never a JSON array
        engine_based_streaming = True  # reads only the new text; finish_streaming releases the rest

        def __init__(self, tokenizer: Any, tools: Any = None) -> None:
            super().__init__(tokenizer, tools)
            self._stream: StreamParser | None = None

        def adjust_request(self, request: Any) -> Any:
            handoff = getattr(_HANDOFF, "value", None)
            _HANDOFF.value = None
            if not isinstance(request, ChatCompletionRequest) or not request.tools:
                return request
            if request._grammar_from_parser or request.tool_choice == "none":
                return request
            reasoning: bool | str = False
            if handoff is not None and handoff[0] == id(request):
                reasoning = handoff[1]
            try:
                grammar = compile_request(request.tools, request.tool_choice,
                                          request.parallel_tool_calls, self.format,
                                          reasoning=reasoning,
                                          tokenizer=backend_tokenizer(self.model_tokenizer))
            except GrammarGenError as exc:
                raise VLLMValidationError(str(exc)) from exc  # HTTP 400, grammargen's line
            request.structured_outputs = StructuredOutputsParams(grammar=grammar.lark)
            request._grammar_from_parser = True
            request.response_format = None
            if any(kind != "text" for kind in grammar.markers.values()):
                request.skip_special_tokens = False  # special-token markers reach the parser
            return request

        def extract_tool_calls(self, model_output: str, request: Any) -> Any:
            try:
                message = parse(model_output, self.format, lenient=True)
            except GrammarGenError as exc:  # never a 500: the text goes back as it is
                logger.warning("grammargen could not parse the output: %s", exc)
                return ExtractedToolCallInformation(tools_called=False, tool_calls=[],
                                                    content=model_output)
            calls = [ToolCall(id=c["id"], function=FunctionCall(name=c["function"]["name"],
                                                                 arguments=c["function"]["arguments"]))
                     for c in message.tool_calls]
            content = message.content
            if message.reasoning_content:  # a block no reasoning parser took: keep it visible
                content = message.reasoning_content + (content or "")
            return ExtractedToolCallInformation(tools_called=bool(calls), tool_calls=calls,
                                                content=content)

        def extract_tool_calls_streaming(self, previous_text: str, current_text: str,
                                         delta_text: str, previous_token_ids: Any,
                                         current_token_ids: Any, delta_token_ids: Any,
                                         request: Any) -> Any:
            if self._stream is None:
                self._stream = StreamParser(self.format, lenient=True)
            try:
                return delta_message(merge_deltas(self._stream.feed(delta_text)))
            except GrammarGenError as exc:
                logger.warning("grammargen could not parse the streamed output: %s", exc)
                return DeltaMessage(content=delta_text) if delta_text else None

        def finish_streaming(self) -> Any:
            if self._stream is None:
                return None
            stream, self._stream = self._stream, None
            try:
                return delta_message(merge_deltas(stream.close()))
            except GrammarGenError as exc:
                logger.warning("grammargen could not finish the streamed output: %s", exc)
                return None

    class GrammargenReasoningParser(ReasoningParser):
        """Splits off the profile's reasoning block; tells the tool parser the grammar needs it."""

        format = ""
        opened = False
        engine_based_streaming = True  # the block's end is found in the text, not by token id

        def __init__(self, tokenizer: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(tokenizer, *args, **kwargs)
            self.profile = get_profile(self.format)
            self._split = ReasoningSplit.of(self.profile, self.opened)
            self._begin_id, self._end_id = marker_ids(tokenizer, self.profile)

        @property
        def reasoning_start_str(self) -> str | None:
            return self.profile.reasoning.begin if self.profile.reasoning else None

        @property
        def reasoning_end_str(self) -> str | None:
            return self.profile.reasoning.end if self.profile.reasoning else None

        def adjust_request(self, request: Any) -> Any:
            _HANDOFF.value = (id(request), "opened" if self.opened else True)
            return request

        def is_reasoning_end(self, input_ids: Any) -> bool:
            for token in reversed(input_ids):
                if token == self._end_id:
                    return True
                if token == self._begin_id:
                    return False
            return False

        def is_reasoning_end_streaming(self, input_ids: Any, delta_ids: Any) -> bool:
            return self._end_id is not None and self._end_id in delta_ids

        def extract_content_ids(self, input_ids: list[int]) -> list[int]:
            if self._end_id in input_ids[:-1]:
                return input_ids[input_ids.index(self._end_id) + 1:]
            return []

        def has_engine_confirmed_reasoning_end(self) -> bool:
            return self._split.ended

        def extract_reasoning(self, model_output: str, request: Any) -> tuple[str | None, str | None]:
            return split_reasoning(model_output, self.profile, self.opened)

        def extract_reasoning_streaming(self, previous_text: str, current_text: str, delta_text: str,
                                        previous_token_ids: Any, current_token_ids: Any,
                                        delta_token_ids: Any) -> Any:
            reasoning, content = self._split.feed(delta_text)
            if not reasoning and not content:
                return None
            return DeltaMessage(reasoning=reasoning or None, content=content or None)

        def finish_streaming(self) -> Any:
            reasoning, content = self._split.feed("", final=True)
            if not reasoning and not content:
                return None
            return DeltaMessage(reasoning=reasoning or None, content=content or None)

    registered: dict[str, Any] = {}
    for name in formats():
        profile = get_profile(name)
        tool_cls = type(f"GrammargenToolParser_{name}", (GrammargenToolParser,), {"format": name})
        ToolParserManager.register_module(name=plugin_names(profile), module=tool_cls)
        registered.update(dict.fromkeys(plugin_names(profile), tool_cls))
        if profile.reasoning is None:
            continue
        for opened in (False, True):
            suffix = "-opened" if opened else ""
            reasoning_cls = type(f"GrammargenReasoningParser_{name}{suffix}".replace("-", "_"),
                                 (GrammargenReasoningParser,), {"format": name, "opened": opened})
            names = [n + suffix for n in plugin_names(profile)]
            ReasoningParserManager.register_module(name=names, module=reasoning_cls)
    return registered


try:
    import vllm.tool_parsers  # noqa: F401  (absolute: vLLM itself, not this module)
except ImportError:
    REGISTERED: dict[str, Any] = {}  # no vLLM here: the helpers above still work
else:
    REGISTERED = _define()
