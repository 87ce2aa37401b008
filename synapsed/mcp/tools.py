"""The MCP tool contract: list_connections, ask, chat, compare.

Arguments are validated with msgspec (the low-level SDK server does no validation); results are
text plus structured content; every failure is a tool result with isError, the kind and the
hint. A failing or disabled connection is reported as such, never replaced by another one.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from synapsed import protocol as p
from synapsed.config import ConnectionConfig
from synapsed.errors import SynapseError
from synapsed.gateway import Gateway, build_chat_request
from synapsed.json_input import lone_surrogate_at
from synapsed.mcp.roots import Workspace
from synapsed.model_limits import attachment_tokens
from synapsed.redaction import redact_value
from synapsed.threads.rules import ID_PATTERN, Threads, TurnClaim, too_long
from synapsed.threads.store import TurnMeta
from synapsed.usage.meter import Origin
from synapsed.workspace.reading import image_type, read_files

MAX_COMPARE = 8

ConnectionArg = Annotated[
    str, Meta(description="Connection name (see list_connections). Omit to use the default connection.")
] | None
SystemArg = Annotated[str, Meta(description="Optional system prompt: instructions that frame the answer.")] | None
MaxTokensArg = Annotated[int, Meta(ge=1, le=200_000, description="Optional cap on the answer's length, in tokens.")] | None
TemperatureArg = Annotated[
    float, Meta(ge=0, le=2, description="Optional sampling temperature (0 = most deterministic). Omit for the model's default.")
] | None
ReasoningArg = Annotated[
    Literal["none", "low", "medium", "high", "max"],
    Meta(description="Thinking effort; refused if the model has no such control."),
] | None
SchemaArg = Annotated[
    dict[str, Any], Meta(description="JSON Schema for the answer; parsed into `json`.")
] | None
IncludeReasoningArg = Annotated[bool, Meta(description="Return the reasoning summary.")]
FilesArg = Annotated[
    list[Annotated[str, Meta(min_length=1, max_length=4096)]],
    Meta(max_length=32, description="Workspace files (text, PNG/JPEG/WebP/GIF) to send: paths or file:// URIs."),
] | None
ThreadArg = Annotated[
    str, Meta(pattern=f"^new$|{ID_PATTERN}",
              description='"new" starts a kept conversation; a thread_id from a result continues it (any connection '
                          "may). Omit: nothing is stored.")
] | None


class AskArgs(msgspec.Struct, forbid_unknown_fields=True):
    """Send one prompt to an LLM connection and get its answer."""

    prompt: Annotated[str, Meta(min_length=1, description="The question or instruction to send.")]
    connection: ConnectionArg = None
    system: SystemArg = None
    max_output_tokens: MaxTokensArg = None
    temperature: TemperatureArg = None
    thread: ThreadArg = None
    reasoning: ReasoningArg = None
    response_schema: SchemaArg = None
    include_reasoning: IncludeReasoningArg = False
    files: FilesArg = None


class ImageArg(msgspec.Struct, forbid_unknown_fields=True):
    """An MCP image content block."""

    type: Literal["image"]
    data: str
    mimeType: Literal["image/png", "image/jpeg", "image/webp", "image/gif"]  # noqa: N815 - MCP's name


class ChatMessage(msgspec.Struct, forbid_unknown_fields=True):
    role: Annotated[Literal["user", "assistant"], Meta(description="Who said it: 'user' or 'assistant'.")]
    content: Annotated[str, Meta(min_length=1, description="The message text.")]
    images: Annotated[list[ImageArg], Meta(max_length=16)] | None = None


class ChatArgs(msgspec.Struct, forbid_unknown_fields=True):
    """Continue a multi-turn conversation; the last message must be from the user."""

    messages: Annotated[
        list[ChatMessage],
        Meta(min_length=1, description="The conversation so far, oldest first, ending with a user message."),
    ]
    connection: ConnectionArg = None
    system: SystemArg = None
    max_output_tokens: MaxTokensArg = None
    temperature: TemperatureArg = None
    thread: ThreadArg = None
    reasoning: ReasoningArg = None
    response_schema: SchemaArg = None
    include_reasoning: IncludeReasoningArg = False
    files: FilesArg = None


class CompareArgs(msgspec.Struct, forbid_unknown_fields=True):
    """Send the same prompt to several connections at once and see their answers side by side."""

    prompt: Annotated[str, Meta(min_length=1, description="The prompt every connection receives.")]
    connections: Annotated[
        list[str],
        Meta(min_length=2, max_length=MAX_COMPARE, description="Two to eight connection names (see list_connections)."),
    ]
    system: SystemArg = None
    max_output_tokens: MaxTokensArg = None
    temperature: TemperatureArg = None
    thread: Annotated[
        str, Meta(pattern=ID_PATTERN, description="A thread_id every connection sees first (read-only).")
    ] | None = None
    reasoning: ReasoningArg = None
    response_schema: SchemaArg = None
    include_reasoning: IncludeReasoningArg = False
    files: FilesArg = None


class NoArgs(msgspec.Struct, forbid_unknown_fields=True):
    pass


def inline_schema(struct: type[msgspec.Struct]) -> dict[str, Any]:
    """msgspec's schema with every $ref inlined: MCP wants an object schema at the root."""
    raw = msgspec.json.schema(struct)
    defs = raw.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(copy.deepcopy(defs[node["$ref"].split("/")[-1]]))
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    schema = resolve({"$ref": raw["$ref"]} if "$ref" in raw else raw)
    schema.pop("title", None)
    schema["type"] = "object"
    schema.setdefault("properties", {})
    schema["additionalProperties"] = False
    return dict(schema)


def tool_schema(spec: ToolSpec, bound: str | None) -> dict[str, Any]:
    schema = inline_schema(spec.args)
    if bound is not None:
        schema["properties"].pop("connection", None)
    return schema


def tool_names(bound: str | None) -> list[str]:
    # An endpoint bound to one connection has nothing to compare.
    return [n for n in TOOLS if not (bound is not None and n == "compare")]


Progress = Callable[[float, float | None, str], Awaitable[None]]


async def no_progress(done: float, total: float | None, message: str) -> None:
    return None


@dataclass(frozen=True)
class Call:
    """One tool call: validated arguments, the route's binding (None on /mcp), who is calling, and
    where partial results go (MCP progress; a no-op when the client sent no progress token)."""

    args: Any
    bound: str | None
    caller: str
    session: str | None
    progress: Progress = no_progress
    receipt: list[int] | None = None  # the ledger rows this call writes (see ToolCalls.undelivered)
    workspace: Workspace | None = None  # where `files` may be read from (MCP calls only)

    def origin(self, thread: str | None = None) -> Origin:
        return Origin(self.caller, self.session, thread, self.receipt)


@dataclass(frozen=True)
class Answer:
    """What a tool returns before it is shaped into an MCP result."""

    text: str
    structured: dict[str, Any]
    is_error: bool = False
    rows: tuple[int, ...] = ()  # the ledger rows of the upstream calls behind it


def error_answer(exc: SynapseError, connection: str | None = None) -> Answer:
    structured: dict[str, Any] = {"error": {"kind": exc.kind, "message": exc.message, "hint": exc.hint}}
    if connection is not None:
        structured["connection"] = connection
    for key in ("status", "retry_after_s", "request_id", "path", "validator_message", "raw_answer"):
        if key in exc.detail:
            structured["error"][key] = exc.detail[key]
    return Answer(f"{exc.kind}: {exc.message}\nhint: {exc.hint}", structured, is_error=True)


def _result_fields(connection: str, provider: str, result: p.ChatResult) -> dict[str, Any]:
    usage: dict[str, Any] = {"input_tokens": result.input_tokens, "output_tokens": result.output_tokens}
    for key in ("reasoning_tokens", "cache_read_tokens", "cache_write_tokens"):
        if getattr(result, key) is not None:
            usage[key] = getattr(result, key)
    fields: dict[str, Any] = {
        "connection": connection,
        "provider": provider,
        "model": result.model,
        "usage": usage,
        "cost_usd": result.cost_usd,
        "cost_source": result.cost_source,
        "latency_ms": result.latency_ms,
        "finish_reason": result.finish_reason,
        **({"budget_warnings": result.budget_warnings} if result.budget_warnings else {}),
    }
    if result.json is not msgspec.UNSET:
        fields["json"] = result.json
    if result.reasoning_summary is not None or result.reasoning_note is not None:
        fields["reasoning"] = {"summary": result.reasoning_summary, "note": result.reasoning_note}
    if result.endpoint is not None:
        fields["endpoint"] = result.endpoint
    return fields


def _answer_text(result: p.ChatResult) -> str:
    """The answer, and the reasoning summary asked for, for agents that read only the text."""
    if result.reasoning_summary:
        return f"{result.text}\n\n[reasoning summary]\n{result.reasoning_summary}"
    if result.reasoning_note:
        return f"{result.text}\n\n[reasoning: {result.reasoning_note}]"
    return result.text


class ToolRunner:
    """Runs tools for one request, given the route binding (None for /mcp) and the caller label."""

    def __init__(self, gateway: Gateway, default_connection: str | None, threads: Threads) -> None:
        self.gateway = gateway
        self.default_connection = default_connection
        self.threads = threads

    def _pick(self, requested: str | None, bound: str | None) -> str:
        if bound is not None:
            if requested is not None and requested != bound:
                raise SynapseError(
                    "bad_request",
                    f"this endpoint is bound to connection {bound!r}; it cannot use {requested!r}",
                    hint="use the /mcp endpoint to choose among connections",
                )
            return bound
        if requested is not None:
            return requested
        if self.default_connection is not None:
            return self.default_connection
        enabled = [n for n, c in self.gateway.config_store.config.connections.items() if c.enabled]
        if len(enabled) == 1:
            return enabled[0]  # the only choice there is, not a fallback
        raise SynapseError(
            "bad_request",
            "no connection given and no default connection configured",
            hint="pass `connection` (one of: " + (", ".join(sorted(enabled)) or "none configured") + ") "
            "or set [mcp] default_connection in config.toml",
        )

    @staticmethod
    def _args(spec: ToolSpec, arguments: dict[str, Any] | None) -> Any:
        broken = lone_surrogate_at(arguments)
        if broken is not None:
            raise SynapseError(
                "bad_request", f"invalid arguments for {spec.name}: `{broken}` holds a lone UTF-16 surrogate, "
                "which is not Unicode text", hint="send the text as UTF-8, or escape each non-BMP character as "
                "a surrogate pair (\\ud83d\\ude00)",
            )
        try:
            return msgspec.convert(arguments or {}, spec.args)
        except msgspec.ValidationError as exc:
            raise SynapseError(
                "bad_request", f"invalid arguments for {spec.name}: {exc}", hint="check the tool's input schema"
            ) from None

    async def run(
        self, name: str, arguments: dict[str, Any] | None, bound: str | None, caller: str, session: str | None = None,
        progress: Progress = no_progress, receipt: list[int] | None = None, workspace: Workspace | None = None,
    ) -> Answer:
        spec = TOOLS[name]
        return await spec.handler(self, Call(self._args(spec, arguments), bound, caller, session, progress, receipt,
                                             workspace))

    async def ask(self, call: Call) -> Answer:
        args: AskArgs = call.args
        return await self._complete(call, args.connection, [p.Message("user", args.prompt)], args)

    async def chat(self, call: Call) -> Answer:
        args: ChatArgs = call.args
        if any(m.images and m.role != "user" for m in args.messages):
            raise SynapseError("bad_request", "images can only be sent in user messages", field="messages",
                               hint="move the image to the user turn that asks about it")
        messages = [p.Message(m.role, m.content, attachments=mcp_images(m.images or [])) for m in args.messages]
        return await self._complete(call, args.connection, messages, args)

    async def _complete(self, call: Call, requested: str | None, messages: list[p.Message],
                        args: AskArgs | ChatArgs) -> Answer:
        connection = self._pick(requested, call.bound)
        messages = await with_files(call, messages, args.files)
        if args.thread is not None:
            claim = self.threads.begin(args.thread)
            try:
                return await self._continue(call, connection, claim, messages, args)
            finally:
                claim.release()
        request = _request(messages, args.system, args)
        try:
            conn, result = await self.gateway.complete(connection, request, call.origin())
        except SynapseError as exc:
            return error_answer(exc, connection)
        return Answer(_answer_text(result), {"text": result.text, **_result_fields(connection, conn.provider, result),
                                             **files_sent(messages)})

    async def _continue(self, call: Call, connection: str, claim: TurnClaim, messages: list[p.Message],
                        args: AskArgs | ChatArgs) -> Answer:
        """One turn of a thread: its history + the new messages out, the exchange stored before the reply."""
        system = args.system if args.system is not None else claim.system
        added = sum(len(m.as_text()) for m in messages) + len(system or "") - len(claim.system or "")
        self.threads.check_size(claim, added)
        try:
            request = _request([*claim.history, *messages], system, args)
            conn, result = await self.gateway.complete(connection, request,
                                                       call.origin(claim.id))
        except SynapseError as exc:
            if exc.kind == "context_too_long":
                exc = too_long(claim.id, f"thread {claim.id} is too long for connection {connection!r}: {exc.message}")
            answer = error_answer(exc, connection)
            if not claim.is_new:
                answer.structured["thread_id"] = claim.id
            return answer
        fields = {"text": result.text, **_result_fields(connection, conn.provider, result), **files_sent(messages)}
        try:
            self.threads.check_answer(claim, added, len(result.text))
            turn = claim.commit(system, [as_stored(m) for m in messages], p.Message("assistant", result.text),
                                TurnMeta(connection, conn.provider, result.model, call.caller))
        except SynapseError as exc:
            # The provider answered (and billed); the answer is handed over even though the turn was not kept.
            answer = error_answer(exc, connection)
            answer.structured.update(fields, thread_id=claim.id, stored=False)
            return Answer(f"{answer.text}\n\nThe answer, not stored in the thread:\n{result.text}", answer.structured,
                          is_error=True)
        footer = f"\n\n[thread {claim.id}, turn {turn}]"
        return Answer(_answer_text(result) + footer, {**fields, "thread_id": claim.id, "turn": turn})

    async def list_connections(self, call: Call) -> Answer:
        bound = call.bound
        config = self.gateway.config_store.config
        names = [bound] if bound is not None else sorted(n for n, c in config.connections.items() if c.enabled)
        rows = []
        for name in names:
            conn = self.gateway.connection(name)
            rows.append({
                "name": name,
                "provider": conn.provider,
                "model": conn.model,
                "enabled": conn.enabled,
                "default": name == (bound or self.default_connection),
                "usage_today": msgspec.to_builtins(self.gateway.meter.budget_view(name, conn)),
            })
        lines = [f"{r['name']}: {r['provider']} / {r['model']}{' (default)' if r['default'] else ''}" for r in rows]
        return Answer("\n".join(lines) or "no enabled connections", {"connections": rows})

    async def compare(self, call: Call) -> Answer:
        args: CompareArgs = call.args
        if len(set(args.connections)) != len(args.connections):
            raise SynapseError("bad_request", "each connection may appear only once in compare")
        thread_id: str | None = None
        system, history = args.system, list[p.Message]()
        if args.thread is not None:
            thread_id, stored_system, history = self.threads.context(args.thread)
            system = args.system if args.system is not None else stored_system
        request = _request(await with_files(call, [*history, p.Message("user", args.prompt)], args.files), system, args)
        origin = call.origin(thread_id)
        total, done = len(args.connections), 0

        async def one(name: str) -> tuple[ConnectionConfig, p.ChatResult] | SynapseError:
            nonlocal done
            try:
                outcome: tuple[ConnectionConfig, p.ChatResult] | SynapseError = await self.gateway.complete(
                    name, request, origin)
            except SynapseError as exc:
                outcome = exc
            done += 1
            await call.progress(done, total, _progress_line(name, outcome))
            return outcome

        outcomes = await asyncio.gather(*(one(name) for name in args.connections))
        results: list[dict[str, Any]] = []
        sections: list[str] = []
        for name, outcome in zip(args.connections, outcomes, strict=True):
            if isinstance(outcome, SynapseError):
                answer = error_answer(outcome, name)
                results.append({"connection": name, "ok": False, **answer.structured})
                sections.append(f"## {name} — error\n{answer.text}")
            else:
                conn, result = outcome
                results.append({"ok": True, "text": result.text, **_result_fields(name, conn.provider, result)})
                sections.append(f"## {name} ({result.model})\n{_answer_text(result)}")
        answered = sum(1 for r in results if r["ok"])
        structured: dict[str, Any] = {"results": results, "answered": answered, "failed": len(results) - answered}
        if thread_id is not None:
            structured["thread_id"] = thread_id
        return Answer("\n\n".join(sections), structured, is_error=answered == 0)


def mcp_images(images: list[ImageArg]) -> list[p.Attachment]:
    """MCP image blocks as image attachments: the bytes must be what the MIME type says."""
    out: list[p.Attachment] = []
    for index, image in enumerate(images):
        try:
            raw = base64.b64decode(image.data, validate=True)
        except (binascii.Error, ValueError):
            raise SynapseError("bad_request", f"images[{index}].data is not base64", field="images") from None
        if image_type(raw[:16]) != image.mimeType:
            raise SynapseError("bad_request", f"images[{index}] is not a {image.mimeType} image (by its bytes)",
                               field="images", hint="send PNG, JPEG, WebP or GIF bytes under their own MIME type")
        out.append(p.ImageFile(media_type=image.mimeType, data=image.data, size=len(raw)))
    return out


async def with_files(call: Call, messages: list[p.Message], files: list[str] | None) -> list[p.Message]:
    """The workspace files read and attached to the last (user) message, or file_refused."""
    if not files:
        return messages
    if call.workspace is None:
        raise SynapseError("file_refused", "files are read only for MCP clients, from their workspace roots",
                           hint="paste the text into the prompt instead")
    attachments = await read_files(files, await call.workspace.scope(), call.workspace.limits)
    last = messages[-1]
    return [*messages[:-1], msgspec.structs.replace(last, attachments=[*attachments, *last.attachments])]


def as_stored(message: p.Message) -> p.Message:
    """A turn as a thread keeps it: the text as sent, file blocks included; images are named, not kept."""
    images = message.images
    note = "" if not images else ("\n\n[" + ", ".join(i.path or "an image" for i in images)
                                  + f": {len(images)} image(s) sent with this turn, not kept in the thread]")
    return p.Message(message.role, message.as_text() + note)


def files_sent(messages: list[p.Message]) -> dict[str, Any]:
    """What the result says of the files a call sent: each one's size and estimated tokens."""
    sent = [a for a in messages[-1].attachments if a.path is not None] if messages else []
    if not sent:
        return {}
    return {"files": [{"path": a.path, "bytes": a.size, "kind": "text" if isinstance(a, p.TextFile) else "image",
                       "est_tokens": attachment_tokens(a)}
                      for a in sent]}


def _request(messages: list[p.Message], system: str | None, args: AskArgs | ChatArgs | CompareArgs) -> p.ChatRequest:
    return build_chat_request(messages, system, args.max_output_tokens, args.temperature, reasoning=args.reasoning,
                              include_reasoning=args.include_reasoning, response_schema=args.response_schema)


PROGRESS_TEXT_CHARS = 2000


def _progress_line(name: str, outcome: tuple[Any, p.ChatResult] | SynapseError) -> str:
    """One connection's outcome as a progress message: its answer (long ones cut, the full text
    is in the final result) or its error kind and hint."""
    if isinstance(outcome, SynapseError):
        return f"{name}: error {outcome.kind}: {outcome.message} (hint: {outcome.hint})"
    text = outcome[1].text
    cut = text if len(text) <= PROGRESS_TEXT_CHARS else text[:PROGRESS_TEXT_CHARS] + " …"
    return f"{name} ({outcome[1].model}): {cut}"


def warnings_of(answer: Answer) -> list[tuple[str, dict[str, Any]]]:
    """(MCP log level, data) for what an IDE's log should show about a call: each failure kind,
    each crossed monitor-mode budget. Never prompt or answer text."""
    out: list[tuple[str, dict[str, Any]]] = []
    rows = answer.structured.get("results", [answer.structured])
    for row in rows:
        error = row.get("error")
        if error:
            level = "error" if answer.is_error else "warning"
            out.append((level, {"event": "call failed", "connection": row.get("connection"), "kind": error["kind"],
                                "message": error["message"], "hint": error["hint"]}))
        for warning in row.get("budget_warnings") or []:
            out.append(("warning", {"event": "budget crossed", "connection": row.get("connection"), "message": warning}))
    return out


LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


def client_logs(answer: Answer, floor: str) -> list[tuple[str, dict[str, Any]]]:
    """warnings_of at or above the session's level (set only from a validated setLevel), redacted."""
    lowest = LOG_LEVELS.index(floor)
    return [(level, redact_value(data)) for level, data in warnings_of(answer) if LOG_LEVELS.index(level) >= lowest]


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str
    args: type[msgspec.Struct]
    description: str
    handler: Callable[[ToolRunner, Call], Awaitable[Answer]]


TOOLS: dict[str, ToolSpec] = {
    t.name: t
    for t in (
        ToolSpec("list_connections", "List LLM connections", NoArgs,
                 "List the LLM connections this daemon offers (name, provider, model, whether it is the default, "
                 "today's preflight state). Use a name from here as `connection` in ask/chat/compare.",
                 ToolRunner.list_connections),
        ToolSpec("ask", "Ask an LLM", AskArgs,
                 "Send one prompt to one of the user's own LLM connections (their key, their provider) and return "
                 "the answer with the model used, token usage and latency. Non-streaming; nothing is retried and no "
                 "other connection is substituted if this one fails.",
                 ToolRunner.ask),
        ToolSpec("chat", "Chat with an LLM", ChatArgs,
                 "Send a multi-turn conversation (messages with role user/assistant, ending with a user message) to "
                 "one connection and return its reply, model, token usage and latency.",
                 ToolRunner.chat),
        ToolSpec("compare", "Compare LLM answers", CompareArgs,
                 "Send the same prompt to 2-8 named connections at once and return every answer (or that "
                 "connection's error) side by side. An explicit fan-out: each connection answers for itself.",
                 ToolRunner.compare),
    )
}
