"""A fake OpenAI upstream in its own process (so it does not share the benchmark client's GIL).

    python bench/fake_upstream_server.py [--delay-ms 50]   # prints the port, serves until killed
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.fake_upstream import Canned, FakeUpstream  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    upstream = FakeUpstream("openai")
    ok = upstream.family.chat_ok("pong")
    upstream.reply_chat(Canned(200, ok.json, headers=ok.headers, delay=args.delay_ms / 1000))
    upstream.start()
    print(upstream.port, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
