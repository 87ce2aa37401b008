"""`synapsectl console`: open the web console on a one-time login link."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from synapsectl.cli import render
from synapsectl.cli.common import EXIT_OK
from synapsectl.client import Client


def cmd_console(client: Client, args: argparse.Namespace) -> int:
    link = client.console_login()
    if args.json:
        render.emit_json(link)
        return EXIT_OK
    if not args.print_url:
        import webbrowser  # only here: it probes for browsers at import

        if webbrowser.open(link.url):
            print(f"opened the console in your browser (the link works once, within {link.expires_in_s:g} s)")
            return EXIT_OK
        print("no browser found here; open this link yourself:", file=sys.stderr)
    print(link.url)
    print(f"(single use, valid for {link.expires_in_s:g} s; run `synapsectl console` again for a new one)", file=sys.stderr)
    return EXIT_OK


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    console = sub.add_parser("console", parents=[common],
                             help="open the web console (connections, preflight, usage, IDEs) in a browser")
    console.add_argument("--print-url", action="store_true",
                         help="print the one-time login link instead of opening a browser")
    console.set_defaults(run=cmd_console)
