"""Scripted model APIs for driving a real agent through one tool call: Anthropic's Messages API
(Claude Code in print mode), OpenAI's Responses API (codex exec) and the Gemini API (Gemini CLI
in non-interactive mode). The script is the same for each: when the request offers our server's
tool, the "model" calls it with the scripted arguments; when the conversation holds that tool's
result, the model answers with the result's text quoted. Anything else (the agents' own side
requests, such as titles) gets a short plain answer.

Each speaks its API's streaming form as the provider's reference documents it, because that is
what the agents ask for (Messages: message_start, content_block_start/delta/stop, message_delta,
message_stop; Responses: response.created, response.output_item.done, response.completed;
Gemini: `data:` chunks of GenerateContentResponse), and the plain JSON form otherwise.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from aiohttp import web

from tests.support.threaded_app import ThreadedApp

ANSWER_PREFIX = "The other model said: "


@dataclass
class _Script:
    """One scripted "model": call `tool` of MCP server `server` with `arguments`, then quote its result."""

    server: str
    tool: str
    arguments: dict[str, Any]
    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0
    api_root: ClassVar[str] = ""  # where the API's paths start, below the host

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.api_root}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raise NotImplementedError

    def start(self) -> Self:
        self._app = ThreadedApp(self._handle)
        self.port = self._app.start()
        return self

    def stop(self) -> None:
        self._app.stop()


@dataclass
class ScriptedModel(_Script):
    """Claude Code's side: its tools are mcp__<server>__<tool>."""

    @property
    def tool_name(self) -> str:
        return f"mcp__{self.server}__{self.tool}"

    def tool_calls(self) -> int:
        return sum(1 for body in self.requests if _tool_result(body, "") is not None)

    # ---- the script -------------------------------------------------------------------------

    def _reply(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
        """(content blocks, stop reason) for one request."""
        result = _tool_result(body, self.tool_name)
        if result is not None:
            return [{"type": "text", "text": ANSWER_PREFIX + result}], "end_turn"
        offered = {t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)}
        if self.tool_name in offered:
            return [{"type": "tool_use", "id": "toolu_" + uuid.uuid4().hex[:20], "name": self.tool_name,
                     "input": self.arguments}], "tool_use"
        return [{"type": "text", "text": "ok"}], "end_turn"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.method != "POST" or not request.path.endswith("/messages"):
            if request.path.endswith("/count_tokens"):
                return web.json_response({"input_tokens": 10})
            return web.json_response({"type": "error", "error": {"type": "not_found_error", "message": "no such route"}},
                                     status=404)
        body = await request.json()
        self.requests.append(body)
        blocks, stop = self._reply(body)
        message = {"id": "msg_" + uuid.uuid4().hex[:24], "type": "message", "role": "assistant",
                   "model": body.get("model", "claude-scripted"), "content": blocks, "stop_reason": stop,
                   "stop_sequence": None, "usage": {"input_tokens": 12, "output_tokens": 7}}
        if not body.get("stream"):
            return web.json_response(message)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        for event, data in _stream_events(message):
            await response.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
        await response.write_eof()
        return response


def _tool_result(body: dict[str, Any], tool_name: str) -> str | None:
    """The text of the last tool_result in the conversation (any tool when `tool_name` is "")."""
    for message in reversed(body.get("messages") or []):
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                inner = block.get("content")
                if isinstance(inner, list):
                    return "".join(b.get("text", "") for b in inner if isinstance(b, dict))
                return str(inner or "")
    return None


def _stream_events(message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    start = {**message, "content": [], "stop_reason": None, "usage": {"input_tokens": 12, "output_tokens": 1}}
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            events.append(("content_block_start", {"type": "content_block_start", "index": index,
                                                   "content_block": {"type": "text", "text": ""}}))
            events.append(("content_block_delta", {"type": "content_block_delta", "index": index,
                                                   "delta": {"type": "text_delta", "text": block["text"]}}))
        else:
            events.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": {
                "type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}}))
            events.append(("content_block_delta", {"type": "content_block_delta", "index": index, "delta": {
                "type": "input_json_delta", "partial_json": json.dumps(block["input"])}}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(("message_delta", {"type": "message_delta", "delta": {"stop_reason": message["stop_reason"],
                                                                        "stop_sequence": None},
                                     "usage": {"output_tokens": 7}}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


@dataclass
class ScriptedResponses(_Script):
    """The same script for Codex CLI, over the Responses API's streaming form (response.created,
    response.output_item.done, response.completed). Codex offers an MCP server's tools as one
    `namespace` tool (mcp__<server>) whose description is the server's initialize instructions;
    a call names the tool and its namespace."""

    api_root: ClassVar[str] = "/v1"

    @property
    def namespace(self) -> str:
        return f"mcp__{self.server}"

    def offered(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """Our server's namespace tool (Codex writes a server's `-` as `_` in tool names)."""
        wanted = {self.namespace, self.namespace.replace("-", "_")}
        return next((t for t in body.get("tools") or [] if t.get("type") == "namespace" and t.get("name") in wanted), None)

    def _item(self, body: dict[str, Any]) -> dict[str, Any]:
        outputs = [i for i in body.get("input") or [] if isinstance(i, dict) and i.get("type") == "function_call_output"]
        if outputs:
            text = ANSWER_PREFIX + str(outputs[-1].get("output"))
        elif (space := self.offered(body)) and any(t.get("name") == self.tool for t in space.get("tools", [])):
            return {"type": "function_call", "id": "fc_" + uuid.uuid4().hex[:12], "call_id": "call_" + uuid.uuid4().hex[:12],
                    "name": self.tool, "namespace": space["name"], "arguments": json.dumps(self.arguments),
                    "status": "completed"}
        else:
            text = "ok"
        return {"type": "message", "id": "msg_" + uuid.uuid4().hex[:12], "role": "assistant", "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": []}]}

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.method != "POST" or not request.path.endswith("/responses"):
            return web.json_response({"object": "list", "data": []})
        body = await request.json()
        self.requests.append(body)
        item = self._item(body)
        response_id = "resp_" + uuid.uuid4().hex[:24]
        usage = {"input_tokens": 12, "output_tokens": 7, "total_tokens": 19, "input_tokens_details": {"cached_tokens": 0},
                 "output_tokens_details": {"reasoning_tokens": 0}}
        stream = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await stream.prepare(request)
        for kind, data in (
            ("response.created", {"response": {"id": response_id, "object": "response", "status": "in_progress",
                                               "output": []}}),
            ("response.output_item.done", {"output_index": 0, "item": item}),
            ("response.completed", {"response": {"id": response_id, "object": "response", "status": "completed",
                                                 "output": [item], "usage": usage}}),
        ):
            await stream.write(f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode())
        await stream.write_eof()
        return stream

    def tool_calls(self) -> int:
        return sum(1 for body in self.requests if any(isinstance(i, dict) and i.get("type") == "function_call_output"
                                                      for i in body.get("input") or []))


@dataclass
class ScriptedGemini(_Script):
    """The same script for Gemini CLI, over the Gemini API's generateContent and its streaming
    form (streamGenerateContent?alt=sse), as Google's API reference documents them. Gemini CLI
    offers MCP tools as function declarations; a call is a `functionCall` part, its result comes
    back as a `functionResponse` part."""

    def declared(self, body: dict[str, Any]) -> str | None:
        """The name Gemini CLI gave our tool (it may qualify it with the server's name)."""
        names = [d.get("name", "") for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]
        return next((n for n in names if n == self.tool or n.endswith(("__" + self.tool, "_" + self.tool))
                     and self.server.replace("-", "_") in n.replace("-", "_")), None)

    def _parts(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        contents = body.get("contents") or []
        last = contents[-1] if contents else {}
        responses = [p["functionResponse"] for p in last.get("parts") or [] if "functionResponse" in p]
        if responses:
            return [{"text": ANSWER_PREFIX + json.dumps(responses[-1].get("response"))}]
        if (body.get("generationConfig") or {}).get("responseMimeType") == "application/json":
            return [{"text": "{}"}]  # the CLI's own side questions: no opinion
        name = self.declared(body)
        if name is not None:
            return [{"functionCall": {"name": name, "args": self.arguments}}]
        return [{"text": "ok"}]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.method != "POST":
            return web.json_response({"models": []})
        body = await request.json()
        if request.path.endswith(":countTokens"):
            return web.json_response({"totalTokens": 10})
        self.requests.append(body)
        reply = {"candidates": [{"content": {"role": "model", "parts": self._parts(body)}, "finishReason": "STOP",
                                 "index": 0}],
                 "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 7, "totalTokenCount": 19},
                 "modelVersion": "gemini-scripted"}
        if not request.path.endswith(":streamGenerateContent"):
            return web.json_response(reply)
        stream = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await stream.prepare(request)
        await stream.write(f"data: {json.dumps(reply)}\r\n\r\n".encode())
        await stream.write_eof()
        return stream

    def tool_calls(self) -> int:
        return sum(1 for body in self.requests
                   if any("functionResponse" in p for c in body.get("contents") or [] for p in c.get("parts") or []))
