"""The redactor's cost on text that holds no key (the common case: answers, log lines, results).

Run: python bench/redaction.py [--markdown BENCHMARKS.md]. With two keys loaded it times, in one
run: redact_text on ordinary text of several lengths; the fragment alternation's search alone
(what every such text paid before the block prefilter); the prefilter alone; and the redaction
of a typical MCP tool result (`listing.result_data`)."""

from __future__ import annotations

import argparse
import sys
import timeit
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.report import report  # noqa: E402
from synapsed.mcp.listing import result_data  # noqa: E402
from synapsed.mcp.tools import Answer  # noqa: E402
from synapsed.redaction import SECRETS, redact_text  # noqa: E402

KEYS = ("sk-proj-KRing7Qx2LmN8pVw4ZtY6bHc1DfGj3SsAa", "sk-ant-api03-EnvZ9yX8wV7uT6sR5qP4oN3mL2kJ1iH")
PROSE = "The quick brown fox jumps over the lazy dog. " * 500


def per_call_us(fn: object, runs: int) -> float:
    return min(timeit.repeat(fn, number=runs, repeat=5)) / runs * 1e6  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    for key in KEYS:
        SECRETS.add(key)
    finder = SECRETS.finder
    assert finder is not None
    rows: list[tuple[str, str, str, str]] = []
    for length in (20, 200, 2000):
        text = PROSE[:length]
        runs = max(200, 200_000 // length)
        now = per_call_us(lambda t=text: redact_text(t, patterns=False), runs)
        search = per_call_us(lambda t=text: finder.search(t), runs)
        prefilter = per_call_us(lambda t=text: SECRETS.may_hold_piece(t), runs)
        rows.append((f"redact_text, {length} chars without a key", "-", f"{now:.2f} µs", "-"))
        rows.append(("  the alternation's search alone (paid before the prefilter) / the prefilter alone", "-",
                     f"{search:.2f} µs / {prefilter:.2f} µs", "-"))
    structured = {"connection": "bench", "provider": "openai", "model": "served-model", "text": "pong " * 40,
                  "usage": {"input_tokens": 12, "output_tokens": 3}, "cost_usd": None, "cost_source": "UNKNOWN",
                  "latency_ms": 1.234, "finish_reason": "stop", "request_id": "req_fake_openai"}
    answer = Answer("pong " * 40, structured)
    rows.append(("redaction of a typical `ask` result (result_data)", "-", f"{per_call_us(lambda: result_data(answer), 20_000):.2f} µs", "-"))
    report("redaction", rows, args.markdown, note="two keys loaded; best of 5")


if __name__ == "__main__":
    main()
