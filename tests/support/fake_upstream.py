"""Fake provider upstreams on 127.0.0.1 that speak each family's documented wire format.

Runs an aiohttp server in its own thread and event loop, so both blocking e2e tests and async
unit tests can use it. Every request is recorded (to prove "requested exactly once").
"""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.support.threaded_app import ThreadedApp


@dataclass
class Canned:
    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    close_mid_body: bool = False


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


Responder = Canned | Callable[[Recorded], Canned]
# Checks a request before routing, as the real service's front door does (a SigV4 signature, a
# bearer token it issued): a Canned refusal, or None to let the request through.
Guard = Callable[[web.Request, bytes], Canned | None]


# ---- each family's wire format, as its public API reference documents it ---------------------

def openai_error(status: int, message: str, type_: str = "invalid_request_error", code: str | None = None) -> Canned:
    return Canned(status, {"error": {"message": message, "type": type_, "param": None, "code": code}})


def anthropic_error(status: int, message: str, type_: str) -> Canned:
    return Canned(status, {"type": "error", "error": {"type": type_, "message": message}})


def gemini_error(status: int, message: str, grpc_status: str, reason: str | None = None) -> Canned:
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "googleapis.com"}] if reason else []
    return Canned(status, {"error": {"code": status, "message": message, "status": grpc_status, "details": details}})


def ollama_error(status: int, message: str) -> Canned:
    return Canned(status, {"error": message})


@dataclass(frozen=True)
class Family:
    chat_path: str
    models_path: str
    chat_ok: Callable[[str], Canned]
    models_ok: Callable[[list[str]], Canned]


def _openai_chat(text: str) -> Canned:
    return Canned(200, {
        "id": "chatcmpl-abc123", "object": "chat.completion", "created": 1732400000, "model": "served-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
    }, headers={"x-request-id": "req_fake_openai"})


def openai_reasoning_chat(text: str, reasoning_tokens: int = 40, cached_tokens: int = 8) -> Canned:
    """A chat completion from a reasoning model: the usage details OpenAI reports for it."""
    canned = _openai_chat(text)
    canned.json["usage"] = {"prompt_tokens": 12, "completion_tokens": 43, "total_tokens": 55,
                            "completion_tokens_details": {"reasoning_tokens": reasoning_tokens},
                            "prompt_tokens_details": {"cached_tokens": cached_tokens}}
    return canned


def openai_response(text: str, summary: str | None = None, status: str = "completed") -> Canned:
    """A Responses API reply (POST /v1/responses), as OpenAI's OpenAPI `Response` describes it."""
    output: list[dict[str, Any]] = []
    if summary is not None:
        output.append({"type": "reasoning", "id": "rs_fake", "summary": [{"type": "summary_text", "text": summary}]})
    output.append({"type": "message", "id": "msg_fake", "role": "assistant", "status": "completed",
                   "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]})
    return Canned(200, {
        "id": "resp_fake", "object": "response", "created_at": 1732400000, "status": status, "model": "served-pro-model",
        "output": output, "error": None, "incomplete_details": None, "instructions": None, "metadata": {},
        "parallel_tool_calls": True, "temperature": 1.0, "top_p": 1.0, "tool_choice": "auto", "tools": [],
        "usage": {"input_tokens": 20, "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0}, "output_tokens": 90,
                  "output_tokens_details": {"reasoning_tokens": 64}, "total_tokens": 110},
    }, headers={"x-request-id": "req_fake_responses"})


def anthropic_thinking_chat(text: str, thinking: str = "I weighed both options.") -> Canned:
    """A message with a (summarized) thinking block before the answer, and prompt-cache usage."""
    return Canned(200, {
        "id": "msg_01Fake", "type": "message", "role": "assistant", "model": "served-model",
        "content": [{"type": "thinking", "thinking": thinking, "signature": "sig_fake"}, {"type": "text", "text": text}],
        "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 80, "cache_read_input_tokens": 1000,
                  "cache_creation_input_tokens": 200, "output_tokens_details": {"thinking_tokens": 70}},
    }, headers={"request-id": "req_fake_anthropic"})


def gemini_thinking_chat(text: str, thought: str = "Considering the options.") -> Canned:
    return Canned(200, {
        "candidates": [{"content": {"role": "model", "parts": [{"text": thought, "thought": True}, {"text": text}]},
                        "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 3, "thoughtsTokenCount": 50,
                          "cachedContentTokenCount": 4, "totalTokenCount": 65},
        "modelVersion": "served-model", "responseId": "resp-gemini-fake",
    })


def _openai_models(ids: list[str]) -> Canned:
    return Canned(200, {"object": "list", "data": [{"id": i, "object": "model", "created": 1, "owned_by": "system"} for i in ids]})


def _anthropic_chat(text: str) -> Canned:
    return Canned(200, {
        "id": "msg_01Fake", "type": "message", "role": "assistant", "model": "served-model",
        "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 3},
    }, headers={"request-id": "req_fake_anthropic"})


def _anthropic_models(ids: list[str]) -> Canned:
    return Canned(200, {
        "data": [{"type": "model", "id": i, "display_name": i, "created_at": "2025-09-29T00:00:00Z", "lifecycle": "active"}
                 for i in ids],
        "has_more": False, "first_id": ids[0] if ids else None, "last_id": ids[-1] if ids else None,
    })


def _gemini_chat(text: str) -> Canned:
    return Canned(200, {
        "candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 3, "totalTokenCount": 15},
        "modelVersion": "served-model", "responseId": "resp_fake_gemini",
    })


def _gemini_models(ids: list[str]) -> Canned:
    return Canned(200, {"models": [{"name": f"models/{i}", "displayName": i,
                                    "supportedGenerationMethods": ["generateContent"]} for i in ids]})


def _ollama_chat(text: str) -> Canned:
    return Canned(200, {
        "model": "served-model", "created_at": "2026-11-24T00:00:00Z",
        "message": {"role": "assistant", "content": text}, "done": True, "done_reason": "stop",
        "total_duration": 1000, "prompt_eval_count": 12, "eval_count": 3,
    })


def _ollama_models(ids: list[str]) -> Canned:
    return Canned(200, {"models": [{"name": i, "model": i, "size": 1, "digest": "d"} for i in ids]})


# ---- per-model lookups, with aliases resolved the way each provider documents it ----------------

def _openai_lookup(record: Recorded, up: FakeUpstream) -> Canned | None:
    prefix = "/v1/models/"
    if record.method != "GET" or not record.path.startswith(prefix):
        return None
    resolved = up.resolve(record.path[len(prefix):])
    if resolved is None:
        return openai_error(404, f"The model '{record.path[len(prefix):]}' does not exist", code="model_not_found")
    return Canned(200, {"id": resolved, "object": "model", "created": 1, "owned_by": "system"})


def _anthropic_lookup(record: Recorded, up: FakeUpstream) -> Canned | None:
    prefix = "/v1/models/"
    if record.method != "GET" or not record.path.startswith(prefix):
        return None
    resolved = up.resolve(record.path[len(prefix):])
    if resolved is None:
        return anthropic_error(404, f"model: {record.path[len(prefix):]}", "not_found_error")
    return Canned(200, {"type": "model", "id": resolved, "display_name": resolved, "created_at": "2025-09-29T00:00:00Z",
                        "lifecycle": "active"})


def _gemini_lookup(record: Recorded, up: FakeUpstream) -> Canned | None:
    prefix = "/v1beta/models/"
    if record.method != "GET" or not record.path.startswith(prefix) or ":" in record.path:
        return None
    resolved = up.resolve(record.path[len(prefix):])
    if resolved is None:
        return gemini_error(404, f"models/{record.path[len(prefix):]} is not found for API version v1beta", "NOT_FOUND")
    return Canned(200, {"name": f"models/{resolved}", "displayName": resolved,
                        "supportedGenerationMethods": ["generateContent"]})


def _ollama_lookup(record: Recorded, up: FakeUpstream) -> Canned | None:
    if record.method != "POST" or record.path != "/api/show":
        return None
    name = record.body.get("model", "") if isinstance(record.body, dict) else ""
    # Ollama's implicit tag: a bare name is name:latest.
    if up.resolve(name) is None and up.resolve(f"{name}:latest") is None:
        return ollama_error(404, f"model '{name}' not found")
    return Canned(200, {"modelfile": "", "parameters": "", "template": "", "details": {"format": "gguf"}})


LOOKUPS: dict[str, Callable[[Recorded, FakeUpstream], Canned | None]] = {
    "openai": _openai_lookup,
    "anthropic": _anthropic_lookup,
    "gemini": _gemini_lookup,
    "ollama": _ollama_lookup,
}


FAMILIES: dict[str, Family] = {
    "openai": Family("/v1/chat/completions", "/v1/models", _openai_chat, _openai_models),
    "azure-openai": Family("/openai/deployments/prod-4o/chat/completions", "/openai/models", _openai_chat, _openai_models),
    "anthropic": Family("/v1/messages", "/v1/models", _anthropic_chat, _anthropic_models),
    "gemini": Family("/v1beta/models/{model}:generateContent", "/v1beta/models", _gemini_chat, _gemini_models),
    "ollama": Family("/api/chat", "/api/tags", _ollama_chat, _ollama_models),
}


class FakeUpstream:
    """One fake provider endpoint. `routes[(METHOD, path)]` answers; everything is recorded."""

    def __init__(
        self,
        family: str = "openai",
        model: str = "test-model",
        models: list[str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        aliases: dict[str, str] | None = None,
        model_lookup: bool = True,
    ) -> None:
        self.family_name = family
        self.ssl_context = ssl_context
        self.family = FAMILIES[family]
        self.model = model
        self.requests: list[Recorded] = []
        self.routes: dict[tuple[str, str], Responder] = {}
        self._app = ThreadedApp(self._handle, ssl_context)
        self.port = 0
        self.listed = models if models is not None else [model, "other-model"]
        # Aliases the per-model endpoint resolves but the listing does not show (Anthropic's
        # claude-sonnet-4-5 -> claude-sonnet-4-5-20250929); model_lookup=False is a compatible
        # server without a per-model endpoint.
        self.aliases = aliases or {}
        self.model_lookup = model_lookup
        self.guard: Guard | None = None
        self.reply_chat(self.family.chat_ok("pong"))
        self.reply_models(self.family.models_ok(self.listed))

    # ---- scripting ------------------------------------------------------------------------

    @property
    def chat_path(self) -> str:
        return self.family.chat_path.replace("{model}", self.model)

    def reply_chat(self, responder: Responder) -> None:
        self.routes[("POST", self.chat_path)] = responder

    def echo_chat(self, prefix: str = "echo:", delay: float = 0.0) -> None:
        """Answer each chat with `prefix` + the last message's content (OpenAI and Anthropic bodies)."""
        def respond(record: Recorded) -> Canned:
            content = record.body["messages"][-1]["content"]
            if isinstance(content, list):  # parts: the texts of them
                content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
            canned = self.family.chat_ok(prefix + content)
            canned.delay = delay
            return canned

        self.reply_chat(respond)

    def reply_models(self, responder: Responder) -> None:
        self.routes[("GET", self.family.models_path)] = responder

    def resolve(self, model: str) -> str | None:
        if model in self.listed:
            return model
        return self.aliases.get(model)

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.requests if r.method == method and r.path == path)

    @property
    def base_url(self) -> str:
        root = f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{self.port}"
        return {"openai": root + "/v1", "gemini": root + "/v1beta"}.get(self.family_name, root)

    # ---- serving --------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        record = Recorded(request.method, request.path, dict(request.query), dict(request.headers), body)
        self.requests.append(record)
        denial = self.guard(request, raw) if self.guard is not None else None
        if denial is not None:
            return self._respond(denial)
        responder = self.routes.get((request.method, request.path))
        lookup = LOOKUPS.get(self.family_name)
        if responder is None and self.model_lookup and lookup is not None:
            responder = lookup(record, self)
        if responder is None:
            return web.json_response({"error": {"message": f"no route {request.method} {request.path}"}}, status=404)
        canned = responder(record) if callable(responder) else responder
        if canned.delay:
            await asyncio.sleep(canned.delay)
        payload = canned.body if canned.body is not None else (json.dumps(canned.json).encode() if canned.json is not None else b"")
        if canned.close_mid_body:
            response = web.StreamResponse(status=canned.status, headers={"Content-Length": str(len(payload) + 1000), **canned.headers})
            response.content_type = "application/json"
            await response.prepare(request)
            await response.write(payload[: max(1, len(payload) // 2)])
            assert request.transport is not None
            request.transport.close()
            return response
        return self._respond(canned, payload)

    @staticmethod
    def _respond(canned: Canned, payload: bytes | None = None) -> web.Response:
        if payload is None:
            payload = canned.body if canned.body is not None else (json.dumps(canned.json).encode() if canned.json is not None else b"")
        content_type = "application/json" if canned.json is not None else "text/plain"
        return web.Response(status=canned.status, body=payload, headers={"Content-Type": content_type, **canned.headers})

    def start(self) -> FakeUpstream:
        self.port = self._app.start()
        return self

    def stop(self) -> None:
        self._app.stop()


def self_signed_context(directory: Path) -> ssl.SSLContext:
    """A server context with a throwaway self-signed certificate (made by the openssl CLI)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context
