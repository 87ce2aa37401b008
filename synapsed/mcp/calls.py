"""One tools/call, whichever path brought it (the SDK's handler or the HTTP fast path): pick
the route's binding, run the tool, count the session's calls and errors. No SDK types here, so
the fast path can run calls before the SDK has loaded."""

from __future__ import annotations

from typing import Any

from synapsed.config import ConfigStore
from synapsed.errors import SynapseError, internal_error
from synapsed.gateway import Gateway
from synapsed.logging import get_logger
from synapsed.mcp.sessions import Session
from synapsed.mcp.tools import Answer, Progress, ToolRunner, error_answer, no_progress, tool_names
from synapsed.threads.rules import Threads

log = get_logger("synapsed.mcp")
INVALID_PARAMS = -32602  # JSON-RPC


class UnknownTool(Exception):
    """A tool this endpoint does not offer: a JSON-RPC error, not a tool result."""

    code = INVALID_PARAMS

    def __init__(self, name: str, bound: str | None) -> None:
        self.message = f"unknown tool {name!r}; available: {', '.join(tool_names(bound))}"
        super().__init__(self.message)


class ToolCalls:
    def __init__(self, config: ConfigStore, gateway: Gateway, threads: Threads) -> None:
        self.config = config
        self.gateway = gateway
        self.threads = threads

    def runner(self) -> ToolRunner:
        return ToolRunner(self.gateway, self.config.config.mcp.default_connection, self.threads)

    async def call(self, session: Session, bound: str | None, name: str, arguments: dict[str, Any] | None,
                   progress: Progress = no_progress) -> Answer:
        if name not in tool_names(bound):
            raise UnknownTool(name, bound)
        try:
            if bound is not None and bound not in self.config.config.connections:
                raise SynapseError("not_found", f"connection {bound!r} no longer exists", name=bound)
            answer = await self.runner().run(name, arguments, bound, caller=session.label, session=session.id,
                                             progress=progress)
        except SynapseError as exc:
            answer = error_answer(exc)
        except Exception:
            answer = error_answer(internal_error(log, f"tool {name}"))
        session.calls += 1
        session.errors += int(answer.is_error)
        return answer
