"""`synapsectl threads ...`: the conversations IDEs keep with `thread: "new"` on ask/chat."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from synapsectl.cli import render
from synapsectl.cli.common import EXIT_OK, confirmed
from synapsectl.client import Client


def cmd_list(client: Client, args: argparse.Namespace) -> int:
    listing = client.threads_list(limit=args.limit, offset=args.offset)
    if args.json:
        render.emit_json(listing)
        return EXIT_OK
    if not listing.enabled:
        print("threads are turned off ([threads] enabled = false); nothing new is stored", file=sys.stderr)
    if not listing.threads:
        print('no threads (an IDE starts one with thread: "new" on ask or chat)')
        return EXIT_OK
    render.table(
        ["id", "updated", "turns", "chars", "last connection", "title"],
        [[t.id, t.updated_at[:16].replace("T", " "), t.turns, t.chars, t.last_connection, t.title[:48]]
         for t in listing.threads],
    )
    if listing.total > args.offset + len(listing.threads):
        print(f"... {listing.total} threads in all; see more with --offset {args.offset + len(listing.threads)}")
    return EXIT_OK


def cmd_show(client: Client, args: argparse.Namespace) -> int:
    if args.json:
        render.emit_json(client.threads_get(args.id))
    else:
        sys.stdout.write(client.threads_export(args.id, "md").text)
    return EXIT_OK


def cmd_export(client: Client, args: argparse.Namespace) -> int:
    exported = client.threads_export(args.id, args.format)
    if args.output in (None, "-"):
        sys.stdout.write(exported.text)
        return EXIT_OK
    # The text is the user's conversation: the file is private like every file synapse writes.
    from synapsed.paths import write_atomic

    write_atomic(Path(args.output).expanduser().absolute(), exported.text)
    print(f"wrote thread {exported.id} to {args.output} ({exported.format})", file=sys.stderr)
    return EXIT_OK


def cmd_trim(client: Client, args: argparse.Namespace) -> int:
    result = client.threads_trim(args.id, args.keep)
    render.result(result, args.json, f"thread {result.id}: removed {result.removed_turns} turn(s), kept {result.kept_turns}")
    return EXIT_OK


def cmd_rm(client: Client, args: argparse.Namespace) -> int:
    result = client.threads_delete(args.id)
    render.result(result, args.json, f"deleted thread {result.id}" if result.deleted else f"no thread {result.id} (nothing deleted)")
    return EXIT_OK if result.deleted else 1


def cmd_clear(client: Client, args: argparse.Namespace) -> int:
    scope = f"threads last continued before {args.before}" if args.before else "ALL threads"
    if not confirmed(f"Delete {scope}", args.yes):
        return EXIT_OK
    result = client.threads_clear(args.before)
    render.result(result, args.json, f"deleted {result.deleted} thread(s)")
    return EXIT_OK


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    threads = sub.add_parser("threads", help="conversation threads kept for IDEs: list, show, export, rm").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    listing = threads.add_parser("list", parents=[common], help="threads, newest first")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--offset", type=int, default=0)
    listing.set_defaults(run=cmd_list)

    show = threads.add_parser("show", parents=[common], help="every turn of one thread")
    show.add_argument("id")
    show.set_defaults(run=cmd_show)

    export = threads.add_parser("export", parents=[common], help="write one thread as Markdown or JSON lines")
    export.add_argument("id")
    export.add_argument("--format", choices=["md", "jsonl"], default="md")
    export.add_argument("-o", "--output", help="file to write (0600); default stdout")
    export.set_defaults(run=cmd_export)

    trim = threads.add_parser("trim", parents=[common], help="drop old turns so a long thread fits again")
    trim.add_argument("id")
    trim.add_argument("--keep", type=int, required=True, help="how many of the newest turns to keep")
    trim.set_defaults(run=cmd_trim)

    rm = threads.add_parser("rm", aliases=["delete", "remove"], parents=[common], help="delete one thread")
    rm.add_argument("id")
    rm.set_defaults(run=cmd_rm)

    clear = threads.add_parser("clear", parents=[common], help="delete all threads, or those idle since a date")
    clear.add_argument("--before", help="YYYY-MM-DD, ISO time, 'today', or 24h / 7d / 2w ago")
    clear.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    clear.set_defaults(run=cmd_clear)
