"""Google Vertex AI: Gemini by :generateContent and Claude by :rawPredict on
{base}/v1/projects/{project}/locations/{location}/publishers/{google|anthropic}/models/{model}.

Authentication: an OAuth access token from google-auth (credential adc, or file: naming a
service-account JSON), or an express-mode API key (keyring / env:) in x-goog-api-key, which
addresses publishers/google/models/{model} without a project. Preflight's free check is
countTokens on the configured model: it proves the token, the project, that the Vertex AI API
is enabled, IAM, and that the location serves the model, and bills nothing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import msgspec

from synapsed.catalog import PROVIDERS
from synapsed.errors import SynapseError
from synapsed.providers import anthropic, gemini, http
from synapsed.providers.base import CallContext, ChatRequest, ChatResult
from synapsed.providers.gcp_auth import GoogleCredentials

# The Anthropic API version Claude on Vertex AI takes in the body (Anthropic's Vertex docs).
VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"


class _Count(msgspec.Struct):
    totalTokens: int | None = None  # noqa: N815 - wire names
    input_tokens: int | None = None  # Claude's count-tokens


def is_claude(model: str) -> bool:
    return model.startswith("claude-")


def parse_error(reply: http.Reply) -> http.UpstreamError | None:
    # Google's error envelope; Claude's rawPredict may answer in Anthropic's own.
    return gemini.parse_error(reply) or anthropic.parse_error(reply)


class VertexProvider:
    family = "vertex"
    can_check_model = True

    def __init__(self) -> None:
        self.google = GoogleCredentials()

    # ---- addressing and authentication --------------------------------------------------------

    @staticmethod
    def location(ctx: CallContext) -> str:
        return ctx.conn.options.get("location", "global")

    def _uses_token(self, ctx: CallContext) -> bool:
        return PROVIDERS["vertex"].own_credentials(ctx.conn.credential)

    async def _auth(self, ctx: CallContext, fresh: bool = False) -> tuple[dict[str, str], str | None]:
        """(headers, project): a bearer token and its project, or the express-mode key."""
        if not self._uses_token(ctx):
            if not ctx.key:
                raise SynapseError("credential_missing", f"no Vertex AI express-mode key for {ctx.name!r}",
                                   hint=f"store one with `synapsectl key set {ctx.name}`, or use --credential adc / file:KEY.json")
            return {"x-goog-api-key": ctx.key}, ctx.conn.options.get("project")
        token, held = await self.google.token(ctx.name, ctx.conn.credential, ctx.conn.timeout_s, fresh=fresh)
        project = ctx.conn.options.get("project") or held.project
        if not project:
            raise SynapseError("config_invalid", "no Google Cloud project: the credentials name none and option project is unset",
                               hint=f"`synapsectl connections edit {ctx.name} --option project=MY-PROJECT`",
                               field="options.project")
        headers = {"Authorization": f"Bearer {token}"}
        if ctx.conn.options.get("project"):
            headers["x-goog-user-project"] = project  # bill quota to the named project, not the key's
        return headers, project

    def model_url(self, ctx: CallContext, project: str | None, method: str, model: str | None = None) -> str:
        model = model or ctx.conn.model
        publisher = "anthropic" if is_claude(ctx.conn.model) else "google"
        tail = f"publishers/{publisher}/models/{quote(model, safe='-._@')}:{method}"
        if project is None:  # express mode: no project in the path
            return f"{ctx.base_url}/v1/{tail}"
        return f"{ctx.base_url}/v1/projects/{quote(project, safe='')}/locations/{self.location(ctx)}/{tail}"

    def auth_headers(self, ctx: CallContext) -> dict[str, str]:
        return {"x-goog-api-key": ctx.key} if ctx.key else {}

    async def credentials_source(self, ctx: CallContext, fresh: bool) -> str:
        _, held = await self.google.token(ctx.name, ctx.conn.credential, ctx.conn.timeout_s, fresh=fresh)
        project = ctx.conn.options.get("project") or held.project
        where = f", project {project}" if project else ", no project (set option project)"
        return f"{held.source}: access token obtained{self.google.expiry(held)}{where}"

    def forget(self) -> None:
        self.google.forget()

    # ---- errors -----------------------------------------------------------------------------------

    def _fail(self, ctx: CallContext, reply: http.Reply, project: str | None) -> SynapseError:
        parsed = parse_error(reply)
        codes = {c.upper() for c in (parsed.codes if parsed else ())}
        text = parsed.message if parsed else ""
        lowered = text.lower()
        base = http.http_error(reply, parsed, ctx)
        where = f"project {project}" if project else "this key"
        location, model = self.location(ctx), ctx.conn.model

        def refine(kind: str, hint: str) -> SynapseError:
            return SynapseError(kind, base.message, hint=hint, **base.detail)  # type: ignore[arg-type]

        if "SERVICE_DISABLED" in codes or "has not been used in project" in lowered or "is disabled" in lowered:
            return refine("permission_denied", f"the Vertex AI API is not enabled for {where}: "
                          f"`gcloud services enable aiplatform.googleapis.com --project {project or 'PROJECT'}`")
        if "BILLING_DISABLED" in codes or ("billing" in lowered and reply.status in (400, 403)):
            return refine("permission_denied", f"billing is not enabled for {where}: link a billing account to it")
        if reply.status == 403 or "IAM_PERMISSION_DENIED" in codes:
            return refine("permission_denied", f"the principal may not call models in {where}: grant it "
                          "roles/aiplatform.user (Vertex AI User); for Claude also enable the model in Model Garden")
        if reply.status == 401:
            hint = ("the access token was refused: run `synapsectl preflight " + ctx.name + "` to fetch a fresh one and "
                    "check the service account still exists") if self._uses_token(ctx) else base.hint or ""
            return refine("auth_failed", hint)
        if reply.status == 404 or "publisher model" in lowered:
            return refine("model_not_found", f"{model} is not served in {location} for {where} (or the id is misspelled): "
                          "pick a location that offers it (option location; global serves most Gemini models)")
        if reply.status == 429:
            return refine("rate_limited", f"a per-minute quota of {where} is used up; wait, or raise it under IAM & Admin → "
                          "Quotas (synapse did not retry)")
        return base

    # ---- calls ---------------------------------------------------------------------------------------

    async def complete(self, ctx: CallContext, request: ChatRequest) -> ChatResult:
        headers, project = await self._auth(ctx)
        if is_claude(ctx.conn.model):
            body: dict[str, Any] = {"anthropic_version": VERTEX_ANTHROPIC_VERSION, **anthropic.message_body(request, ctx.conn.model, ctx.conn.options.get("cache", "5m"))}
            reply = await http.send(ctx, "POST", self.model_url(ctx, project, "rawPredict"), headers=headers, json_body=body)
            if reply.status != 200:
                raise self._fail(ctx, reply, project)
            return anthropic.message_result(reply, request)
        url = self.model_url(ctx, project, "generateContent")
        reply = await http.send(ctx, "POST", url, headers=headers, json_body=gemini.content_body(request, ctx.conn.model))
        if reply.status != 200:
            raise self._fail(ctx, reply, project)
        return gemini.content_result(reply, ctx.conn.model, request)

    async def check_auth(self, ctx: CallContext) -> tuple[str, str | None]:
        """countTokens on the configured model: free, and it needs everything a real call needs."""
        headers, project = await self._auth(ctx)
        probe = [{"role": "user", "content": "ok"}]
        if is_claude(ctx.conn.model):
            url = self.model_url(ctx, project, "rawPredict", model="count-tokens")
            body: dict[str, Any] = {"anthropic_version": VERTEX_ANTHROPIC_VERSION, "model": ctx.conn.model, "messages": probe}
        else:
            url = self.model_url(ctx, project, "countTokens")
            body = {"contents": [{"role": "user", "parts": [{"text": "ok"}]}]}
        reply = await http.send(ctx, "POST", url, headers=headers, json_body=body)
        if reply.status != 200:
            raise self._fail(ctx, reply, project)
        counted: _Count = http.convert(http.decode_json(reply, "a token count"), _Count, "token count")
        tokens = counted.totalTokens if counted.totalTokens is not None else counted.input_tokens
        who = f"project {project}" if project else "express-mode key"
        return (f"{who} accepted (countTokens answered {tokens} token(s); free, nothing billed)",
                f"{ctx.conn.model} is served in {self.location(ctx)} for {who}")

    async def list_models(self, ctx: CallContext) -> list[str]:
        # Publisher models have no per-project listing; preflight uses check_auth instead.
        return [ctx.conn.model]

    def matches_model(self, configured: str, listed: str) -> bool:
        return configured == listed

    async def lookup_model(self, ctx: CallContext) -> str | None:
        return ctx.conn.model
