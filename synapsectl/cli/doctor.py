"""`synapsectl doctor`: the whole chain in one look, with what to fix."""

from __future__ import annotations

import argparse
from typing import Any

from synapsectl.cli import render
from synapsectl.cli.common import EXIT_FAILED, EXIT_OK, home_of
from synapsed.paths import resolve


def cmd_doctor(args: argparse.Namespace) -> int:
    from synapsectl import doctor

    checks = doctor.run(resolve(args.home), home_of(args))
    failed = any(c.status == "fail" for c in checks)
    if args.json:
        render.emit_json({"ok": not failed, "checks": doctor.as_dicts(checks)})
        return EXIT_FAILED if failed else EXIT_OK
    marks = {"ok": "ok", "warn": "WARN", "fail": "FAIL", "skip": "skip"}
    width = max(len(c.name) for c in checks)
    for c in checks:
        print(f"{marks[c.status]:<4}  {c.name:<{width}}  {c.detail}")
        if c.fix and c.status in ("warn", "fail"):
            print(f"{'':<4}  {'':<{width}}  fix: {c.fix}")
    print("\n" + ("problems found: fix the FAIL lines above" if failed else "all good"))
    return EXIT_FAILED if failed else EXIT_OK



def register(sub: Any, common: argparse.ArgumentParser) -> None:
    sub.add_parser("doctor", parents=[common], help="check the whole chain and say what to fix").set_defaults(
        run=cmd_doctor, local=True)
