"""Parallel tool calls with onnxruntime-genai: one turn makes several calls, run concurrently.

The grammar allows several calls in one turn (``parallel_tool_calls=True``); the parsed
calls run at the same time with ``asyncio.gather`` (each tool here waits on a simulated
booking service), and their results go back into the conversation for the final answer.

    python examples/parallel_calls.py MODEL_FOLDER [--format phi4-mini] [--user "..."]

Needs ``pip install grammargen[ort]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

import onnxruntime_genai as og

import grammargen
from grammargen import ort
from grammargen.parse import parse
from grammargen.prompt import prompt

EXAMPLES = Path(__file__).resolve().parent
SERVICE_DELAY = 0.5  # seconds each simulated booking service takes to answer
USER_TEXT = ("book flight ticket from Beijing to Paris(using airport code) in 2025-12-04 to 2025-12-10, "
             "then book hotel from 2025-12-04 to 2025-12-10 in Paris")


async def booking_flight_tickets(origin_airport_code: str, destination_airport_code: str,
                                 departure_date: str, return_date: str) -> dict[str, Any]:
    """Book a round trip (a stand-in service that answers after SERVICE_DELAY)."""
    await asyncio.sleep(SERVICE_DELAY)
    return {"status": "booked", "flight": f"{origin_airport_code}-{destination_airport_code}",
            "outbound": departure_date, "return": return_date}


async def booking_hotels(destination: str, check_in_date: str, checkout_date: str) -> dict[str, Any]:
    """Book a hotel (a stand-in service that answers after SERVICE_DELAY)."""
    await asyncio.sleep(SERVICE_DELAY)
    return {"status": "booked", "hotel": f"Hotel in {destination}",
            "nights": f"{check_in_date}..{checkout_date}"}


FUNCTIONS: dict[str, Callable[..., Awaitable[dict[str, Any]]]] = {
    "booking_flight_tickets": booking_flight_tickets,
    "booking_hotels": booking_hotels,
}


async def run_calls(tool_calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run every call at once; a failing call becomes an error result, not a crash."""
    async def one(call: dict[str, Any]) -> dict[str, Any]:
        function = call["function"]
        try:
            result = await FUNCTIONS[function["name"]](**json.loads(function["arguments"]))
        except Exception as exc:  # a tool's failure is reported back to the model
            result = {"error": f"{type(exc).__name__}: {exc}"}
        return {"role": "tool", "tool_call_id": call["id"], "content": json.dumps(result)}

    return list(await asyncio.gather(*(one(call) for call in tool_calls)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="an onnxruntime-genai model folder")
    parser.add_argument("--tools", default=str(EXAMPLES / "travel_tools.json"))
    parser.add_argument("--format", default="phi4-mini")
    parser.add_argument("--user", default=USER_TEXT)
    parser.add_argument("--max-calls", type=int, default=4, help="at most this many calls in the turn")
    parser.add_argument("--max-new-tokens", type=int, default=512)
    args = parser.parse_args()

    model = og.Model(args.model)
    tokenizer = og.Tokenizer(model)
    folder = ort.read_model_folder(args.model)
    tools = grammargen.load_tools(Path(args.tools))
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": prompt(tools, args.format)},
        {"role": "user", "content": args.user},
    ]

    def turn(**options: Any) -> ort.Generation:
        grammar = grammargen.compile(tools, args.format, tokenizer=folder.tokenizer, **options)
        text = tokenizer.apply_chat_template(json.dumps(messages), add_generation_prompt=True)
        return ort.generate(model, grammar, list(tokenizer.encode(text)), folder=folder,
                            max_new_tokens=args.max_new_tokens, enable_ff_tokens=True)

    first = turn(tool_choice="required", max_calls=args.max_calls)
    print("model output:", first.text, sep="\n")
    if not first.finished:
        print("stopped at --max-new-tokens before the calls were complete", file=sys.stderr)
        return 1
    reply = parse(first.text, args.format, tools=tools)
    messages.append({"role": "assistant", "content": first.text, "tool_calls": reply.tool_calls})

    start = time.perf_counter()
    results = asyncio.run(run_calls(reply.tool_calls))
    took = time.perf_counter() - start
    for call, result in zip(reply.tool_calls, results):
        print(f"tool {call['function']['name']}({call['function']['arguments']}) -> {result['content']}")
    print(f"{len(results)} call(s) ran concurrently in {took:.2f} s "
          f"(one after another: {len(results) * SERVICE_DELAY:.2f} s)")
    messages.extend(results)

    final = turn(tool_choice="none")
    print("final answer:", final.text, sep="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
