"""`synapsectl docs [TOPIC]`: the guides, offline, from the checkout or the installed copy."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from synapsectl.cli import render
from synapsectl.cli.common import EXIT_FAILED, EXIT_OK, UsageError


def cmd_docs(args: argparse.Namespace) -> int:
    from synapsed.docs_location import docs_root, topics

    found = topics()
    if not found:
        print("error: no guides on this machine (neither a source checkout's docs/ nor an installed copy)",
              file=sys.stderr)
        print("hint: reinstall the package (pipx reinstall mcp-synapse), or read them in the source repository",
              file=sys.stderr)
        return EXIT_FAILED
    if args.topic is None:
        if args.json:
            render.emit_json({"root": str(docs_root()), "topics": {k: str(v) for k, v in found.items()}})
            return EXIT_OK
        print(f"guides in {docs_root()}:")
        for name in found:
            print(f"  {name}")
        print("\nshow one: synapsectl docs TOPIC   (e.g. synapsectl docs providers/openai)")
        return EXIT_OK
    topic = args.topic.removeprefix("docs/").removesuffix(".md").split("#", 1)[0]
    path = found.get(topic) or found.get(f"providers/{topic}")
    if path is None:
        close = [name for name in found if topic in name]
        raise UsageError(f"no guide named {args.topic!r}" + (f"; did you mean: {', '.join(close)}" if close else
                                                              "; `synapsectl docs` lists them"))
    if args.path or args.json:
        if args.json:
            render.emit_json({"topic": topic, "path": str(path)})
        else:
            print(path)
        return EXIT_OK
    sys.stdout.write(path.read_text(encoding="utf-8"))
    return EXIT_OK


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    docs = sub.add_parser("docs", parents=[common], help="print a guide (offline), or list them")
    docs.add_argument("topic", nargs="?", help="e.g. ides, usage, security, providers/openai (or just openai)")
    docs.add_argument("--path", action="store_true", help="print where the guide is instead of its text")
    docs.set_defaults(run=cmd_docs, local=True)
