"""The config schema: msgspec Structs for everything config.toml can hold.

Pure data and small invariants; the rules on user input live in validation.py, parsing with
line numbers in parse.py, the revisioned durable copy in store.py.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from synapsed.errors import SynapseError

SCHEMA_VERSION = 1
LogLevel = Literal["debug", "info", "warning", "error"]
EventLoopSetting = Literal["auto", "uvloop", "asyncio"]
DEFAULT_MCP_PORT = 8808
LOOPBACK_BINDS = ("127.0.0.1", "::1", "localhost")


class DaemonSettings(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    log_level: LogLevel = "info"
    # How long SIGTERM waits for in-flight requests before closing them.
    drain_timeout_s: float = 10.0
    # uvloop where installed (a dependency on Linux and macOS), else asyncio's own; read at start.
    event_loop: EventLoopSetting = "auto"


class McpSettings(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    host: str = "127.0.0.1"
    # 0 picks a free port at start (tests, side-by-side instances); the real one is in status.
    port: int = DEFAULT_MCP_PORT
    # Off only for clients that cannot send headers; the daemon warns at start and status shows it.
    require_token: bool = True
    max_body_bytes: int = 1024 * 1024
    session_idle_timeout_s: float = 1800.0
    # Sessions over HTTP and the stdio bridge together; at the cap the longest-idle one is evicted.
    max_sessions: int = 256
    # A session that never completes the handshake is dropped after this long.
    uninitialized_timeout_s: float = 60.0
    # The loopback port is open to every local user (docs/security.md): a connection must send a
    # whole request head within head_timeout_s, may idle between requests for idle_timeout_s,
    # and at most max_connections are open at once (fewer when the open-files limit is low).
    head_timeout_s: float = 10.0
    idle_timeout_s: float = 120.0
    max_connections: int = 512
    # Answer HTTP tool calls as SSE streams, so that `compare` progress and MCP log messages
    # reach HTTP clients too; off, each call is one plain JSON reply (faster) and only the stdio
    # bridge carries them.
    stream_responses: bool = False
    # A tools/call over HTTP not answered within this many seconds is answered as an SSE stream:
    # its headers go out at once and the result follows when it comes. Clients stop waiting for
    # response headers (Claude Code after 60 s), so a long call must never hold them back.
    sse_after_s: float = 5.0
    # How often a call in flight tells a client that sent a progressToken what it is waiting for;
    # an SSE stream without one gets a keep-alive comment as often.
    progress_interval_s: float = 10.0
    # tools/call and tools/list on established sessions and 2026-07-28 requests answered
    # without the SDK's per-request machinery (same replies; see synapsed/mcp/fast_path.py).
    # Off: the SDK answers everything. Streamed replies always go through the SDK.
    fast_path: bool = True
    # Used by `ask`/`chat` on /mcp when the caller names no connection.
    default_connection: str | None = None


class ThreadSettings(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Conversation threads (opt-in per call). Limits fail loudly; nothing is trimmed silently."""

    enabled: bool = True
    max_turns: int = 100
    # Characters of all stored messages plus the system text of one thread.
    max_chars: int = 200_000
    # Threads not continued for this many days are deleted; 0 keeps them until removed by hand.
    retention_days: int = 90


class ConsoleSettings(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """The web console, served on the MCP listener under /console/ (see docs/console.md)."""

    enabled: bool = True
    # A console session ends after this long without a request, and after max_age_s in any case.
    session_idle_s: float = 1800.0
    session_max_age_s: float = 43200.0


class PriceOverride(msgspec.Struct, forbid_unknown_fields=True):
    """USD per million tokens for "provider/model" or "provider/*"."""

    input_per_mtok: float
    output_per_mtok: float
    # Prompt-cache rates; unset, cached tokens are priced as input (an overstatement, never a guess).
    cached_input_per_mtok: float | None = None
    cache_write_per_mtok: float | None = None


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


class UsageSettings(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """The ledger. Raw rows older than keep_rows_days are pruned (at most hourly); the hourly
    rollups stay, so totals, charts and budgets survive. 0 keeps every row."""

    keep_rows_days: int = 0


class ContextSettings(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Files an agent hands to `ask`/`chat`/`compare` by path (docs/ides.md, "Files and images").

    A file is read only inside one of the calling client's MCP roots; for a client that declares
    none, inside one of `allow`. Secret-looking names are refused unless a pattern in
    `allow_names` lets them through."""

    allow: list[str] = []
    allow_names: list[str] = []
    max_file_bytes: int = 1024 * 1024
    max_call_bytes: int = 8 * 1024 * 1024
    read_timeout_s: float = 5.0


class Config(msgspec.Struct, forbid_unknown_fields=True):
    schema_version: int = SCHEMA_VERSION
    revision: int = 0
    daemon: DaemonSettings = msgspec.field(default_factory=DaemonSettings)
    mcp: McpSettings = msgspec.field(default_factory=McpSettings)
    threads: ThreadSettings = msgspec.field(default_factory=ThreadSettings)
    console: ConsoleSettings = msgspec.field(default_factory=ConsoleSettings)
    usage: UsageSettings = msgspec.field(default_factory=UsageSettings)
    context: ContextSettings = msgspec.field(default_factory=ContextSettings)
    # A budget over all connections together, checked beside each connection's own.
    budget: Budget | None = None
    # Price overrides, "provider/model" or "provider/*" -> USD per million tokens.
    prices: dict[str, PriceOverride] = {}
    connections: dict[str, ConnectionConfig] = {}

    def same_content(self, other: Config) -> bool:
        return msgspec.structs.replace(self, revision=0) == msgspec.structs.replace(other, revision=0)

    def connection(self, name: str) -> ConnectionConfig:
        """The one lookup of a connection by name: not_found names the missing one."""
        conn = self.connections.get(name)
        if conn is None:
            raise SynapseError("not_found", f"no connection named {name!r}", name=name)
        return conn

    def with_connection(self, name: str, conn: ConnectionConfig) -> Config:
        return msgspec.structs.replace(self, connections={**self.connections, name: conn})


# Settings the daemon reads once, at start (the event loop, the MCP listener and its request
# handling): a reload that changes one adopts the file but says a restart is needed to apply it.
START_ONLY: tuple[tuple[str, str], ...] = (
    ("daemon", "event_loop"),
    ("mcp", "host"),
    ("mcp", "port"),
    ("mcp", "require_token"),
    ("mcp", "max_body_bytes"),
    ("mcp", "stream_responses"),
    ("mcp", "fast_path"),
    ("mcp", "head_timeout_s"),
    ("mcp", "idle_timeout_s"),
    ("mcp", "max_connections"),
)


def restart_needed(started: Config, current: Config) -> list[str]:
    """The start-only settings (as `section.name`) whose value differs from the one in force."""
    return [f"{section}.{name}" for section, name in START_ONLY
            if getattr(getattr(started, section), name) != getattr(getattr(current, section), name)]
