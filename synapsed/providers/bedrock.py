"""Amazon Bedrock, the Converse API: POST {runtime}/model/{modelId}/converse.

Two ways to authenticate: a Bedrock API key (Authorization: Bearer, stored like any key), or
credential = "aws": SigV4 with botocore's credential chain (aws_auth.py). The free preflight
calls go to the control plane (bedrock.{region}): ListFoundationModels, GetFoundationModel,
GetInferenceProfile and GetFoundationModelAvailability. Errors are restJson1: the type in the
X-Amzn-ErrorType header (or the body's __type), the text in the body's message.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import msgspec
import yarl

from synapsed import model_rules
from synapsed.catalog import PROVIDERS
from synapsed.errors import SynapseError
from synapsed.providers import anthropic, http, parts, prompt_cache
from synapsed.providers.aws_auth import AwsCredentials, sign
from synapsed.providers.base import CallContext, ChatRequest, ChatResult, sampling_options

# Cross-region inference profiles carry a geography prefix; ARNs name a profile or a model.
PROFILE_ID = re.compile(r"^(us|eu|apac|us-gov|jp|au|ca|global)\.[a-z0-9-]+\.")
ARN = re.compile(r"^arn:aws[a-z-]*:bedrock:")
# How GetFoundationModel / GetInferenceProfile say "no such id here".
NO_SUCH_MODEL = frozenset({400, 404})
# stopReason values with which the answer was withheld rather than given.
WITHHELD = frozenset({"content_filtered", "guardrail_intervened"})


class _Text(msgspec.Struct):
    text: str | None = None


class _Message(msgspec.Struct):
    content: list[_Text] = []
    role: str | None = None


class _Output(msgspec.Struct):
    message: _Message | None = None


class _CacheDetail(msgspec.Struct):
    ttl: str | None = None  # "5m" or "1h"
    inputTokens: int | None = None  # noqa: N815


class _Usage(msgspec.Struct):
    inputTokens: int | None = None  # noqa: N815 - wire names
    outputTokens: int | None = None  # noqa: N815
    cacheReadInputTokens: int | None = None  # noqa: N815
    cacheWriteInputTokens: int | None = None  # noqa: N815
    cacheDetails: list[_CacheDetail] | None = None  # noqa: N815 - the writes by lifetime

    def written_for_an_hour(self) -> int | None:
        if self.cacheDetails is None:
            return None
        return sum(d.inputTokens or 0 for d in self.cacheDetails if d.ttl == "1h")

    def total_input(self) -> int | None:
        parts = (self.inputTokens, self.cacheReadInputTokens, self.cacheWriteInputTokens)
        return None if all(p is None for p in parts) else sum(p or 0 for p in parts)


class _Converse(msgspec.Struct):
    output: _Output
    stopReason: str | None = None  # noqa: N815
    usage: _Usage | None = None


class _Summary(msgspec.Struct):
    modelId: str  # noqa: N815
    modelArn: str | None = None  # noqa: N815


class _Summaries(msgspec.Struct):
    modelSummaries: list[_Summary] = []  # noqa: N815


class _Details(msgspec.Struct):
    modelDetails: _Summary  # noqa: N815


class _Profile(msgspec.Struct):
    inferenceProfileId: str  # noqa: N815
    status: str | None = None


class _Agreement(msgspec.Struct):
    status: str | None = None


class _Availability(msgspec.Struct):
    modelId: str | None = None  # noqa: N815
    agreementAvailability: _Agreement | None = None  # noqa: N815
    authorizationStatus: str | None = None  # noqa: N815
    entitlementAvailability: str | None = None  # noqa: N815
    regionAvailability: str | None = None  # noqa: N815


def error_type(reply: http.Reply, body: Any) -> str:
    header = reply.header("x-amzn-errortype") or ""
    if header:
        return header.split(":")[0]
    raw = body.get("__type", "") if isinstance(body, dict) else ""
    return str(raw).split("#")[-1]


def parse_error(reply: http.Reply) -> http.UpstreamError | None:
    body = http.decode_or_none(reply)
    kind = error_type(reply, body)
    message = ""
    if isinstance(body, dict):
        message = str(body.get("message") or body.get("Message") or "")
    if not kind and not message:
        return None
    return http.UpstreamError(message, (kind,) if kind else ())


def converse_body(request: ChatRequest, model: str, cache: str = "5m") -> dict[str, Any]:
    # Claude on Bedrock caches at cachePoint blocks (botocore's CachePointBlock), placed as on Anthropic.
    cached = prompt_cache.plan(request, model, cache) if "anthropic.claude" in model else None
    point = {"cachePoint": {"type": "default", **({"ttl": "1h"} if cache == "1h" else {})}}
    messages = []
    for index, m in enumerate(request.messages):
        content = parts.bedrock_content(m)
        if cached is not None and cached.attachments and index == len(request.messages) - 1 and m.attachments:
            content.insert(len(content) - 1, point)
        if cached is not None and cached.history_end == index:
            content.append(point)
        messages.append({"role": m.role, "content": content})
    body: dict[str, Any] = {"messages": messages}
    if request.system:
        body["system"] = [{"text": request.system}, *([point] if cached is not None and cached.system else [])]
    # Claude on Bedrock follows Anthropic's rule on temperature (refused for the newer models).
    takes_temperature = "anthropic.claude" not in model or anthropic.check_temperature(model, request.temperature)
    config = sampling_options(request, max_tokens="maxTokens", stop="stopSequences", temperature=takes_temperature)
    output: dict[str, Any] = {}
    reasoning = model_rules.resolve("bedrock", model, request.reasoning)
    if reasoning is not None:
        # Claude's thinking goes through additionalModelRequestFields; Converse's own outputConfig
        # carries the effort (botocore's bedrock-runtime model, 2023-09-30).
        if reasoning.value in ("disabled", 0):
            body["additionalModelRequestFields"] = {"thinking": {"type": "disabled"}}
        elif reasoning.rule.control == "adaptive":
            body["additionalModelRequestFields"] = {"thinking": {"type": "adaptive"}}
            output["effort"] = reasoning.value
        else:
            budget = int(reasoning.value)
            body["additionalModelRequestFields"] = {"thinking": {"type": "enabled", "budget_tokens": budget}}
            config["maxTokens"] = budget + (request.max_output_tokens or anthropic.DEFAULT_MAX_TOKENS)
            config.pop("temperature", None)
    if request.response_schema is not None:
        output["textFormat"] = {"type": "json_schema", "structure": {"jsonSchema": {
            "schema": msgspec.json.encode(request.response_schema).decode(), "name": "answer"}}}
    if config:
        body["inferenceConfig"] = config
    if output:
        body["outputConfig"] = output
    return body


def converse_result(reply: http.Reply, requested_model: str) -> ChatResult:
    parsed: _Converse = http.convert(http.decode_json(reply, "a Converse reply"), _Converse, "Converse reply")
    message = parsed.output.message
    texts = [c.text for c in (message.content if message else []) if c.text is not None]
    if not texts and parsed.stopReason in WITHHELD:
        raise SynapseError("bad_request", f"Bedrock withheld the answer (stopReason {parsed.stopReason})",
                           hint="a guardrail or content filter stopped it; rephrase the prompt or check the guardrail")
    if message is None:
        raise SynapseError("upstream_malformed", "the Converse reply had no output message")
    usage = parsed.usage or _Usage()
    return ChatResult(
        text="".join(texts),
        finish_reason=parsed.stopReason,
        model=requested_model,  # Converse does not echo the model
        input_tokens=usage.total_input(),
        output_tokens=usage.outputTokens,
        request_id=reply.header("x-amzn-requestid"),
        latency_ms=round(reply.latency_ms, 3),
        cache_read_tokens=usage.cacheReadInputTokens,
        cache_write_tokens=usage.cacheWriteInputTokens,
        cache_write_1h_tokens=usage.written_for_an_hour(),
    )


def _encoded(model: str) -> str:
    return quote(model, safe="")


class BedrockProvider:
    family = "bedrock"
    can_check_model = True

    def __init__(self) -> None:
        self.aws = AwsCredentials()

    # ---- where requests go and how they are authenticated ------------------------------------

    @staticmethod
    def region(ctx: CallContext) -> str:
        return ctx.conn.options["region"]

    def control_url(self, ctx: CallContext) -> str:
        """The control plane (free model calls): its own option, else the explicit endpoint (a
        loopback fake, one gateway for both), else the region's public host."""
        explicit = ctx.conn.options.get("control_endpoint") or ctx.conn.base_url
        return (explicit or f"https://bedrock.{self.region(ctx)}.amazonaws.com").rstrip("/")

    def uses_aws_chain(self, ctx: CallContext) -> bool:
        return PROVIDERS["bedrock"].own_credentials(ctx.conn.credential)

    def auth_headers(self, ctx: CallContext) -> dict[str, str]:
        return {"Authorization": f"Bearer {ctx.key}"} if ctx.key else {}

    async def _send(self, ctx: CallContext, method: str, url: str, body: dict[str, Any] | None = None) -> http.Reply:
        data = msgspec.json.encode(body) if body is not None else None
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.uses_aws_chain(ctx):
            frozen = await self.aws.get(ctx.name, ctx.conn.options.get("profile"))
            headers = sign(frozen, self.region(ctx), method, url, headers, data)
        else:
            if not ctx.key:
                raise SynapseError("credential_missing", f"no Bedrock API key for {ctx.name!r}",
                                   hint=f"store one with `synapsectl key set {ctx.name}`, or sign with AWS credentials "
                                        f"(`synapsectl connections edit {ctx.name} --credential aws`)")
            headers.update(self.auth_headers(ctx))
        # Sent byte for byte as signed: the path holds percent-encoded ARNs.
        return await http.send(ctx, method, yarl.URL(url, encoded=True), headers=headers, body=data)

    async def credentials_source(self, ctx: CallContext, fresh: bool) -> str:
        profile = ctx.conn.options.get("profile")
        frozen = await self.aws.get(ctx.name, profile, fresh=fresh)
        return self.aws.describe(frozen, profile)

    def forget(self) -> None:
        self.aws.forget()

    # ---- errors ---------------------------------------------------------------------------------

    def _fail(self, ctx: CallContext, reply: http.Reply, model: str | None = None) -> SynapseError:
        if 300 <= reply.status < 400:
            return http.redirect_refused(reply, ctx.name)
        parsed = parse_error(reply)
        kind = parsed.codes[0] if parsed and parsed.codes else ""
        text = http.upstream_text(parsed.message) if parsed and parsed.message else f"HTTP {reply.status}"
        detail: dict[str, Any] = {"status": reply.status, "aws_error": kind or None}
        if request_id := reply.header("x-amzn-requestid"):
            detail["request_id"] = request_id
        region, name, model = self.region(ctx), ctx.name, model or ctx.conn.model
        chain = self.uses_aws_chain(ctx)

        def err(error_kind: str, hint: str) -> SynapseError:
            status = f"{reply.status} {kind}".strip()
            return SynapseError(error_kind, f"Bedrock answered {status}: {text}",  # type: ignore[arg-type]
                                hint=hint, **{k: v for k, v in detail.items() if v is not None})

        if kind in ("ExpiredTokenException", "ExpiredToken") or ("expired" in text.lower() and reply.status in (401, 403)):
            return err("auth_failed", "the credentials have expired: refresh them (`aws sso login`, new temporary "
                       "credentials) or, for an API key, create a new one and `synapsectl key set " + name + "`")
        if kind in ("UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignatureException",
                    "MissingAuthenticationTokenException", "InvalidClientTokenId") or reply.status == 401:
            if chain:
                return err("auth_failed", "AWS rejected the signature or access key: check that the secret key belongs to "
                           "the access key id and that this machine's clock is right (`aws sts get-caller-identity`)")
            return err("auth_failed", f"Bedrock rejected the API key: create a new one in the Bedrock console ({region}) "
                       f"and store it with `synapsectl key set {name}`")
        if kind == "AccessDeniedException" or reply.status == 403:
            return err("permission_denied", f"these credentials may not use {model} in {region}: allow bedrock:InvokeModel "
                       "(and bedrock:Get*/List* for preflight) in IAM, and check model access in the Bedrock console")
        if kind == "ResourceNotFoundException" or reply.status == 404:
            return err("model_not_found", f"{model} is not offered in {region} (or the id is misspelled): "
                       f"`aws bedrock list-foundation-models --region {region}` lists what is")
        if kind == "ThrottlingException" or (reply.status == 429 and kind != "ModelNotReadyException"):
            return err("rate_limited", "Bedrock is throttling these requests; wait before sending more (synapse did not retry)")
        if kind == "ServiceQuotaExceededException":
            return err("quota_exceeded", f"the account's Bedrock quota in {region} is used up: request an increase in "
                       "Service Quotas, or use a cross-region inference profile")
        if kind == "ModelNotReadyException":
            return err("upstream_error", "the model is not ready to serve yet; try again in a minute (synapse did not retry)")
        if kind == "ModelTimeoutException" or reply.status == 408:
            return err("timeout", "the model took too long on this request; shorten it or try later")
        if kind == "ModelErrorException":
            return err("upstream_error", "the model failed while answering; try again later")
        if kind == "ValidationException" or reply.status == 400:
            lowered = text.lower()
            if "model identifier is invalid" in lowered:
                return err("model_not_found", f"{model} is not a model id Bedrock knows in {region}")
            if "on-demand throughput" in lowered or "inference profile" in lowered:
                return err("bad_request", f"{model} cannot be called on demand: use its cross-region inference profile "
                           f"id instead, e.g. `synapsectl connections edit {name} --model us.{model}`")
            if http.CONTEXT_TOO_LONG.search(text):
                return err("context_too_long", "the prompt is longer than this model accepts; shorten it")
            return err("bad_request", "Bedrock refused the request's parameters; the message says which")
        if reply.status >= 500:
            return err("upstream_error", "Bedrock failed on its side; try again later (synapse did not retry)")
        return http.http_error(reply, parsed, ctx)

    # ---- calls ----------------------------------------------------------------------------------

    async def complete(self, ctx: CallContext, request: ChatRequest) -> ChatResult:
        url = f"{ctx.base_url}/model/{_encoded(ctx.conn.model)}/converse"
        reply = await self._send(ctx, "POST", url, converse_body(request, ctx.conn.model, ctx.conn.options.get("cache", "5m")))
        if reply.status != 200:
            raise self._fail(ctx, reply)
        return converse_result(reply, ctx.conn.model)

    async def _control_get(self, ctx: CallContext, path: str, type_: type[Any], what: str,
                           miss: frozenset[int] = frozenset()) -> Any:
        """One free control-plane GET as `type_`; None for a status in `miss`, typed errors otherwise."""
        reply = await self._send(ctx, "GET", f"{self.control_url(ctx)}{path}")
        if reply.status in miss:
            return None
        if reply.status != 200:
            raise self._fail(ctx, reply)
        return http.convert(http.decode_json(reply, what), type_, what)

    async def list_models(self, ctx: CallContext) -> list[str]:
        listed: _Summaries = await self._control_get(ctx, "/foundation-models", _Summaries, "model list")
        return [m.modelId for m in listed.modelSummaries]

    def matches_model(self, configured: str, listed: str) -> bool:
        return configured == listed or (bool(ARN.match(configured)) and configured.endswith(f"foundation-model/{listed}"))

    @staticmethod
    def is_profile(model: str) -> bool:
        return bool(PROFILE_ID.match(model)) or (bool(ARN.match(model)) and "inference-profile/" in model)

    async def lookup_model(self, ctx: CallContext) -> str | None:
        model = ctx.conn.model
        if self.is_profile(model):
            profile: _Profile | None = await self._control_get(
                ctx, f"/inference-profiles/{_encoded(model)}", _Profile, "inference profile", miss=NO_SUCH_MODEL)
            return profile.inferenceProfileId if profile is not None else None
        details: _Details | None = await self._control_get(
            ctx, f"/foundation-models/{_encoded(model)}", _Details, "model", miss=NO_SUCH_MODEL)
        return details.modelDetails.modelId if details is not None else None

    async def check_access(self, ctx: CallContext) -> str:
        """GetFoundationModelAvailability: is this account entitled and authorized in the region?"""
        model = ctx.conn.model
        if self.is_profile(model):
            return "inference profile: access follows its models' access in each Region it routes to"
        base_id = model.rsplit("foundation-model/", 1)[-1]
        found: _Availability = await self._control_get(
            ctx, f"/foundation-model-availability/{_encoded(base_id)}", _Availability, "model availability")
        region = self.region(ctx)
        if found.regionAvailability == "NOT_AVAILABLE":
            raise SynapseError("model_not_found", f"{base_id} is not offered in {region}",
                               hint="pick a Region that offers it (option region) or its cross-region inference profile")
        agreement = found.agreementAvailability.status if found.agreementAvailability else None
        if found.authorizationStatus == "NOT_AUTHORIZED" or found.entitlementAvailability == "NOT_AVAILABLE" \
                or agreement in ("NOT_AVAILABLE", "ERROR"):
            raise SynapseError(
                "permission_denied",
                f"this account has no model access to {base_id} in {region} (authorization {found.authorizationStatus}, "
                f"entitlement {found.entitlementAvailability}, agreement {agreement})",
                hint=f"request access under Model access in the Bedrock console ({region}); an IAM policy alone is not enough",
            )
        if agreement == "PENDING":
            return f"model access to {base_id} is pending the provider's agreement; calls fail until it is granted"
        return f"model access granted in {region} (authorized, entitled)"

