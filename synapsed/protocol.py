"""Wire types of the control plane, shared by synapsed and synapsectl.

msgspec Structs only: this module is imported by the CLI on every run and must stay cheap.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

JSONRPC_VERSION = "2.0"
RPC_PATH = "/rpc"
MAX_RPC_BODY = 256 * 1024
NDJSON = "application/x-ndjson"

# JSON-RPC 2.0 reserved codes plus one server-defined code for domain errors.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
DOMAIN_ERROR = -32000
PEER_REFUSED = -32003


class RpcErrorObject(msgspec.Struct, omit_defaults=True):
    code: int
    message: str
    data: dict[str, Any] | None = None


class RpcResponse(msgspec.Struct):
    id: int | str | None  # JSON-RPC requires the member, null when the request's id is unknown
    jsonrpc: str = JSONRPC_VERSION
    result: Any = UNSET
    error: RpcErrorObject | UnsetType = UNSET


class RpcRequest(msgspec.Struct, omit_defaults=True):
    method: str
    params: dict[str, Any] | UnsetType = UNSET
    id: int | str | None = None
    jsonrpc: str = JSONRPC_VERSION


# ---- connections -------------------------------------------------------------------------------


class ConnectionSpec(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A connection as a client creates it; validated again by the daemon."""

    name: str
    provider: str
    model: str
    base_url: str | None = None
    credential: str = "keyring"
    timeout_s: float = 60.0
    enabled: bool = True
    options: dict[str, str] = {}


class ConnectionPatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Fields to change; unset fields stay as they are. base_url "" clears it."""

    provider: str | UnsetType = UNSET
    model: str | UnsetType = UNSET
    base_url: str | UnsetType = UNSET
    credential: str | UnsetType = UNSET
    timeout_s: float | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET
    options: dict[str, str] | UnsetType = UNSET


# ---- chat and preflight ------------------------------------------------------------------------

Role = Literal["user", "assistant"]
CheckStatus = Literal["pass", "warn", "fail", "skip"]


class TextFile(msgspec.Struct, tag="text_file", forbid_unknown_fields=True):
    """A workspace file's text, sent as a delimited block before the message's own text."""

    path: str
    text: str
    size: int  # bytes read


class ImageFile(msgspec.Struct, tag="image", forbid_unknown_fields=True):
    """An image for the model: from a workspace file (path) or an MCP image content block."""

    media_type: Literal["image/png", "image/jpeg", "image/webp", "image/gif"]
    data: str  # base64
    size: int  # bytes, decoded
    path: str | None = None


Attachment = TextFile | ImageFile


class Message(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One turn. Its attachments come first (file blocks, then images), then `content`; each
    provider renders them as its own parts, and `as_text` is the one text form of the whole."""

    role: Role
    content: str
    attachments: list[Attachment] = []

    @property
    def images(self) -> list[ImageFile]:
        return [a for a in self.attachments if isinstance(a, ImageFile)]

    def file_blocks(self) -> str:
        """The text files as delimited blocks, each headed by its path, in the order given."""
        return "".join(f'<file path="{a.path}" bytes="{a.size}">\n{a.text}\n</file>\n\n'
                       for a in self.attachments if isinstance(a, TextFile))

    def as_text(self) -> str:
        """Everything but the images, as one text (what text-only APIs and threads get)."""
        return self.file_blocks() + self.content


ReasoningLevel = Literal["none", "low", "medium", "high", "max"]


class ChatRequest(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    messages: list[Message]
    system: str | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    stop: list[str] | None = None
    # How hard the model thinks (synapsed/model_rules.py maps it onto each API's own control).
    reasoning: ReasoningLevel | None = None
    # Return the reasoning summary the API gives back (never stored in threads).
    include_reasoning: bool = False
    # A JSON Schema the answer must meet: each API's structured output, then validated here.
    response_schema: dict[str, Any] | None = None


class ChatResult(msgspec.Struct, omit_defaults=True):
    text: str
    finish_reason: str | None
    model: str  # the model the provider says answered
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None  # reported by the provider, or estimated from the price table
    cost_source: str = "UNKNOWN"  # ACTUAL | ESTIMATED | UNKNOWN
    request_id: str | None = None
    latency_ms: float = 0.0
    budget_warnings: list[str] | None = None  # monitor-mode budgets that are crossed
    # Of output_tokens, those spent thinking (OpenAI, Gemini, Anthropic where it reports them).
    reasoning_tokens: int | None = None
    # Of input_tokens, those read from the provider's prompt cache, and those written to it.
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    # Of cache_write_tokens, those written with the 1-hour lifetime (Anthropic bills them higher).
    cache_write_1h_tokens: int | None = None
    # With include_reasoning: the API's reasoning summary, or why there is none.
    reasoning_summary: str | None = None
    reasoning_note: str | None = None
    # With response_schema: the answer parsed and validated against it.
    json: Any = msgspec.UNSET
    endpoint: str | None = None  # "responses" when OpenAI's Responses API answered


class PreflightCheck(msgspec.Struct, omit_defaults=True):
    name: str
    status: CheckStatus
    duration_ms: float
    message: str
    started_at: float = 0.0  # monotonic seconds relative to the run: shows overlap in --all
    kind: str | None = None
    hint: str | None = None
    detail: dict[str, Any] | None = None


class PreflightReport(msgspec.Struct, omit_defaults=True):
    connection: str
    provider: str
    model: str
    ok: bool
    at: str
    duration_ms: float
    checks: list[PreflightCheck]
    probe: bool = False


class LastPreflight(msgspec.Struct, omit_defaults=True):
    ok: bool
    at: str
    failed_check: str | None = None
    kind: str | None = None
    warnings: int = 0



class ChatParams(msgspec.Struct, forbid_unknown_fields=True):
    """`chat.complete`: either a prompt or a message list."""

    name: str
    prompt: str | None = None
    messages: list[Message] | None = None
    system: str | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    stop: list[str] | None = None
    reasoning: ReasoningLevel | None = None
    include_reasoning: bool = False
    response_schema: dict[str, Any] | None = None


class ChatCompletion(msgspec.Struct):
    connection: str
    provider: str
    result: ChatResult


class PreflightParams(msgspec.Struct, forbid_unknown_fields=True):
    name: str | None = None
    all: bool = False
    probe: bool = False


class PreflightResult(msgspec.Struct):
    ok: bool
    reports: list[PreflightReport]


class KeyStatus(msgspec.Struct, omit_defaults=True):
    """What the daemon may say about a credential: never the value."""

    name: str
    source: str
    present: bool
    fingerprint: str | None = None
    error_kind: str | None = None
    hint: str | None = None


class BudgetLimitView(msgspec.Struct):
    period: str  # daily | monthly
    unit: str  # usd | tokens
    limit: float
    used: float
    over: bool


class BudgetView(msgspec.Struct, omit_defaults=True):
    """Today's spend of one connection and, when it has a budget, each limit's state."""

    today_usd: float
    today_tokens: int
    mode: str | None = None
    limits: list[BudgetLimitView] | None = None


class ConnectionView(msgspec.Struct, omit_defaults=True):
    name: str
    provider: str
    model: str
    base_url: str | None
    effective_base_url: str | None
    credential: str
    timeout_s: float
    enabled: bool
    options: dict[str, str] = {}
    key: KeyStatus | None = None
    last_preflight: LastPreflight | None = None
    usage: BudgetView | None = None  # today's spend and budget state


class ConnectionList(msgspec.Struct):
    revision: int
    connections: list[ConnectionView]


class ConnectionResult(msgspec.Struct):
    revision: int
    connection: ConnectionView


class DeleteResult(msgspec.Struct):
    revision: int
    name: str
    secret_deleted: bool


# ---- params ------------------------------------------------------------------------------------


class NoParams(msgspec.Struct, forbid_unknown_fields=True):
    pass


class NameParams(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    revision: int | None = None


class DeleteParams(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    revision: int | None = None
    keep_key: bool = False


class CreateParams(msgspec.Struct, forbid_unknown_fields=True):
    connection: ConnectionSpec
    revision: int | None = None


class UpdateParams(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    changes: ConnectionPatch
    revision: int | None = None


class ListParams(msgspec.Struct, forbid_unknown_fields=True):
    with_keys: bool = True


class SecretSetParams(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    value: str


class SecretNameParams(msgspec.Struct, forbid_unknown_fields=True):
    name: str


class SecretStatusParams(msgspec.Struct, forbid_unknown_fields=True):
    name: str | None = None


# ---- daemon ------------------------------------------------------------------------------------


class PathsView(msgspec.Struct):
    config_file: str
    state_dir: str
    runtime_dir: str
    socket: str
    log_file: str


class KeyringView(msgspec.Struct):
    backend: str
    usable: bool


class McpSessionView(msgspec.Struct, omit_defaults=True):
    id: str
    transport: Literal["http", "stdio"]
    client_name: str
    client_version: str
    connected_at: str
    last_seen_at: str
    calls: int
    errors: int
    state: Literal["initializing", "active", "idle"]  # idle: active, but no request for IDLE_AFTER_S
    bound_connection: str | None = None
    protocol_version: str | None = None
    log_level: str = "warning"  # the lowest MCP log level the client asked for (logging/setLevel)
    idle_s: float = 0.0  # since the session's last request
    in_flight: int = 0
    expires_in_s: float | None = None  # HTTP: closed after this much more idleness (None: never)


class McpSessionList(msgspec.Struct):
    sessions: list[McpSessionView]
    idle_timeout_s: float | None = None  # [mcp] session_idle_timeout_s


class McpView(msgspec.Struct):
    url: str
    port: int
    require_token: bool
    stdio_socket: str
    token_file: str
    active_sessions: int
    max_sessions: int = 0
    evicted_sessions: int = 0
    refused_sessions: int = 0
    # tools/call and tools/list answered on the HTTP fast path since start (None: the path is off).
    fast_path_answers: int | None = None


class TokenRotated(msgspec.Struct):
    token_file: str
    rotated: bool


class ConsoleLink(msgspec.Struct):
    """A one-time console login link: single use, valid for expires_in_s."""

    url: str
    expires_in_s: float


class DaemonStatus(msgspec.Struct):
    version: str
    pid: int
    started_at: str
    uptime_s: float
    config_revision: int
    connections: int
    enabled_connections: int
    rpc_requests: int
    paths: PathsView
    keyring: KeyringView
    log_level: str
    mcp: McpView | None = None
    ledger_rows: int = 0
    ledger_write_errors: int = 0  # rows lost to write failures (disk full, ...): requests were answered
    event_loop: str = "asyncio"  # "uvloop" or "asyncio": [daemon] event_loop, as chosen at start
    # Start-only settings a reload adopted from the file but that wait for a restart.
    restart_needed: list[str] = msgspec.field(default_factory=list)


class ReloadResult(msgspec.Struct):
    revision: int
    changed: bool
    connections: int
    # Start-only settings (`section.name`) the file now sets differently from the running daemon.
    restart_needed: list[str] = msgspec.field(default_factory=list)


class ShutdownResult(msgspec.Struct):
    stopping: bool


class SecretStatusList(msgspec.Struct):
    keys: list[KeyStatus]


class SecretDeleteResult(msgspec.Struct):
    name: str
    deleted: bool


# ---- usage -------------------------------------------------------------------------------------

UsageStatus = Literal["ok", "error", "refused"]
GroupBy = Literal["connection", "model", "client", "day", "provider", "status", "day_connection"]
SortKey = Literal["time", "-time", "cost", "-cost", "latency", "-latency"]
ExportFormat = Literal["csv", "jsonl"]


class UsageFilters(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    since: str | None = None  # YYYY-MM-DD (local midnight), ISO datetime, or relative: 24h, 7d, 2w
    until: str | None = None
    connection: str | None = None
    model: str | None = None
    client: str | None = None
    status: UsageStatus | None = None
    error_kind: str | None = None


class UsageSummaryParams(msgspec.Struct, forbid_unknown_fields=True):
    filters: UsageFilters = msgspec.field(default_factory=UsageFilters)
    group_by: GroupBy = "connection"


class UsageSummaryRow(msgspec.Struct):
    key: str
    requests: int
    ok: int
    errors: int
    refused: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    unknown_cost_requests: int
    actual_cost_requests: int
    estimated_cost_requests: int
    reasoning_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


class UsageTotals(msgspec.Struct):
    requests: int
    ok: int
    errors: int
    refused: int
    input_tokens: int
    output_tokens: int
    unknown_cost_requests: int
    cost_usd: float
    reasoning_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    # Answers the provider gave (and billed) that never reached their client, and what they cost.
    undelivered_requests: int = 0
    undelivered_cost_usd: float = 0.0
    # What the cache-read tokens would have cost as plain input, less what they cost (priced models only).
    cache_saved_usd: float = 0.0


class CatchingUp(msgspec.Struct):
    """Rows from before the rollups still being folded in at start: summaries are right for
    every row written since and for the `folded` rows of the `pending` ones so far."""

    folded: int
    pending: int


class UsageSummary(msgspec.Struct, omit_defaults=True):
    group_by: GroupBy
    rows: list[UsageSummaryRow]
    totals: UsageTotals
    catching_up: CatchingUp | None = None


class UsageHistoryParams(msgspec.Struct, forbid_unknown_fields=True):
    filters: UsageFilters = msgspec.field(default_factory=UsageFilters)
    sort: SortKey = "-time"
    limit: int = 50
    offset: int = 0


class UsageRecord(msgspec.Struct):
    """One ledger row as the control plane shows it (never prompt or answer text)."""

    id: int
    time: str
    connection: str
    provider: str
    model_requested: str
    model_reported: str | None
    caller: str
    caller_session: str | None
    status: str
    error_kind: str | None
    latency_ms: float | None
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None
    cost_source: str
    price_version: str | None
    thread_id: str | None = None
    reasoning_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    undelivered: int | None = None
    files: int | None = None
    file_bytes: int | None = None


class UsageHistory(msgspec.Struct):
    total: int
    offset: int
    next_offset: int | None
    rows: list[UsageRecord]


class UsageExportParams(msgspec.Struct, forbid_unknown_fields=True):
    path: str
    format: ExportFormat = "csv"
    filters: UsageFilters = msgspec.field(default_factory=UsageFilters)


class UsageExportResult(msgspec.Struct):
    path: str
    rows: int
    format: ExportFormat


class UsageClearParams(msgspec.Struct, forbid_unknown_fields=True):
    before: str | None = None


class UsageClearResult(msgspec.Struct):
    deleted: int
    before: str | None


class PriceRow(msgspec.Struct, omit_defaults=True):
    model: str  # "provider/model" or "provider/*"
    input_per_mtok: float
    output_per_mtok: float
    source: str  # "config" or "builtin:<version>"
    cached_input_per_mtok: float | None = None
    cache_write_per_mtok: float | None = None
    # Above this many input tokens the whole request is priced at the long-context rates.
    long_context_above: int | None = None
    page: str | None = None  # the provider's pricing page the entry was read from


class PriceList(msgspec.Struct):
    builtin_version: str
    rows: list[PriceRow]


# ---- threads -----------------------------------------------------------------------------------

ThreadExportFormat = Literal["md", "jsonl"]


class ThreadTurnView(msgspec.Struct, omit_defaults=True):
    """One exchange: the messages the call added (user turns, then the answer) and who answered."""

    turn: int
    time: str
    connection: str
    provider: str
    model: str
    caller: str
    messages: list[Message]


class ThreadSummary(msgspec.Struct, omit_defaults=True):
    id: str
    created_at: str
    updated_at: str
    turns: int
    chars: int
    title: str  # the start of the first prompt
    last_connection: str | None = None


class ThreadView(msgspec.Struct, omit_defaults=True):
    id: str
    created_at: str
    updated_at: str
    chars: int
    turns: list[ThreadTurnView]
    system: str | None = None


class ThreadList(msgspec.Struct):
    enabled: bool
    total: int
    threads: list[ThreadSummary]


class ThreadListParams(msgspec.Struct, forbid_unknown_fields=True):
    limit: int = 50
    offset: int = 0


class ThreadIdParams(msgspec.Struct, forbid_unknown_fields=True):
    id: str


class ThreadDeleteResult(msgspec.Struct):
    id: str
    deleted: bool


class ThreadClearParams(msgspec.Struct, forbid_unknown_fields=True):
    before: str | None = None  # same forms as usage filters: YYYY-MM-DD, ISO time, or 7d / 24h


class ThreadClearResult(msgspec.Struct):
    deleted: int
    before: str | None


class ThreadExportParams(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    format: ThreadExportFormat = "md"


class ThreadExport(msgspec.Struct):
    id: str
    format: ThreadExportFormat
    text: str


class ThreadTrimParams(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    keep: int  # the newest turns to keep


class ThreadTrimResult(msgspec.Struct):
    id: str
    removed_turns: int
    kept_turns: int
