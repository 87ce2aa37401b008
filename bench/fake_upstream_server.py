"""A fake OpenAI upstream in its own process (so it does not share the benchmark client's GIL).

    python bench/fake_upstream_server.py [--delay-ms 50]   # prints the port, serves until killed
"""

from __future__ import annotations

import argparse
import itertools
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.fake_upstream import Canned, FakeUpstream, openai_error  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--fail-every", type=int, default=0, help="every Nth chat answers 429, the one after 500")
    args = parser.parse_args()
    upstream = FakeUpstream("openai")
    ok = upstream.family.chat_ok("pong")
    good = Canned(200, ok.json, headers=ok.headers, delay=args.delay_ms / 1000)
    if args.fail_every:
        counter = itertools.count(1)
        limited = openai_error(429, "Rate limit reached for requests", "requests", "rate_limit_exceeded")
        broken = openai_error(500, "The server had an error while processing your request.", "server_error")

        def respond(_record: object) -> Canned:
            n = next(counter)
            if n % args.fail_every == 0:
                return limited
            if n % args.fail_every == 1 and n > 1:
                return broken
            return good

        upstream.reply_chat(respond)
    else:
        upstream.reply_chat(good)
    upstream.start()
    print(upstream.port, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
