"""config.toml as text: parsing with file/line/field errors, and rendering back.

msgspec does the typing; every connection goes through validation.py's rules, so a hand edit
and an RPC create are held to the same checks.
"""

from __future__ import annotations

import os
import re
import tomllib
import typing
from typing import Any

import msgspec

from synapsed import validation
from synapsed.config.schema import (
    LOOPBACK_BINDS,
    SCHEMA_VERSION,
    Config,
    ConnectionConfig,
    ConsoleSettings,
    ContextSettings,
    McpSettings,
    ThreadSettings,
)
from synapsed.errors import SynapseError
from synapsed.redaction import is_secret_key

HEADER = (
    "# mcp synapse configuration. The daemon rewrites this file atomically; hand edits are fine:\n"
    "# run `synapsectl reload` (or send SIGHUP) afterwards. Keys never belong here: use the keyring\n"
    "# (`synapsectl key set NAME`) or a credential reference like env:VAR or file:PATH.\n"
)

_TOML_LINE_RE = re.compile(r"at line (\d+)")


def _line_of(text: str, *needles: str) -> int | None:
    """1-based line of the first line containing all needles in order of search, best effort."""
    for number, line in enumerate(text.splitlines(), 1):
        if all(n in line for n in needles):
            return number
    return None


def _allowed_values(root: Any, field: str | None) -> str | None:
    """For a field whose type is a set of words (a Literal), the words it takes: the hint of an
    "Invalid enum value" error."""
    if not field:
        return None
    node: Any = root
    for part in field.split("."):
        hints = typing.get_type_hints(node) if isinstance(node, type) else {}
        node = hints.get(part)
        if node is None:
            return None
    choices = [a for a in typing.get_args(node) if isinstance(a, str)]
    if typing.get_origin(node) is typing.Literal and choices:
        return f"use one of: {', '.join(choices)}"
    return None


def _invalid(message: str, source: str, line: int | None, field: str | None, hint: str | None = None) -> SynapseError:
    where = f"{source}:{line}" if line else source
    detail: dict[str, Any] = {"file": source}
    if line:
        detail["line"] = line
    if field:
        detail["field"] = field
    return SynapseError("config_invalid", f"{where}: {message}", hint=hint, **detail)


def _most_nested_line(text: str) -> int:
    """The line that opens the most arrays and inline tables: where to look."""
    lines = text.splitlines() or [""]
    counts = [line.count("[") + line.count("{") for line in lines]
    return counts.index(max(counts)) + 1


def parse(text: str, source: str = "config.toml") -> Config:
    """Parse and validate config text; errors name the file, line and field."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_LINE_RE.search(str(exc))
        raise _invalid(f"not valid TOML: {exc}", source, int(match.group(1)) if match else None, None) from None
    except RecursionError:  # tomllib recurses per level of nested arrays / inline tables
        raise _invalid("arrays or inline tables nested too deeply for the TOML parser", source,
                       _most_nested_line(text), None) from None
    raw_conns = raw.pop("connections", {})
    try:
        top = msgspec.convert(raw, type=Config)
    except msgspec.ValidationError as exc:
        field = _field_from_validation(str(exc))
        raise _invalid(str(exc), source, _line_of(text, field.split(".")[-1]) if field else None, field,
                       hint=_allowed_values(Config, field)) from None
    if top.schema_version > SCHEMA_VERSION:
        raise _invalid(
            f"schema_version {top.schema_version} is newer than this synapsed understands ({SCHEMA_VERSION})",
            source,
            _line_of(text, "schema_version"),
            "schema_version",
            hint="upgrade mcp-synapse, or restore the config written by this version",
        )
    check_mcp(top.mcp, text, source)
    check_threads(top.threads, text, source)
    if not 0 <= top.usage.keep_rows_days <= 36_500:
        raise _invalid("usage.keep_rows_days must be between 0 (keep every row) and 36500", source,
                       _line_of(text, "keep_rows_days"), "usage.keep_rows_days",
                       hint="rollups are kept whatever this says; it prunes only the per-request rows")
    check_console(top.console, text, source)
    check_context(top.context, text, source)
    try:
        validation.check_budget(top.budget)
    except SynapseError as exc:
        raise _invalid(exc.message, source, _line_of(text, "[budget]"), "budget", hint=exc.hint) from None
    for key, price in top.prices.items():
        if "/" not in key or price.input_per_mtok < 0 or price.output_per_mtok < 0:
            raise _invalid(f"prices entry {key!r} is invalid", source, _line_of(text, key), f"prices.{key}",
                           hint='write [prices."openai/gpt-4o"] input_per_mtok = 2.5, output_per_mtok = 10 (USD, >= 0)')
    if not isinstance(raw_conns, dict):
        raise _invalid("`connections` must be a table", source, _line_of(text, "connections"), "connections")
    conns: dict[str, ConnectionConfig] = {}
    for name, body in raw_conns.items():
        header = _line_of(text, "[connections.", name) or _line_of(text, name)
        try:
            conn = msgspec.convert(body, type=ConnectionConfig)
            conns[name] = validation.validate_connection(name, conn)
        except msgspec.ValidationError as exc:
            field = _field_from_validation(str(exc))
            line = _field_line(text, header, field.split(".")[0]) if field else header
            raise _invalid(f"connection {name!r}: {exc}", source, line, f"connections.{name}{field and '.' + field}",
                           hint=_pasted_key_hint(name, field, line) if "unknown field" in str(exc) else None) from None
        except SynapseError as exc:
            field = f"connections.{name}.{exc.detail.get('field', '')}".rstrip(".")
            leaf = exc.detail.get("field")
            # "options.body" is found on its options line (an inline table) or under the header.
            line = _field_line(text, header, leaf.split(".")[0]) if leaf else header
            raise _invalid(f"connection {name!r}: {exc.message}", source, line, field, hint=exc.hint) from None
    if top.mcp.default_connection is not None and top.mcp.default_connection not in conns:
        raise _invalid(
            f"mcp.default_connection {top.mcp.default_connection!r} names no connection",
            source,
            _line_of(text, "default_connection"),
            "mcp.default_connection",
            hint="set it to one of: " + (", ".join(sorted(conns)) or "(no connections yet)"),
        )
    return msgspec.structs.replace(top, connections=conns)


def check_mcp(mcp: McpSettings, text: str = "", source: str = "config.toml") -> None:
    """The MCP listener is local-only: any non-loopback bind address is refused."""
    if mcp.host not in LOOPBACK_BINDS:
        raise _invalid(
            f"mcp.host {mcp.host!r} is not a loopback address; synapse never listens beyond this machine",
            source,
            _line_of(text, "host"),
            "mcp.host",
            hint="use 127.0.0.1 (default), ::1 or localhost; IDEs on this machine reach it there",
        )
    if not 0 <= mcp.port <= 65535:
        raise _invalid(f"mcp.port {mcp.port} is out of range", source, _line_of(text, "port"), "mcp.port",
                       hint="use 1-65535, or 0 to pick a free port at start")
    if not 1024 <= mcp.max_body_bytes <= 64 * 1024 * 1024:
        raise _invalid("mcp.max_body_bytes must be between 1 KiB and 64 MiB", source,
                       _line_of(text, "max_body_bytes"), "mcp.max_body_bytes")
    if not 10 <= mcp.session_idle_timeout_s <= 7 * 86400:
        raise _invalid("mcp.session_idle_timeout_s must be between 10 s and 7 days", source,
                       _line_of(text, "session_idle_timeout_s"), "mcp.session_idle_timeout_s")
    if not 1 <= mcp.max_sessions <= 100_000:
        raise _invalid("mcp.max_sessions must be between 1 and 100000", source,
                       _line_of(text, "max_sessions"), "mcp.max_sessions",
                       hint="the default 256 serves many IDEs; each session costs ~40 KB")
    if not 1 <= mcp.uninitialized_timeout_s <= 86400:
        raise _invalid("mcp.uninitialized_timeout_s must be between 1 s and 1 day", source,
                       _line_of(text, "uninitialized_timeout_s"), "mcp.uninitialized_timeout_s")
    if not 0.1 <= mcp.head_timeout_s <= 300:
        raise _invalid("mcp.head_timeout_s must be between 0.1 s and 300 s", source,
                       _line_of(text, "head_timeout_s"), "mcp.head_timeout_s",
                       hint="a request head from an IDE on this machine arrives in milliseconds; 10 is the default")
    if not 0.1 <= mcp.idle_timeout_s <= 86400:
        raise _invalid("mcp.idle_timeout_s must be between 0.1 s and 1 day", source,
                       _line_of(text, "idle_timeout_s"), "mcp.idle_timeout_s")
    if not 0 <= mcp.sse_after_s <= 30:
        raise _invalid("mcp.sse_after_s must be between 0 s and 30 s", source, _line_of(text, "sse_after_s"),
                       "mcp.sse_after_s",
                       hint="clients give up on response headers after about 60 s; 5 (the default) keeps quick "
                            "answers as plain JSON")
    if not 1 <= mcp.progress_interval_s <= 300:
        raise _invalid("mcp.progress_interval_s must be between 1 s and 300 s", source,
                       _line_of(text, "progress_interval_s"), "mcp.progress_interval_s")
    if not 16 <= mcp.max_connections <= 100_000:
        raise _invalid("mcp.max_connections must be between 16 and 100000", source,
                       _line_of(text, "max_connections"), "mcp.max_connections",
                       hint="each IDE holds a few connections; the default 512 is lowered to fit the open-files limit")


def check_threads(threads: ThreadSettings, text: str = "", source: str = "config.toml") -> None:
    if not 1 <= threads.max_turns <= 10_000:
        raise _invalid("threads.max_turns must be between 1 and 10000", source, _line_of(text, "max_turns"),
                       "threads.max_turns")
    if not 1_000 <= threads.max_chars <= 10_000_000:
        raise _invalid("threads.max_chars must be between 1000 and 10000000", source, _line_of(text, "max_chars"),
                       "threads.max_chars")
    if not 0 <= threads.retention_days <= 36_500:
        raise _invalid("threads.retention_days must be between 0 (keep) and 36500", source,
                       _line_of(text, "retention_days"), "threads.retention_days")


def check_context(context: ContextSettings, text: str = "", source: str = "config.toml") -> None:
    for entry in context.allow:
        expanded = os.path.expanduser(entry)
        if not os.path.isabs(expanded) or os.path.normpath(expanded) == "/":
            raise _invalid(f"context.allow entry {entry!r} must be an absolute directory (or start with ~), not /",
                           source, _line_of(text, entry) or _line_of(text, "allow"), "context.allow",
                           hint='e.g. allow = ["~/src"]: files under it may be sent by clients that declare no roots')
    for pattern in context.allow_names:
        if not pattern.strip() or "/" in pattern:
            raise _invalid(f"context.allow_names entry {pattern!r} must be a file-name pattern", source,
                           _line_of(text, pattern) or _line_of(text, "allow_names"), "context.allow_names",
                           hint='e.g. allow_names = [".env.example"]: names only (fnmatch), no directories')
    if not 1024 <= context.max_file_bytes <= 64 * 1024 * 1024:
        raise _invalid("context.max_file_bytes must be between 1 KiB and 64 MiB", source,
                       _line_of(text, "max_file_bytes"), "context.max_file_bytes")
    if not context.max_file_bytes <= context.max_call_bytes <= 256 * 1024 * 1024:
        raise _invalid("context.max_call_bytes must be at least max_file_bytes and at most 256 MiB", source,
                       _line_of(text, "max_call_bytes"), "context.max_call_bytes")
    if not 0.1 <= context.read_timeout_s <= 60:
        raise _invalid("context.read_timeout_s must be between 0.1 s and 60 s", source,
                       _line_of(text, "read_timeout_s"), "context.read_timeout_s")


def check_console(console: ConsoleSettings, text: str = "", source: str = "config.toml") -> None:
    if not 1 <= console.session_idle_s <= 86_400:
        raise _invalid("console.session_idle_s must be between 1 s and 1 day", source,
                       _line_of(text, "session_idle_s"), "console.session_idle_s")
    if not console.session_idle_s <= console.session_max_age_s <= 7 * 86_400:
        raise _invalid("console.session_max_age_s must be at least session_idle_s and at most 7 days", source,
                       _line_of(text, "session_max_age_s"), "console.session_max_age_s")


def _pasted_key_hint(name: str, field: str, line: int | None) -> str | None:
    """A key pasted into the file as `api_key = "..."` (the first thing many try): say where keys go."""
    if field.lower() not in ("key", "apikey") and not is_secret_key(field):
        return None
    return (f"keys never go in config.toml: delete {'line ' + str(line) if line else 'that line'} (and rotate the key "
            f"if the file was shared), then store it with `synapsectl key set {name}`, or point "
            'credential at "env:VAR" or "file:PATH"')


def _field_from_validation(message: str) -> str:
    """The dotted field a msgspec error names: `$.mcp` for a wrong value, `mcp.bogus` for an
    unknown field inside [mcp] (msgspec puts the table in `at` and the field in the message)."""
    at = re.search(r"at `\$\.?([^`]*)`", message)
    table = at.group(1).replace("[...]", "") if at else ""
    unknown = re.search(r"unknown field `([^`]*)`", message)
    if unknown:
        return f"{table}.{unknown.group(1)}" if table else unknown.group(1)
    return table


def _field_line(text: str, header: int | None, leaf: str) -> int | None:
    lines = text.splitlines()
    for number in range((header or 1), len(lines) + 1):
        stripped = lines[number - 1].lstrip()
        if number > (header or 1) and stripped.startswith("["):
            break
        if stripped.startswith(leaf):
            return number
    return header


def _drop_none(value: Any) -> Any:
    # TOML has no null: an unset optional is simply absent.
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    return value


def render(config: Config) -> str:
    body = msgspec.toml.encode(_drop_none(msgspec.to_builtins(config))).decode()
    return HEADER + "\n" + body
