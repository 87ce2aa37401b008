"""`synapsectl preflight NAME | --all [--probe] [--explain]`: stages stream in as they finish."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from synapsectl.cli import render
from synapsectl.cli.common import EXIT_FAILED, EXIT_OK, UsageError
from synapsectl.client import Client
from synapsed import protocol as p
from synapsed.catalog import guide_for

_MARK = {"pass": "ok", "warn": "WARN", "fail": "FAIL", "skip": "skip"}


def _printer(width: int, explain: bool, providers: dict[str, str]) -> Any:
    def show(connection: str, check: p.PreflightCheck) -> None:
        print(f"{connection:<{width}}  {check.name:<10}  {_MARK[check.status]:<4}  {check.duration_ms:>8.1f} ms  "
              f"{check.message}")
        pad = " " * (width + 2) + " " * 12
        if check.status == "fail":
            print(f"{pad}kind: {check.kind}")
            if check.hint:
                print(f"{pad}hint: {check.hint}")
        if explain and check.status in ("fail", "warn") and connection in providers:
            print(f"{pad}guide: {guide_for(providers[connection], check.name)}")
        sys.stdout.flush()

    return show


def cmd_preflight(client: Client, args: argparse.Namespace) -> int:
    if (args.name is None) == (not args.all):
        raise UsageError("give a connection NAME or --all")
    params = p.PreflightParams(name=args.name, all=args.all, probe=args.probe)
    if args.json:
        result = client.preflight_run(params)
        render.emit_json(result)
        return EXIT_OK if result.ok else EXIT_FAILED
    listing = client.connections_list(with_keys=False).connections
    providers = {c.name: c.provider for c in listing}
    width = len(args.name) if args.name else max([len(c.name) for c in listing] or [4])
    if args.probe:
        print("note: --probe sends one real completion per connection; the provider bills it")
    result = client.preflight_run(params, on_check=_printer(width, args.explain, providers))
    if not result.reports:
        print("no connections to check")
        return EXIT_OK
    failed = [r.connection for r in result.reports if not r.ok]
    warnings = sum(1 for r in result.reports for c in r.checks if c.status == "warn")
    print()
    if failed:
        print(f"preflight failed for {', '.join(failed)} ({len(result.reports) - len(failed)} of {len(result.reports)} ok)")
        if not args.explain:
            print("run again with --explain for the guide section of each failing stage")
        return EXIT_FAILED
    plural = "s" if len(result.reports) != 1 else ""
    noted = f" with {warnings} warning(s): read the WARN lines" if warnings else ""
    print(f"preflight passed ({len(result.reports)} connection{plural}){noted}")
    return EXIT_OK


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    pre = sub.add_parser("preflight", parents=[common], help="check a connection end to end before IDEs use it")
    pre.add_argument("name", nargs="?", help="the connection to check")
    pre.add_argument("--all", action="store_true", help="check every connection, concurrently")
    pre.add_argument("--probe", action="store_true", help="also send one minimal completion (billed by the provider)")
    pre.add_argument("--explain", action="store_true", help="link each failing or warning stage to its guide section")
    pre.set_defaults(run=cmd_preflight, long_running=True)
