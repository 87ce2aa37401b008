"""`synapsectl service install | uninstall | status | logs`."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from typing import Any

from synapsectl.cli import render
from synapsectl.cli.common import MAX_LOG_LINES, home_of, int_in
from synapsed.paths import resolve

EXIT_OK, EXIT_FAILED = 0, 1


def _fail(message: str, hint: str, as_json: bool) -> int:
    if as_json:
        render.emit_json({"error": {"kind": "service", "message": message, "hint": hint}})
    else:
        print(f"error: {message}\nhint: {hint}", file=sys.stderr)
    return EXIT_FAILED


def _print_report(report: dict[str, Any]) -> None:
    for item in report["files"]:
        if "content" in item:
            print(f"# --- {item['path']} ({item['action']}) ---")
            print(item["content"], end="" if item["content"].endswith("\n") else "\n")
        else:
            print(f"{item['action']}: {item['path']}")
    for command in report["commands"]:
        line = " ".join(command["command"])
        print(f"$ {line}" if not command["ran"] else f"ran: {line} (exit {command['exit_code']})")
    if note := report.get("note"):
        print(note)


def _change(args: argparse.Namespace, install: bool) -> int:
    from synapsectl import service

    try:
        if install:
            report = service.install(resolve(args.home), home_of(args), args.socket, args.dry_run)
        else:
            report = service.uninstall(resolve(args.home), home_of(args), args.dry_run)
    except service.ServiceError as exc:
        return _fail(exc.message, exc.hint, args.json)
    if args.json:
        render.emit_json(report)
        return EXIT_OK
    _print_report(report)
    if install and not args.dry_run:
        print(f"synapsed is installed as a login service ({report['platform']}: {report['unit']})")
    return EXIT_OK


def cmd_install(args: argparse.Namespace) -> int:
    return _change(args, install=True)


def cmd_uninstall(args: argparse.Namespace) -> int:
    return _change(args, install=False)


def cmd_status(args: argparse.Namespace) -> int:
    from synapsectl import service
    from synapsectl.client import Client, DaemonNotRunning

    paths = resolve(args.home)
    try:
        state = service.status(paths, home_of(args))
    except service.ServiceError as exc:
        return _fail(exc.message, exc.hint, args.json)
    try:
        daemon = Client(paths.socket, timeout=5).daemon_status()
        state["daemon"] = f"answers (pid {daemon.pid}, {daemon.version})"
    except (DaemonNotRunning, OSError):
        state["daemon"] = "not answering"
    if args.json:
        render.emit_json(state)
    else:
        render.fields([(k, v) for k, v in state.items() if k != "files"] + [("files", ", ".join(state["files"]))])
    return EXIT_OK if state["installed"] and state["daemon"].startswith("answers") else EXIT_FAILED


def cmd_logs(args: argparse.Namespace) -> int:
    from synapsectl import logs

    if sys.platform != "darwin" and shutil.which("journalctl") and not args.file:
        if _journal_has_entries():
            command = ["journalctl", "--user", "-u", "synapsed", "-n", str(args.lines), "--no-pager"] + (
                ["-f"] if args.follow else [])
            if subprocess.run(command).returncode == 0:
                return EXIT_OK
        print("the user journal has nothing for synapsed (no user journal on this machine, or the service never "
              "ran); showing the log file instead", file=sys.stderr)
    return logs.show(resolve(args.home).log_file, args.lines, args.follow, args.json)


def _journal_has_entries() -> bool:
    """Whether journalctl holds any line of the user unit. It exits 0 and says only "No journal
    files were found." on machines without a user journal, so its exit code alone proves nothing."""
    probe = subprocess.run(["journalctl", "--user", "-u", "synapsed", "-n", "1", "--no-pager", "-q", "-o", "cat"],
                           capture_output=True, text=True)
    return probe.returncode == 0 and bool(probe.stdout.strip())


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    service = sub.add_parser("service", help="start synapsed at login (systemd user unit / launchd agent)").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    install = service.add_parser("install", parents=[common], help="write, enable and start the login service")
    install.add_argument("--dry-run", action="store_true", help="print the files and commands instead")
    install.add_argument("--socket", action="store_true", help="systemd: socket-activate the control socket")
    install.set_defaults(run=cmd_install, local=True)
    uninstall = service.add_parser("uninstall", parents=[common], help="stop and remove what install created")
    uninstall.add_argument("--dry-run", action="store_true")
    uninstall.set_defaults(run=cmd_uninstall, local=True)
    service.add_parser("status", parents=[common], help="installed, enabled, running, answering?").set_defaults(
        run=cmd_status, local=True)
    logs = service.add_parser("logs", parents=[common], help="the service's logs (journalctl, else the log file)")
    logs.add_argument("-n", "--lines", type=int_in(0, MAX_LOG_LINES), default=50)
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("--file", action="store_true", help="read the log file even where journalctl exists")
    logs.set_defaults(run=cmd_logs, local=True)
