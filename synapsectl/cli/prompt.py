"""`synapsectl test NAME PROMPT`: one prompt through a connection, the answer and its facts."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from synapsectl.cli import render
from synapsectl.cli.common import EXIT_OK, UsageError, stdin_text
from synapsectl.client import Client
from synapsed import protocol as p
from synapsed.money import usd

COST_SOURCES = {
    "ACTUAL": "reported by the provider",
    "ESTIMATED": "estimated from the price table",
    "UNKNOWN": "unknown",
}


def cost_fact(result: p.ChatResult) -> str:
    """The cost and where it comes from: a table estimate is never shown as the provider's charge."""
    source = COST_SOURCES.get(result.cost_source, result.cost_source.lower())
    if result.cost_usd is None:
        return f"cost {source}"
    return f"cost {usd(result.cost_usd)} ({source})"


def _schema(raw: str | None) -> dict[str, Any] | None:
    """--schema: inline JSON, or @FILE holding it."""
    if raw is None:
        return None
    import json
    from pathlib import Path

    try:
        text = Path(raw[1:]).expanduser().read_text(encoding="utf-8") if raw.startswith("@") else raw
        value = json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise UsageError(f"--schema: cannot read a JSON Schema from {raw[:60]!r} ({type(exc).__name__})") from None
    if not isinstance(value, dict):
        raise UsageError("--schema must be a JSON object (a JSON Schema)")
    return value


def cmd_test(client: Client, args: argparse.Namespace) -> int:
    prompt = stdin_text("the prompt on stdin") if args.prompt == "-" else args.prompt
    params = p.ChatParams(
        name=args.name,
        prompt=prompt,
        system=args.system,
        max_output_tokens=args.max_tokens,
        temperature=args.temperature,
        reasoning=args.reasoning,
        include_reasoning=args.include_reasoning,
        response_schema=_schema(args.schema),
    )
    completion = client.chat_complete(params)
    if args.json:
        render.emit_json(completion)
        return EXIT_OK
    r = completion.result
    print(r.text)
    if r.reasoning_summary:
        print(f"\n[reasoning summary]\n{r.reasoning_summary}")
    elif r.reasoning_note:
        print(f"\n[reasoning: {r.reasoning_note}]")
    tokens = f"{r.input_tokens if r.input_tokens is not None else '?'} in / {r.output_tokens if r.output_tokens is not None else '?'} out"
    if r.reasoning_tokens:
        tokens += f" ({r.reasoning_tokens} reasoning)"
    if r.cache_read_tokens:
        tokens += f", {r.cache_read_tokens} from cache"
    facts = [f"model {r.model}", f"tokens {tokens}", f"{r.latency_ms:.0f} ms"]
    if r.endpoint:
        facts.append(f"endpoint {r.endpoint}")
    if r.finish_reason:
        facts.append(f"finish {r.finish_reason}")
    facts.append(cost_fact(r))
    if r.request_id:
        facts.append(f"request {r.request_id}")
    print("-- " + " · ".join(facts), file=sys.stderr)
    return EXIT_OK



def register(sub: Any, common: argparse.ArgumentParser) -> None:
    test = sub.add_parser("test", parents=[common], help="send one prompt through a connection and print the answer")
    test.add_argument("name", help="the connection to send it through (see `synapsectl connections list`)")
    test.add_argument("prompt", help='the prompt, or "-" to read it from stdin')
    test.add_argument("--system", help="a system prompt")
    test.add_argument("--max-tokens", type=int, dest="max_tokens", help="cap the answer's length")
    test.add_argument("--temperature", type=float)
    test.add_argument("--reasoning", choices=["none", "low", "medium", "high", "max"],
                      help="how hard the model thinks (mapped to the provider's own control; refused where it has none)")
    test.add_argument("--include-reasoning", action="store_true", dest="include_reasoning",
                      help="print the reasoning summary the provider returns")
    test.add_argument("--schema", help="a JSON Schema the answer must meet, inline or @FILE; the answer is validated")
    test.set_defaults(run=cmd_test, long_running=True)
