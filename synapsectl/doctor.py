"""`synapsectl doctor`: the whole chain in one look — daemon, service, files, keyring, MCP,
connections — with what to fix for every link that is broken."""

from __future__ import annotations

import os
import socket
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from synapsectl.client import Client, DaemonNotRunning, ProtocolError, RpcError
from synapsed import protocol as p
from synapsed.errors import SynapseError
from synapsed.lifecycle import start_failure
from synapsed.paths import Paths


@dataclass
class Check:
    name: str
    status: str  # ok | warn | fail | skip
    detail: str
    fix: str = ""


def _mode_problem(path: Path, want: int) -> tuple[str, str] | None:
    """What is wrong with one of our paths and the command that fixes it, or None."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None
    if st.st_uid != os.getuid():  # chmod cannot fix what another user owns
        return f"{path} is owned by uid {st.st_uid}", f"rm -r {path} (as its owner or root)"
    if stat.S_IMODE(st.st_mode) & 0o077:
        return f"{path} is mode {stat.S_IMODE(st.st_mode):04o}, not {want:04o}", f"chmod {want:o} {path}"
    return None


def check_paths(paths: Paths) -> Check:
    problems = []
    for directory in (paths.config_dir, paths.state_dir, paths.runtime_dir):
        if (problem := _mode_problem(directory, 0o700)) is not None:
            problems.append(problem)
    for file in (paths.config_file, paths.token_file, paths.ledger_file, paths.log_file):
        if (problem := _mode_problem(file, 0o600)) is not None:
            problems.append(problem)
    if problems:
        return Check("files", "fail", "; ".join(p for p, _ in problems), " && ".join(f for _, f in problems))
    return Check("files", "ok", f"private: {paths.config_dir}, {paths.state_dir}, {paths.runtime_dir}")


def check_service(paths: Paths, home: str | None) -> Check:
    from synapsectl import service

    try:
        state = service.status(paths, home)
    except service.ServiceError as exc:
        return Check("service", "warn", exc.message, exc.hint)
    if not state["manager"].startswith("available"):
        return Check("service", "warn", f"no user service manager ({state['manager']})",
                     "start `synapsed` yourself (e.g. from your shell's startup); it will not start at login")
    if not state["installed"]:
        return Check("service", "warn", "not installed: synapsed will not start at login", "synapsectl service install")
    if state["running"] not in ("active", "loaded"):
        return Check("service", "fail", f"installed but {state['running']}", "synapsectl service logs; then systemctl --user restart synapsed")
    return Check("service", "ok", f"{state['platform']}: enabled={state['enabled']}, running={state['running']}")


def check_mcp(status: p.DaemonStatus) -> list[Check]:
    mcp = status.mcp
    if mcp is None:
        return [Check("mcp", "fail", "the MCP service is not running", "synapsectl logs — look for 'mcp failed to start'")]
    checks = []
    try:
        with socket.create_connection(("127.0.0.1", mcp.port), timeout=2):
            checks.append(Check("mcp", "ok", f"listening at {mcp.url}"))
    except OSError as exc:
        checks.append(Check("mcp", "fail", f"{mcp.url} does not accept connections ({exc.strerror})",
                            "restart synapsed; check [mcp] port in config.toml"))
    token = Path(mcp.token_file)
    if not mcp.require_token:
        checks.append(Check("mcp token", "warn", "token requirement is OFF: any local process can use your keys",
                            "set [mcp] require_token = true unless a client truly cannot send headers"))
    elif not token.exists():
        checks.append(Check("mcp token", "fail", f"{token} is missing", "restart synapsed (it creates one)"))
    else:
        checks.append(Check("mcp token", "ok", f"{token} present (IDE snippets: synapsectl mcp config --client ...)"))
    return checks


def check_keyring(status: p.DaemonStatus, listing: p.ConnectionList) -> Check:
    users = [c.name for c in listing.connections if c.credential == "keyring" and c.enabled]
    if status.keyring.usable:
        return Check("keyring", "ok", status.keyring.backend)
    needing = [c.name for c in listing.connections if c.credential == "keyring" and c.enabled
               and c.key is not None and not c.key.present and c.key.error_kind is not None]
    if needing:
        return Check("keyring", "fail", f"no usable keyring backend, but {', '.join(needing)} read their key from it",
                     "synapsectl connections edit NAME --credential env:VAR (or file:PATH)")
    return Check("keyring", "warn" if users else "ok", f"no usable keyring backend ({status.keyring.backend}); "
                 "env: and file: credentials work")


def check_connections(listing: p.ConnectionList) -> list[Check]:
    checks = []
    for c in listing.connections:
        name = f"connection {c.name}"
        if not c.enabled:
            checks.append(Check(name, "skip", "disabled"))
        elif c.key is not None and not c.key.present and c.key.error_kind is not None:
            checks.append(Check(name, "fail", f"key: {c.key.error_kind}", c.key.hint or f"synapsectl key set {c.name}"))
        elif c.last_preflight is None:
            checks.append(Check(name, "warn", "never preflighted", f"synapsectl preflight {c.name}"))
        elif not c.last_preflight.ok:
            checks.append(Check(name, "fail", f"last preflight failed at {c.last_preflight.failed_check}: "
                                f"{c.last_preflight.kind} ({c.last_preflight.at})", f"synapsectl preflight {c.name}"))
        else:
            checks.append(Check(name, "ok", f"preflight passed {c.last_preflight.at}"))
    if not listing.connections:
        checks.append(Check("connections", "warn", "none configured",
                            "synapsectl connections add NAME --provider openai --model gpt-4o-mini"))
    return checks


def _waits(record: Any, server: dict[str, Any] | None) -> float | None:
    """How long the installed client waits for one tool call, in seconds (None: not documented)."""
    from synapsed import ide_config

    spec = ide_config.TOOL_TIMEOUTS.get(record.client)
    if spec is None or server is None:
        return None
    field, unit, default = spec
    value = server.get(field)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return default
    return value / 1000 if unit == "ms" else float(value)


def check_client_timeouts(paths: Paths, listing: p.ConnectionList) -> list[Check]:
    """An installed client that gives up on a tool call before the slowest connection's timeout
    would lose answers that were paid for: say which, and how to fix it."""
    from synapsectl import ide_install

    enabled = [c for c in listing.connections if c.enabled]
    if not enabled:
        return []
    slowest = max(enabled, key=lambda c: c.timeout_s)
    try:
        installs = ide_install.Installs(paths.config_dir / "installs.json").load().installs
    except SynapseError:
        return []
    checks = []
    for record in installs:
        try:
            text = ide_install.read_text(Path(record.path)) if record.client != "claude-code" else None
            server = ide_install.current_servers(record.target(), text).get(record.name) if text else None
        except SynapseError:
            continue
        waits = _waits(record, server)
        if waits is None or waits >= slowest.timeout_s:
            continue
        checks.append(Check(f"{record.client} timeout", "warn",
                            f"{record.client} waits {waits:.0f} s for a tool call ({record.path}); connection "
                            f"{slowest.name} may take up to {slowest.timeout_s:.0f} s, and its answer would be lost",
                            f"synapsectl mcp install --client {record.client} --scope {record.scope} --force"
                            + (f" --name {record.name}" if record.name != "synapse" else "")
                            + (" --stdio" if record.transport == "stdio" else "")
                            + (f" --connection {record.connection}" if record.connection else "")
                            + " (writes a timeout that covers it)"))
    return checks


def run(paths: Paths, home: str | None) -> list[Check]:
    checks: list[Check] = []
    client = Client(paths.socket, timeout=10)
    try:
        status = client.daemon_status()
        listing = client.connections_list()
    except DaemonNotRunning:
        failed = start_failure(paths.log_file)
        if failed is not None:
            checks.append(Check("daemon", "fail", f"not running: its last start failed: {failed.error}",
                                failed.hint or "run `synapsed` in a terminal to see why"))
        else:
            checks.append(Check("daemon", "fail", f"not running (no answer on {paths.socket})",
                                "synapsectl service install (starts at login), or run `synapsed`"))
        checks.append(check_service(paths, home))
        checks.append(check_paths(paths))
        return checks
    except SynapseError as exc:  # the socket's path or owner: nothing was sent
        checks.append(Check("daemon", "fail", exc.message, exc.hint or "synapsectl logs"))
        checks.append(check_paths(paths))
        return checks
    except ProtocolError as exc:
        checks.append(Check("daemon", "fail", f"answers, but wrongly: {exc}", exc.hint))
        return checks
    except (RpcError, OSError) as exc:
        checks.append(Check("daemon", "fail", f"answers, but wrongly: {exc}", "synapsectl logs"))
        return checks
    checks.append(Check("daemon", "ok", f"synapsed {status.version}, pid {status.pid}, config revision {status.config_revision}"))
    checks.append(check_service(paths, home))
    checks.append(check_paths(paths))
    checks.append(check_keyring(status, listing))
    checks.extend(check_mcp(status))
    checks.extend(check_connections(listing))
    checks.extend(check_client_timeouts(paths, listing))
    return checks


def as_dicts(checks: list[Check]) -> list[dict[str, Any]]:
    return [asdict(c) for c in checks]
