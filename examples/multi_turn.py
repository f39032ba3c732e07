"""Multi-turn tool use with onnxruntime-genai: call -> tool result -> final answer.

Turn 1 is guided by a grammar that lets the model answer or call a tool (``auto``); the
calls are parsed into OpenAI tool_calls and run here.  Turn 2 sees the calls and their
results in the conversation and is guided by a ``tool_choice="none"`` grammar, so the
final answer is plain text that can never start another call.  (The flow of the Cortex.cpp
and MegaLLM function-calling guides, on a local ONNX model.)

    python examples/multi_turn.py MODEL_FOLDER [--format phi4-mini] [--user "..."]

Needs ``pip install grammargen[ort]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import onnxruntime_genai as og

import grammargen
from grammargen import ort
from grammargen.parse import parse
from grammargen.prompt import prompt

EXAMPLES = Path(__file__).resolve().parent


def get_weather(location: str, unit: str = "celsius") -> dict[str, Any]:
    """The tool itself: a stand-in weather service with fixed readings."""
    readings = {"paris": 18, "tokyo": 24, "lima": 21}
    celsius = readings.get(location.split(",")[0].strip().lower(), 20)
    value = celsius if unit == "celsius" else round(celsius * 9 / 5 + 32)
    return {"location": location, "temperature": value, "unit": unit}


FUNCTIONS = {"get_weather": get_weather}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="an onnxruntime-genai model folder")
    parser.add_argument("--tools", default=str(EXAMPLES / "weather_tools.json"))
    parser.add_argument("--format", default="phi4-mini")
    parser.add_argument("--user", default="What's the weather like in Paris today?")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    args = parser.parse_args()

    model = og.Model(args.model)
    tokenizer = og.Tokenizer(model)
    folder = ort.read_model_folder(args.model)
    tools = grammargen.load_tools(Path(args.tools))
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": prompt(tools, args.format)},
        {"role": "user", "content": args.user},
    ]

    def turn(tool_choice: str) -> ort.Generation:
        """One assistant turn over the whole conversation, under a grammar for ``tool_choice``."""
        grammar = grammargen.compile(tools, args.format, tool_choice=tool_choice,
                                     parallel_tool_calls=False, tokenizer=folder.tokenizer)
        text = tokenizer.apply_chat_template(json.dumps(messages), add_generation_prompt=True)
        return ort.generate(model, grammar, list(tokenizer.encode(text)), folder=folder,
                            max_new_tokens=args.max_new_tokens)

    first = turn("auto")
    print("turn 1, model output:", first.text, sep="\n")
    if not first.finished:
        print("turn 1 stopped at --max-new-tokens before it was complete", file=sys.stderr)
        return 1
    reply = parse(first.text, args.format, tools=tools)
    if not reply.tool_calls:
        print("the model answered without calling a tool:", reply.content, sep="\n")
        return 0

    # The assistant's call goes back into the conversation as the model wrote it, then one
    # tool message per call with its result.
    messages.append({"role": "assistant", "content": first.text, "tool_calls": reply.tool_calls})
    for call in reply.tool_calls:
        function = call["function"]
        result = FUNCTIONS[function["name"]](**json.loads(function["arguments"]))
        print(f"tool {function['name']}({function['arguments']}) -> {json.dumps(result)}")
        messages.append({"role": "tool", "tool_call_id": call["id"], "content": json.dumps(result)})

    final = turn("none")
    print("turn 2, final answer:", final.text, sep="\n")
    if not final.finished:
        print("(stopped at --max-new-tokens)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
