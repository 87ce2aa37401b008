"""The config schema, its validation, and the atomic, revisioned store behind the daemon.

The daemon holds the live Config in memory; config.toml is its durable copy. Every write goes
temp file -> fsync -> rename -> fsync(dir), so a kill at any instant leaves either the old or
the new file, never a torn one. Writes carry the revision they were based on and a stale one is
refused with `conflict`, as is a write over a hand edit that was not reloaded yet.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import msgspec

from synapsed import validation
from synapsed.errors import SynapseError
from synapsed.providers.catalog import PROVIDERS
from synapsed.usage.prices import PriceOverride

SCHEMA_VERSION = 1
LogLevel = Literal["debug", "info", "warning", "error"]

HEADER = (
    "# mcp synapse configuration. The daemon rewrites this file atomically; hand edits are fine:\n"
    "# run `synapsectl reload` (or send SIGHUP) afterwards. Keys never belong here: use the keyring\n"
    "# (`synapsectl key set NAME`) or a credential reference like env:VAR or file:PATH.\n"
)


class DaemonSettings(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    log_level: LogLevel = "info"
    # How long SIGTERM waits for in-flight requests before closing them.
    drain_timeout_s: float = 10.0


DEFAULT_MCP_PORT = 8808
LOOPBACK_BINDS = ("127.0.0.1", "::1", "localhost")


class McpSettings(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    host: str = "127.0.0.1"
    # 0 picks a free port at start (tests, side-by-side instances); the real one is in status.
    port: int = DEFAULT_MCP_PORT
    # Off only for clients that cannot send headers; the daemon warns at start and status shows it.
    require_token: bool = True
    max_body_bytes: int = 1024 * 1024
    session_idle_timeout_s: float = 1800.0
    # Used by `ask`/`chat` on /mcp when the caller names no connection.
    default_connection: str | None = None


class Budget(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Spend limits per local day / calendar month. `block` refuses before any upstream call;
    `monitor` only warns. Requests of UNKNOWN cost count against token limits only."""

    daily_usd: float | None = None
    monthly_usd: float | None = None
    daily_tokens: int | None = None
    monthly_tokens: int | None = None
    mode: Literal["block", "monitor"] = "block"

    def limits(self) -> list[tuple[str, str, float]]:
        """(period, unit, limit) for every limit set."""
        out: list[tuple[str, str, float]] = []
        for period in ("daily", "monthly"):
            for unit in ("usd", "tokens"):
                value = getattr(self, f"{period}_{unit}")
                if value is not None:
                    out.append((period, unit, float(value)))
        return out


class ConnectionConfig(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    provider: str
    model: str
    base_url: str | None = None
    credential: str = "keyring"
    timeout_s: float = 60.0
    enabled: bool = True
    options: dict[str, str] = {}
    budget: Budget | None = None


class Config(msgspec.Struct, forbid_unknown_fields=True):
    schema_version: int = SCHEMA_VERSION
    revision: int = 0
    daemon: DaemonSettings = msgspec.field(default_factory=DaemonSettings)
    mcp: McpSettings = msgspec.field(default_factory=McpSettings)
    # A budget over all connections together, checked beside each connection's own.
    budget: Budget | None = None
    # Price overrides, "provider/model" or "provider/*" -> USD per million tokens.
    prices: dict[str, PriceOverride] = {}
    connections: dict[str, ConnectionConfig] = {}

    def same_content(self, other: Config) -> bool:
        return msgspec.structs.replace(self, revision=0) == msgspec.structs.replace(other, revision=0)


def check_budget(budget: Budget | None, field: str = "budget") -> None:
    if budget is None:
        return
    for period, unit, limit in budget.limits():
        if limit <= 0:
            raise SynapseError("config_invalid", f"{field}.{period}_{unit} must be positive", field=field,
                               hint="remove the limit to have none, or set a positive number")


def validate_fields(name: str, conn: ConnectionConfig) -> None:
    """Every rule except the base URL's (preflight reports that one as a stage of its own)."""
    validation.check_name(name)
    info = validation.check_provider(conn.provider)
    validation.check_model(conn.model)
    validation.check_timeout(conn.timeout_s)
    validation.check_credential_ref(conn.credential)
    validation.check_options(info, conn.options)
    check_budget(conn.budget)


def validate_connection(name: str, conn: ConnectionConfig) -> ConnectionConfig:
    """Check every field against DESIGN's rules; return the normalised connection."""
    validate_fields(name, conn)
    return msgspec.structs.replace(conn, base_url=validated_base_url(conn))


def validated_base_url(conn: ConnectionConfig) -> str | None:
    """The normalised explicit base URL (None: the provider default applies), or base_url_invalid."""
    info = PROVIDERS[conn.provider]
    base_url = conn.base_url or None
    if base_url is not None:
        base_url = validation.check_base_url(base_url)
    elif info.default_base_url is None:
        raise SynapseError(
            "base_url_invalid",
            f"provider {info.id} has no default endpoint: a base URL is required",
            hint="give --base-url, e.g. https://my-resource.openai.azure.com or http://127.0.0.1:8080/v1",
            field="base_url",
        )
    return base_url


def effective_base_url(conn: ConnectionConfig) -> str | None:
    info = PROVIDERS.get(conn.provider)
    return conn.base_url or (info.default_base_url if info else None)


# ---- parsing -----------------------------------------------------------------------------------

_TOML_LINE_RE = re.compile(r"at line (\d+)")


def _line_of(text: str, *needles: str) -> int | None:
    """1-based line of the first line containing all needles in order of search, best effort."""
    for number, line in enumerate(text.splitlines(), 1):
        if all(n in line for n in needles):
            return number
    return None


def _invalid(message: str, source: str, line: int | None, field: str | None, hint: str | None = None) -> SynapseError:
    where = f"{source}:{line}" if line else source
    detail: dict[str, Any] = {"file": source}
    if line:
        detail["line"] = line
    if field:
        detail["field"] = field
    return SynapseError("config_invalid", f"{where}: {message}", hint=hint, **detail)


def parse(text: str, source: str = "config.toml") -> Config:
    """Parse and validate config text; errors name the file, line and field."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_LINE_RE.search(str(exc))
        raise _invalid(f"not valid TOML: {exc}", source, int(match.group(1)) if match else None, None) from None
    raw_conns = raw.pop("connections", {})
    try:
        top = msgspec.convert(raw, type=Config)
    except msgspec.ValidationError as exc:
        field = _field_from_validation(str(exc))
        raise _invalid(str(exc), source, _line_of(text, field.split(".")[-1]) if field else None, field) from None
    if top.schema_version > SCHEMA_VERSION:
        raise _invalid(
            f"schema_version {top.schema_version} is newer than this synapsed understands ({SCHEMA_VERSION})",
            source,
            _line_of(text, "schema_version"),
            "schema_version",
            hint="upgrade mcp-synapse, or restore the config written by this version",
        )
    check_mcp(top.mcp, text, source)
    try:
        check_budget(top.budget)
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
            conns[name] = validate_connection(name, conn)
        except msgspec.ValidationError as exc:
            field = _field_from_validation(str(exc))
            line = _field_line(text, header, field.split(".")[0]) if field else header
            raise _invalid(f"connection {name!r}: {exc}", source, line, f"connections.{name}{field and '.' + field}") from None
        except SynapseError as exc:
            field = f"connections.{name}.{exc.detail.get('field', '')}".rstrip(".")
            leaf = exc.detail.get("field")
            line = _field_line(text, header, leaf) if leaf else header
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


def _field_from_validation(message: str) -> str:
    match = re.search(r"at `\$\.?([^`]*)`", message)
    if match:
        return match.group(1).replace("[...]", "")
    match = re.search(r"unknown field `([^`]*)`", message)
    return match.group(1) if match else ""


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


# ---- the store ---------------------------------------------------------------------------------


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def write_atomic(path: Path, data: str) -> None:
    """Replace `path` with `data` so that a crash leaves the old or the new file, nothing else."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class ConfigStore:
    """The live config plus its durable copy; all writes are serialised through one lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()
        self._config = Config()
        self._stamp: tuple[int, int, int] | None = None

    @property
    def config(self) -> Config:
        return self._config

    def load(self) -> Config:
        """Read the file at start-up, creating a fresh one if there is none."""
        for leftover in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            leftover.unlink(missing_ok=True)  # a temp file a killed daemon never renamed
        if not self.path.exists():
            write_atomic(self.path, render(self._config))
        else:
            self._config = self._read()
            if self.path.stat().st_mode & 0o077:
                self.path.chmod(0o600)  # a hand-made file: ours to keep private
        self._stamp = _stamp(self.path)
        return self._config

    def _read(self) -> Config:
        try:
            text = self.path.read_text(encoding="utf-8")
        except PermissionError:
            raise SynapseError(
                "config_invalid",
                f"cannot read {self.path}",
                hint=f"fix its permissions: chmod 600 {self.path}",
                file=str(self.path),
            ) from None
        except UnicodeDecodeError:
            raise _invalid("not UTF-8 text", str(self.path), None, None) from None
        except OSError as exc:
            raise _invalid(f"cannot read it ({exc.strerror})", str(self.path), None, None) from None
        return parse(text, str(self.path))

    async def reload(self) -> tuple[Config, bool]:
        """Adopt the file's content; an invalid file raises and the running config stays."""
        async with self._lock:
            loaded = await asyncio.to_thread(self._read)
            changed = not loaded.same_content(self._config)
            if changed:
                revision = max(loaded.revision, self._config.revision + 1)
                self._config = msgspec.structs.replace(loaded, revision=revision)
            self._stamp = _stamp(self.path)
            return self._config, changed

    async def mutate(self, change: Callable[[Config], Config], expected_revision: int | None = None) -> Config:
        """Apply `change` to the live config and persist it before returning (the acknowledgement)."""
        async with self._lock:
            current = self._config
            if expected_revision is not None and expected_revision != current.revision:
                raise SynapseError(
                    "conflict",
                    f"config revision is {current.revision}, your change was based on {expected_revision}",
                    revision=current.revision,
                )
            if _stamp(self.path) != self._stamp:
                raise SynapseError(
                    "conflict",
                    f"{self.path} was changed on disk since the daemon last read it",
                    hint="run `synapsectl reload` to adopt the hand edit (or discard it), then retry",
                )
            updated = msgspec.structs.replace(change(current), revision=current.revision + 1)
            await asyncio.to_thread(write_atomic, self.path, render(updated))
            self._config = updated
            self._stamp = _stamp(self.path)
            return updated
