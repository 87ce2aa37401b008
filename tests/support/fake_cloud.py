"""Fake Amazon Bedrock and Google Vertex AI endpoints that check what the real services check.

Bedrock: every request's SigV4 signature is recomputed with botocore from the secret the fake
knows, and a wrong one is refused as AWS refuses it; a Bedrock API key must be the one issued.
Vertex AI: the token endpoint (a service account's token_uri) verifies the signed JWT assertion
with the account's public key and issues an access token; the model endpoints accept only a
token it issued. Replies follow the services' own reference (botocore's service model, the
Vertex AI REST reference); tests/contracts/ validates them against those schemas.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from tests.support.fake_upstream import FAMILIES, Canned, FakeUpstream, Family, Recorded, gemini_error

# ---- Amazon Bedrock ---------------------------------------------------------------------------

REGION = "us-east-1"


def bedrock_error(status: int, aws_type: str, message: str) -> Canned:
    """restJson1: the type in X-Amzn-ErrorType, the text in the body's message."""
    return Canned(status, {"message": message},
                  headers={"X-Amzn-ErrorType": f"{aws_type}:http://internal.amazon.com/coral/com.amazon.bedrock/",
                           "x-amzn-RequestId": "fake-req-err"})


def converse_ok(text: str) -> Canned:
    return Canned(200, {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 12, "outputTokens": 3, "totalTokens": 15},
        "metrics": {"latencyMs": 42},
    }, headers={"x-amzn-RequestId": "fake-req-converse"})


def _summary(model_id: str) -> dict[str, Any]:
    return {
        "modelArn": f"arn:aws:bedrock:{REGION}::foundation-model/{model_id}", "modelId": model_id,
        "modelName": model_id, "providerName": "Anthropic", "inputModalities": ["TEXT"], "outputModalities": ["TEXT"],
        "responseStreamingSupported": True, "customizationsSupported": [], "inferenceTypesSupported": ["ON_DEMAND"],
        "modelLifecycle": {"status": "ACTIVE"},
    }


def foundation_models_ok(ids: list[str]) -> Canned:
    return Canned(200, {"modelSummaries": [_summary(i) for i in ids]})


def foundation_model_ok(model_id: str) -> Canned:
    return Canned(200, {"modelDetails": _summary(model_id)})


def inference_profile_ok(profile_id: str) -> Canned:
    base = profile_id.split(".", 1)[1]
    return Canned(200, {
        "inferenceProfileName": f"US {base}", "inferenceProfileId": profile_id, "status": "ACTIVE", "type": "SYSTEM_DEFINED",
        "inferenceProfileArn": f"arn:aws:bedrock:{REGION}:111122223333:inference-profile/{profile_id}",
        "models": [{"modelArn": f"arn:aws:bedrock:{r}::foundation-model/{base}"} for r in ("us-east-1", "us-west-2")],
    })


def availability_ok(model_id: str, authorized: bool = True) -> Canned:
    return Canned(200, {
        "modelId": model_id, "agreementAvailability": {"status": "AVAILABLE"},
        "authorizationStatus": "AUTHORIZED" if authorized else "NOT_AUTHORIZED",
        "entitlementAvailability": "AVAILABLE" if authorized else "NOT_AVAILABLE", "regionAvailability": "AVAILABLE",
    })


FAMILIES["bedrock"] = Family("/model/{model}/converse", "/foundation-models", converse_ok, foundation_models_ok)


@dataclass
class AwsIdentity:
    access_key: str = "AKIAFAKE7EXAMPLE4Q2Z"
    secret_key: str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzFakeSecret9"
    session_token: str | None = None


class SigV4Guard:
    """Refuses what AWS refuses: no signature, an unknown access key, a signature that is not
    the one botocore computes for this request with the known secret, a stale date."""

    def __init__(self, identities: list[AwsIdentity], api_keys: set[str], port: Any) -> None:
        self.identities = {i.access_key: i for i in identities}
        self.api_keys = api_keys
        self.port = port  # callable -> the fake's port (known only after start)
        self.verified = 0

    def __call__(self, request: web.Request, raw: bytes) -> Canned | None:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            if auth[7:] in self.api_keys:
                return None
            return bedrock_error(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return bedrock_error(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        fields = dict(part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 "):].split(","))
        access_key, date, region, service, _ = fields["Credential"].split("/")
        identity = self.identities.get(access_key)
        if identity is None:
            return bedrock_error(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
        if identity.session_token is not None and request.headers.get("X-Amz-Security-Token") != identity.session_token:
            return bedrock_error(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
        if service != "bedrock" or region != REGION:
            return bedrock_error(403, "InvalidSignatureException", f"Credential should be scoped to a valid region/service, not {region}/{service}")
        expected = self._signature(request, raw, identity, fields["SignedHeaders"].split(";"), region)
        if not secrets.compare_digest(expected, fields["Signature"]):
            return bedrock_error(403, "InvalidSignatureException",
                                 "The request signature we calculated does not match the signature you provided.")
        self.verified += 1
        return None

    def _signature(self, request: web.Request, raw: bytes, identity: AwsIdentity, signed: list[str], region: str) -> str:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        url = f"http://127.0.0.1:{self.port()}{request.raw_path}"
        headers = {name: request.headers[name] for name in signed if name in request.headers and name != "host"}
        aws_request = AWSRequest(method=request.method, url=url, data=raw, headers=headers)
        aws_request.context["timestamp"] = request.headers["X-Amz-Date"]
        signer = SigV4Auth(Credentials(identity.access_key, identity.secret_key, identity.session_token), "bedrock", region)
        canonical = signer.canonical_request(aws_request)
        return signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)


def bedrock_upstream(model: str = "anthropic.claude-3-5-haiku-20241022-v1:0", identities: list[AwsIdentity] | None = None,
                     api_keys: set[str] | None = None, profiles: list[str] | None = None) -> tuple[FakeUpstream, SigV4Guard]:
    """Runtime and control plane on one loopback port (a --base-url override serves both)."""
    up = FakeUpstream("bedrock", model=model, models=[model, "amazon.nova-lite-v1:0"], model_lookup=False)
    guard = SigV4Guard(identities or [AwsIdentity()], api_keys or set(), lambda: up.port)
    up.guard = guard
    listed = set(up.listed)

    def lookup(record: Recorded) -> Canned:
        tail = record.path.split("/", 2)[2]
        if record.path.startswith("/foundation-models/"):
            return foundation_model_ok(tail) if tail in listed else bedrock_error(
                404, "ResourceNotFoundException", "The provided model identifier is invalid.")
        if record.path.startswith("/inference-profiles/"):
            return inference_profile_ok(tail) if tail in (profiles or []) else bedrock_error(
                404, "ResourceNotFoundException", "Inference profile not found.")
        return availability_ok(tail) if tail in listed else bedrock_error(404, "ResourceNotFoundException", "Model not found.")

    for prefix in ("foundation-models", "inference-profiles", "foundation-model-availability"):
        for model_id in [*listed, *(profiles or []), "missing.model-v1:0"]:
            up.routes[("GET", f"/{prefix}/{model_id}")] = lookup
    for profile in profiles or []:
        up.routes[("POST", f"/model/{profile}/converse")] = converse_ok("pong")
    up.start()
    return up, guard


# ---- Google Vertex AI ---------------------------------------------------------------------------

# countTokens replies: Gemini's CountTokensResponse, Claude's count-tokens (MessageTokensCount).
GEMINI_COUNT = {"totalTokens": 1}
CLAUDE_COUNT = {"input_tokens": 9}
PROJECT = "proj-synapse"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
LOCATION = "us-central1"


def service_account_file(directory: Path, token_uri: str, email: str = "synapse-test@proj-synapse.iam.gserviceaccount.com"
                         ) -> tuple[Path, dict[str, Any], str]:
    """A service-account key file (mode 0600) with a fresh RSA key: (path, its JSON, public PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    info = {
        "type": "service_account", "project_id": PROJECT, "private_key_id": secrets.token_hex(20),
        "private_key": private_pem, "client_email": email, "client_id": "109876543210987654321",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{email}", "universe_domain": "googleapis.com",
    }
    path = directory / "sa-key.json"
    path.write_text(json.dumps(info))
    path.chmod(0o600)
    return path, info, public_pem


@dataclass
class TokenIssuer:
    """The OAuth token endpoint: a JWT-bearer grant signed by the service account's key."""

    public_pem: str = ""
    email: str = ""
    token_uri: str = ""
    issued: set[str] = field(default_factory=set)
    token_requests: int = 0
    refuse: Canned | None = None

    def grant(self, request: web.Request, raw: bytes) -> Canned:
        from google.auth import jwt

        self.token_requests += 1
        if self.refuse is not None:
            return self.refuse
        form = parse_qs(raw.decode())
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            return Canned(400, {"error": "unsupported_grant_type"})
        try:
            # The assertion's audience is Google's token endpoint whatever token_uri names.
            claims = jwt.decode(form["assertion"][0], certs=self.public_pem, audience=GOOGLE_TOKEN_AUDIENCE)
        except (ValueError, KeyError) as exc:
            return Canned(400, {"error": "invalid_grant", "error_description": f"Invalid JWT Signature. {exc}"[:120]})
        if claims.get("iss") != self.email or "cloud-platform" not in claims.get("scope", ""):
            return Canned(400, {"error": "invalid_scope", "error_description": "Invalid issuer or scope."})
        if not claims["iat"] - 300 <= time.time() <= claims["exp"]:
            return Canned(400, {"error": "invalid_grant", "error_description": "Invalid JWT: Token must be a short-lived token"})
        token = "ya29.c.fake-" + secrets.token_urlsafe(24)
        self.issued.add(token)
        return Canned(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})


def vertex_paths(model: str, project: str = PROJECT, location: str = LOCATION) -> dict[str, str]:
    publisher = "anthropic" if model.startswith("claude-") else "google"
    root = f"/v1/projects/{project}/locations/{location}/publishers/{publisher}/models"
    if publisher == "anthropic":
        return {"chat": f"{root}/{model}:rawPredict", "count": f"{root}/count-tokens:rawPredict"}
    return {"chat": f"{root}/{model}:generateContent", "count": f"{root}/{model}:countTokens"}


def vertex_claude_ok(text: str) -> Canned:
    return Canned(200, {
        "id": "msg_vrtx_01Fake", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5@20250929",
        "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 3},
    })


def vertex_upstream(directory: Path, model: str = "gemini-2.5-flash", express_keys: set[str] | None = None
                    ) -> tuple[FakeUpstream, TokenIssuer, Path]:
    """Vertex AI's model endpoints plus the token endpoint; returns the service-account file."""
    gemini_chat = FAMILIES["gemini"].chat_ok
    paths = vertex_paths(model)
    chat_ok = vertex_claude_ok if model.startswith("claude-") else gemini_chat
    FAMILIES[f"vertex:{model}"] = Family(paths["chat"], "/v1/unlisted", chat_ok, lambda _ids: Canned(404, None))
    up = FakeUpstream(f"vertex:{model}", model=model, model_lookup=False)
    issuer = TokenIssuer()
    keys = express_keys or set()
    express_chat = f"/v1/publishers/google/models/{model}:generateContent"

    def guard(request: web.Request, raw: bytes) -> Canned | None:
        if request.path == "/token":
            return issuer.grant(request, raw)
        if request.path.startswith("/v1/publishers/"):  # express mode: the key, no project
            if request.headers.get("x-goog-api-key") in keys:
                return None
            return gemini_error(400, "API key not valid. Please pass a valid API key.", "INVALID_ARGUMENT", "API_KEY_INVALID")
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in issuer.issued:
            return gemini_error(401, "Request had invalid authentication credentials. Expected OAuth 2 access token.",
                                "UNAUTHENTICATED", "ACCESS_TOKEN_TYPE_UNSUPPORTED")
        return None

    up.guard = guard
    count = Canned(200, CLAUDE_COUNT if model.startswith("claude-") else GEMINI_COUNT)
    up.routes[("POST", paths["count"])] = count
    up.routes[("POST", express_chat)] = gemini_chat("pong")
    up.start()
    issuer.token_uri = f"http://127.0.0.1:{up.port}/token"
    key_file, info, public_pem = service_account_file(directory, issuer.token_uri)
    issuer.public_pem, issuer.email = public_pem, info["client_email"]
    return up, issuer, key_file

