"""The MCP protocol side: the official SDK's low-level Server with our tool handlers, and who
is calling (client name from initialize, or from each request's `_meta` in the 2026-07-28 era).

Transports live beside it: http.py (Streamable HTTP on 127.0.0.1), bridge.py (the Unix socket
of `synapsectl mcp stdio`). Both hand requests to `McpServer.server`.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import mcp_types as types
import msgspec
from mcp.server import Server
from mcp.shared.exceptions import MCPError

from synapsed import __version__
from synapsed.config import ConfigStore
from synapsed.errors import SynapseError
from synapsed.gateway import Gateway
from synapsed.json_input import valid_text
from synapsed.logging import get_logger
from synapsed.mcp.calls import ToolCalls, UnknownTool
from synapsed.mcp.listing import BOUND_PREFIX, INSTRUCTIONS, SERVER_NAME, input_schema, result_data, schema, tool_description
from synapsed.mcp.sessions import Session, SessionRegistry, stdio_binding
from synapsed.mcp.tool_meta import ANNOTATIONS, OUTPUT_SCHEMAS
from synapsed.mcp.tools import TOOLS, Answer, Call, NoArgs, client_logs, tool_names
from synapsed.redaction import redact_text
from synapsed.threads.rules import Threads, as_markdown

log = get_logger("synapsed.mcp")


# logging/setLevel is deprecated in the 2026-07-28 era but still what handshake-era IDEs use.
DEPRECATED_LOGGING = "The logging capability is deprecated"
warnings.filterwarnings("ignore", message=DEPRECATED_LOGGING)
RESOURCE_NOT_FOUND = -32002  # the MCP spec's code for resources/read of an unknown URI
CONNECTIONS_URI = "synapse://connections"
THREADS_URI = "synapse://threads"
THREAD_PREFIX = THREADS_URI + "/"
RESOURCES = (
    types.Resource(uri=CONNECTIONS_URI, name="connections", title="LLM connections", mime_type="application/json",
                   description="The connections this endpoint offers: provider, model, default, today's usage."),
    types.Resource(uri=THREADS_URI, name="threads", title="Conversation threads", mime_type="application/json",
                   description="Kept conversation threads, newest first: id, turns, title, last connection."),
)
THREAD_TEMPLATE = types.ResourceTemplate(
    uri_template=THREAD_PREFIX + "{id}", name="thread", title="One conversation thread", mime_type="text/markdown",
    description="Every turn of one thread as text: who answered (connection, model) and what was said.",
)
RESOURCE_LIST_LIMIT = 200

def bound_connection(path: str) -> str | None:
    return path[len(BOUND_PREFIX):] if path.startswith(BOUND_PREFIX) else None


class McpServer:
    def __init__(self, config: ConfigStore, gateway: Gateway, sessions: SessionRegistry, threads: Threads,
                 calls: ToolCalls | None = None) -> None:
        self.config = config
        self.gateway = gateway
        self.sessions = sessions
        self.threads = threads
        self.calls = calls or ToolCalls(config, gateway, threads)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=DEPRECATED_LOGGING)
            self.server: Server[Any] = Server(
                SERVER_NAME,
                version=__version__,
                instructions=INSTRUCTIONS,
                # The 2026-07-28 era checks Mcp-Param-* headers against a tool's schema on every
                # call; without this lookup the SDK would run the whole tools/list handler each time.
                get_tool_input_schema=input_schema,
                on_list_tools=self._list_tools,
                on_call_tool=self._call_tool,
                on_list_resources=self._list_resources,
                on_list_resource_templates=self._list_resource_templates,
                on_read_resource=self._read_resource,
                on_set_logging_level=self._set_logging_level,
            )

    def _caller(self, ctx: Any) -> tuple[Session, str | None]:
        params = ctx.session.client_params
        info = params.client_info if params is not None else None
        # The SDK's 2026-07-28 parser lets lone surrogates through; they would fail the ledger.
        name = valid_text(info.name) if info is not None else "unknown"
        version = valid_text(info.version) if info is not None else ""
        request = ctx.request
        if request is not None and hasattr(request, "url"):
            bound = bound_connection(request.url.path)
            sid = request.headers.get("mcp-session-id")
            key = f"http-{sid}" if sid else f"http-stateless-{name}-{version}"
            return self.sessions.touch(key, "http", name, version, bound, ctx.protocol_version), bound
        key, bound = stdio_binding.get() or ("stdio-unbound", None)
        return self.sessions.touch(key, "stdio", name, version, bound, ctx.protocol_version), bound

    async def _list_tools(self, ctx: Any, params: Any) -> types.ListToolsResult:
        _, bound = self._caller(ctx)
        return types.ListToolsResult(tools=tool_list(bound))

    async def _call_tool(self, ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        session, bound = self._caller(ctx)
        try:
            wants_progress = isinstance(params.meta, dict) and params.meta.get("progress_token") is not None
            answer = await self.calls.call(session, bound, params.name, params.arguments,
                                           ctx.session.report_progress if wants_progress else None,
                                           ask_roots=_sdk_roots(ctx))
        except UnknownTool as exc:
            raise MCPError(exc.code, exc.message) from None
        if _in_http_session(ctx):
            self.calls.deliveries.answered(session, ctx.request_id, answer)
        await self._log_to_client(ctx, session, answer)
        return to_result(answer)

    async def _set_logging_level(self, ctx: Any, params: types.SetLevelRequestParams) -> types.EmptyResult:
        session, _ = self._caller(ctx)
        session.log_level = params.level
        session.log_level_set = True
        return types.EmptyResult()

    async def _log_to_client(self, ctx: Any, session: Session, answer: Answer) -> None:
        """The call's failure kinds and budget warnings, to the session that made it, redacted."""
        for level, data in client_logs(answer, session.log_level):
            try:
                await ctx.session.send_log_message(level, data, logger="synapse", related_request_id=ctx.request_id)
            except Exception as exc:  # a client that went away must not fail the call
                log.debug("mcp log notification not delivered", error=str(exc))

    async def _list_resources(self, ctx: Any, params: Any) -> types.ListResourcesResult:
        self._caller(ctx)
        return types.ListResourcesResult(resources=list(RESOURCES))

    async def _list_resource_templates(self, ctx: Any, params: Any) -> types.ListResourceTemplatesResult:
        self._caller(ctx)
        return types.ListResourceTemplatesResult(resource_templates=[THREAD_TEMPLATE])

    async def _read_resource(self, ctx: Any, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        session, bound = self._caller(ctx)
        uri = str(params.uri)
        try:
            mime, text = await self._resource_text(uri, bound, session)
        except SynapseError as exc:
            code = RESOURCE_NOT_FOUND if exc.kind == "not_found" else types.INVALID_PARAMS
            raise MCPError(code, f"{exc.kind}: {exc.message} (hint: {exc.hint})") from None
        # Thread text is model output: loaded key values are scrubbed, key-shaped examples kept.
        return types.ReadResourceResult(contents=[types.TextResourceContents(uri=uri, mime_type=mime,
                                                                            text=redact_text(text, patterns=False))])

    async def _resource_text(self, uri: str, bound: str | None, session: Session) -> tuple[str, str]:
        if uri == CONNECTIONS_URI:
            answer = await self.calls.runner().list_connections(Call(NoArgs(), bound, session.label, session.id))
            return "application/json", json.dumps(answer.structured, indent=1)
        if uri == THREADS_URI:
            listing = self.threads.summaries(RESOURCE_LIST_LIMIT)
            return "application/json", json.dumps(msgspec.to_builtins(listing), indent=1)
        if uri.startswith(THREAD_PREFIX):
            return "text/markdown", as_markdown(self.threads.view(uri[len(THREAD_PREFIX):]))
        raise SynapseError("not_found", f"no resource {uri[:200]!r}",
                           hint=f"read {CONNECTIONS_URI}, {THREADS_URI} or {THREAD_PREFIX}<thread id>")


def _in_http_session(ctx: Any) -> bool:
    """A call on an HTTP session, whose reply the HTTP layer reports as written or not."""
    request = ctx.request
    return (ctx.request_id is not None and request is not None and hasattr(request, "url")
            and request.headers.get("mcp-session-id") is not None)


def _sdk_roots(ctx: Any) -> Any:
    """roots/list through the SDK's session, when the client declared the capability."""
    capabilities = ctx.session.client_capabilities
    if capabilities is None or capabilities.roots is None:
        return None

    async def ask() -> list[str]:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # deprecated in the 2026-07-28 era, still the handshake era's way
                result = await ctx.session.list_roots()
        except MCPError as exc:
            raise SynapseError("file_refused", f"the client did not list its workspace roots: {exc}",
                               hint="set [context] allow for this client") from None
        except Exception as exc:  # no back channel on this transport (the 2026-07-28 era without the fast path)
            raise SynapseError("file_refused", f"cannot ask this client for its workspace roots ({type(exc).__name__})",
                               hint="set [context] allow, or leave [mcp] fast_path on") from None
        return [str(root.uri) for root in result.roots]

    return ask


def tool_list(bound: str | None) -> list[types.Tool]:
    """What tools/list shows on /mcp (bound None) or on /mcp/c/<bound>, as the SDK's models."""
    return [types.Tool(name=name, title=TOOLS[name].title, description=tool_description(name, bound),
                       input_schema=schema(name, bound), output_schema=OUTPUT_SCHEMAS[name],
                       annotations=types.ToolAnnotations.model_validate(ANNOTATIONS[name]))
            for name in tool_names(bound)]


def to_result(answer: Answer) -> types.CallToolResult:
    data = result_data(answer)
    return types.CallToolResult(content=[types.TextContent(type="text", text=data["content"][0]["text"])],
                                structured_content=data["structuredContent"], is_error=answer.is_error)
