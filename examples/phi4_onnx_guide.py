"""The Phi-4-mini ONNX parallel function-calling guide, redone with grammargen.

The guide hand-writes a Lark grammar (free text, or ``<|tool_call|>`` then JSON) and passes
the tools to the prompt with Python's ``str()``.  Here grammargen does both: the prompt
shows the tools as real JSON, the grammar follows Phi-4-mini's real call format (a JSON
array between ``<|tool_call|>`` and ``<|/tool_call|>``, every argument checked against its
schema) and names the markers the way this model folder's tokenizer needs, and the output
is read back into OpenAI tool_calls.

    python examples/phi4_onnx_guide.py PATH/TO/Phi-4-mini-instruct-onnx/cpu-int4-rtn-block-32-acc-level-4
    python examples/phi4_onnx_guide.py MODEL --tools examples/travel_tools.json --format phi4-mini

Needs ``pip install grammargen[ort]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import onnxruntime_genai as og

import grammargen
from grammargen import ort
from grammargen.parse import parse
from grammargen.prompt import prompt

EXAMPLES = Path(__file__).resolve().parent
USER_TEXT = ("book flight ticket from Beijing to Paris(using airport code) in 2025-12-04 to 2025-12-10, "
             "then book hotel from 2025-12-04 to 2025-12-10 in Paris")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="an onnxruntime-genai model folder (genai_config.json, tokenizer.json)")
    parser.add_argument("--tools", default=str(EXAMPLES / "travel_tools.json"), help="tool list (JSON)")
    parser.add_argument("--format", default="phi4-mini", help="grammargen format profile")
    parser.add_argument("--user", default=USER_TEXT, help="the user's request")
    parser.add_argument("--max-new-tokens", type=int, default=512)
    parser.add_argument("--max-calls", type=int, default=None, help="at most this many parallel calls")
    args = parser.parse_args()

    # Steps 1-2: the model, its tokenizer (for encoding), and grammargen's view of the folder.
    model = og.Model(args.model)
    tokenizer = og.Tokenizer(model)
    folder = ort.read_model_folder(args.model)

    # Step 4: the tools, in any common dialect (the guide's flat parameter map included).
    tools = grammargen.load_tools(Path(args.tools))

    # Steps 5-6: the grammar and the system prompt. The prompt goes in as the system message's
    # content (not through apply_chat_template(tools=...), which rewrites the schemas).
    grammar = grammargen.compile(tools, args.format, tool_choice="auto", max_calls=args.max_calls,
                               tokenizer=folder.tokenizer)
    messages = [{"role": "system", "content": prompt(tools, args.format)},
                {"role": "user", "content": args.user}]
    text = tokenizer.apply_chat_template(json.dumps(messages), add_generation_prompt=True)
    input_tokens = tokenizer.encode(text)

    # Step 7: the guided generator.
    params = og.GeneratorParams(model)
    params.set_search_options(do_sample=False, max_length=len(input_tokens) + args.max_new_tokens)
    # Fast-forwarded tokens (enable_ff_tokens=True) save steps, but onnxruntime-genai 0.18.0
    # writes them past max_length; grammargen.ort.generate leaves room for that.
    grammar.apply(params)
    generator = og.Generator(model, params)
    generator.append_tokens(input_tokens)

    # Steps 8-9: generate. og's own decode drops special tokens such as <|tool_call|>, so
    # decode with the folder's tokenizer, special tokens kept.  (New tokens are read from the
    # sequence: with fast-forwarded tokens get_next_tokens() shows only a step's last one.)
    done = len(input_tokens)
    limit = len(input_tokens) + args.max_new_tokens
    while not generator.is_done():
        generator.generate_next_token()
        sequence = [int(t) for t in generator.get_sequence(0)]
        print(folder.tokenizer.decode(sequence[done:]), end="", flush=True)
        done = len(sequence)
    print()
    raw = folder.tokenizer.decode(sequence[len(input_tokens):])
    if len(sequence) >= limit:
        print(f"stopped at --max-new-tokens {args.max_new_tokens} before the output was complete",
              file=sys.stderr)
        return 1

    message = parse(raw, args.format, tools=tools)
    print("OpenAI message:", json.dumps(message.to_openai(), indent=2, ensure_ascii=False), sep="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
