"""Typed JSON-RPC client over the daemon's Unix socket (a small HTTP/1.1 exchange + msgspec).

Used by the CLI and by the tests. Deliberately small: one fresh connection per call, so a
request is never silently re-sent on a reused keep-alive connection (no hidden retry).
"""

from __future__ import annotations

import itertools
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from synapsectl import unix_http
from synapsed import protocol as p
from synapsed.paths import check_socket_path
from synapsed.peer import connect_to_daemon

T = TypeVar("T")


class DaemonNotRunning(Exception):
    def __init__(self, socket_path: Path, reason: str) -> None:
        super().__init__(f"synapsed is not running (no daemon answers on {socket_path}: {reason})")
        self.socket_path = socket_path
        self.hint = "start it with `synapsed` (foreground) or `make run`; use --home/SYNAPSE_HOME if it runs elsewhere"


class RpcError(Exception):
    """A JSON-RPC error reply: `kind` and `hint` come from the daemon's error taxonomy."""

    def __init__(self, code: int, message: str, data: dict[str, Any] | None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data or {}
        self.kind: str = self.data.get("kind", "internal")
        self.hint: str = self.data.get("hint", "")


class ProtocolError(Exception):
    """The daemon answered something that is not a JSON-RPC response, or not the one asked for."""

    def __init__(self, message: str, hint: str = "see `synapsectl logs`") -> None:
        super().__init__(message)
        self.hint = hint


class DaemonGone(Exception):
    """The daemon closed the connection after taking the request and before answering it."""

    def __init__(self, socket_path: Path) -> None:
        super().__init__("synapsed closed the connection before answering (it stopped or crashed mid-request)")
        self.hint = ("nothing was retried: the request may or may not have reached the provider; "
                     "check `synapsectl status` and `synapsectl usage history`")


# A reset or a close mid-exchange: the daemon took the request and went away.
_GONE = (unix_http.RemoteGone, ConnectionResetError, BrokenPipeError)


_ids = itertools.count(1)
_response_decoder = msgspec.json.Decoder(p.RpcResponse)


def _request(method: str, params: Any) -> bytes:
    wire_params = msgspec.to_builtins(params) if params is not None else msgspec.UNSET
    return msgspec.json.encode(p.RpcRequest(method=method, id=next(_ids), params=wire_params))


def _result(status: int, body: bytes, result_type: type[T]) -> T:
    try:
        response = _response_decoder.decode(body)
    except msgspec.DecodeError:
        raise ProtocolError(f"daemon answered HTTP {status} with a non-JSON-RPC body") from None
    if not isinstance(response.error, msgspec.UnsetType):
        raise RpcError(response.error.code, response.error.message, response.error.data)
    try:
        return msgspec.convert(response.result, result_type)
    except msgspec.ValidationError as exc:  # typically a daemon older or newer than this synapsectl
        raise ProtocolError(f"the daemon's reply has an unexpected shape ({exc})",
                            "a synapsed of another version may still be running: restart it "
                            "(`synapsectl stop`, then start it again) so it matches this synapsectl") from None


class Client:
    def __init__(self, socket_path: Path | str, timeout: float = 30.0) -> None:
        self.socket_path = Path(socket_path)
        self.timeout = timeout

    def _connected(self) -> socket.socket:
        check_socket_path(self.socket_path)
        try:
            return connect_to_daemon(self.socket_path, self.timeout)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise DaemonNotRunning(self.socket_path, type(exc).__name__) from None

    def post(self, body: bytes, content_type: str = "application/json") -> tuple[int, bytes]:
        """Send raw bytes to /rpc; the status and body as received (tests use it for bad input)."""
        sock = self._connected()
        try:
            try:
                response = unix_http.post(sock, p.RPC_PATH, body, {"Content-Type": content_type})
                return response.status, response.read()
            except _GONE:
                raise DaemonGone(self.socket_path) from None
            except unix_http.BadResponse as exc:
                raise ProtocolError(f"the daemon's socket answered something that is not HTTP ({exc})") from None
        finally:
            sock.close()

    def call(self, method: str, params: Any = None, result_type: type[T] = Any) -> T:  # type: ignore[assignment]
        status, body = self.post(_request(method, params))
        return _result(status, body, result_type)

    def call_stream(
        self,
        method: str,
        params: Any,
        result_type: type[T],
        on_progress: Callable[[str, Any], None],
    ) -> T:
        """Call a streaming method: `on_progress(method, params)` sees each notification as it arrives."""
        sock = self._connected()
        try:
            try:
                response = unix_http.post(sock, p.RPC_PATH, _request(method, params),
                                          {"Content-Type": "application/json", "Accept": p.NDJSON})
                if p.NDJSON not in (response.header("Content-Type") or ""):
                    return _result(response.status, response.read(), result_type)
                while line := response.readline():
                    if not line.strip():
                        continue
                    message = msgspec.json.decode(line)
                    if isinstance(message, dict) and "method" in message and "id" not in message:
                        on_progress(message["method"], message.get("params"))
                        continue
                    return _result(response.status, line, result_type)
            except _GONE:
                raise DaemonGone(self.socket_path) from None
            except unix_http.BadResponse as exc:
                raise ProtocolError(f"the daemon's socket answered something that is not HTTP ({exc})") from None
            raise ProtocolError("the daemon closed the stream before its response (did it stop?)")
        finally:
            sock.close()

    # ---- typed methods: one per RPC method, named after it ------------------------------------

    def daemon_status(self) -> p.DaemonStatus:
        return self.call("daemon.status", result_type=p.DaemonStatus)

    def daemon_reload(self) -> p.ReloadResult:
        return self.call("daemon.reload", result_type=p.ReloadResult)

    def daemon_shutdown(self) -> p.ShutdownResult:
        return self.call("daemon.shutdown", result_type=p.ShutdownResult)

    def connections_list(self, with_keys: bool = True) -> p.ConnectionList:
        return self.call("connections.list", p.ListParams(with_keys=with_keys), p.ConnectionList)

    def connections_get(self, name: str) -> p.ConnectionResult:
        return self.call("connections.get", p.NameParams(name=name), p.ConnectionResult)

    def connections_create(self, spec: p.ConnectionSpec, revision: int | None = None) -> p.ConnectionResult:
        return self.call("connections.create", p.CreateParams(connection=spec, revision=revision), p.ConnectionResult)

    def connections_update(self, name: str, changes: p.ConnectionPatch, revision: int | None = None) -> p.ConnectionResult:
        params = p.UpdateParams(name=name, changes=changes, revision=revision)
        return self.call("connections.update", params, p.ConnectionResult)

    def connections_delete(self, name: str, revision: int | None = None, keep_key: bool = False) -> p.DeleteResult:
        params = p.DeleteParams(name=name, revision=revision, keep_key=keep_key)
        return self.call("connections.delete", params, p.DeleteResult)

    def connections_enable(self, name: str, revision: int | None = None) -> p.ConnectionResult:
        return self.call("connections.enable", p.NameParams(name=name, revision=revision), p.ConnectionResult)

    def connections_disable(self, name: str, revision: int | None = None) -> p.ConnectionResult:
        return self.call("connections.disable", p.NameParams(name=name, revision=revision), p.ConnectionResult)

    def secrets_set(self, name: str, value: str) -> p.KeyStatus:
        return self.call("secrets.set", p.SecretSetParams(name=name, value=value), p.KeyStatus)

    def secrets_delete(self, name: str) -> p.SecretDeleteResult:
        return self.call("secrets.delete", p.SecretNameParams(name=name), p.SecretDeleteResult)

    def secrets_status(self, name: str | None = None) -> p.SecretStatusList:
        return self.call("secrets.status", p.SecretStatusParams(name=name), p.SecretStatusList)

    def chat_complete(self, params: p.ChatParams) -> p.ChatCompletion:
        return self.call("chat.complete", params, p.ChatCompletion)

    def preflight_run(
        self, params: p.PreflightParams, on_check: Callable[[str, p.PreflightCheck], None] | None = None
    ) -> p.PreflightResult:
        if on_check is None:
            return self.call("preflight.run", params, p.PreflightResult)

        def progress(method: str, raw: Any) -> None:
            if method == "preflight.check" and isinstance(raw, dict):
                on_check(raw["connection"], msgspec.convert(raw["check"], p.PreflightCheck))

        return self.call_stream("preflight.run", params, p.PreflightResult, progress)

    def usage_summary(self, params: p.UsageSummaryParams) -> p.UsageSummary:
        return self.call("usage.summary", params, p.UsageSummary)

    def usage_history(self, params: p.UsageHistoryParams) -> p.UsageHistory:
        return self.call("usage.history", params, p.UsageHistory)

    def usage_export(self, params: p.UsageExportParams) -> p.UsageExportResult:
        return self.call("usage.export", params, p.UsageExportResult)

    def usage_clear(self, before: str | None = None) -> p.UsageClearResult:
        return self.call("usage.clear", p.UsageClearParams(before=before), p.UsageClearResult)

    def usage_prices(self) -> p.PriceList:
        return self.call("usage.prices", result_type=p.PriceList)

    def mcp_sessions(self) -> p.McpSessionList:
        return self.call("mcp.sessions", result_type=p.McpSessionList)

    def mcp_token_rotate(self) -> p.TokenRotated:
        return self.call("mcp.token_rotate", result_type=p.TokenRotated)

    def console_login(self) -> p.ConsoleLink:
        return self.call("console.login", result_type=p.ConsoleLink)

    # ---- threads ---------------------------------------------------------------------------------

    def threads_list(self, limit: int = 50, offset: int = 0) -> p.ThreadList:
        return self.call("threads.list", p.ThreadListParams(limit=limit, offset=offset), p.ThreadList)

    def threads_get(self, thread_id: str) -> p.ThreadView:
        return self.call("threads.get", p.ThreadIdParams(id=thread_id), p.ThreadView)

    def threads_export(self, thread_id: str, fmt: p.ThreadExportFormat = "md") -> p.ThreadExport:
        return self.call("threads.export", p.ThreadExportParams(id=thread_id, format=fmt), p.ThreadExport)

    def threads_trim(self, thread_id: str, keep: int) -> p.ThreadTrimResult:
        return self.call("threads.trim", p.ThreadTrimParams(id=thread_id, keep=keep), p.ThreadTrimResult)

    def threads_delete(self, thread_id: str) -> p.ThreadDeleteResult:
        return self.call("threads.delete", p.ThreadIdParams(id=thread_id), p.ThreadDeleteResult)

    def threads_clear(self, before: str | None = None) -> p.ThreadClearResult:
        return self.call("threads.clear", p.ThreadClearParams(before=before), p.ThreadClearResult)
