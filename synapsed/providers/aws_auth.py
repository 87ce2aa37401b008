"""AWS credentials and SigV4 signing for Bedrock, through botocore (the official library).

Credentials come from botocore's standard chain (environment, shared credentials and config
files with a profile, SSO cache, container and instance roles). Resolving them may read files
or call a metadata service, so it runs in a worker thread; the credentials object is kept per
connection and profile, and botocore refreshes temporary ones shortly before they expire.
No request is signed with hand-written code and nothing here sends a provider request.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from synapsed.errors import SynapseError
from synapsed.providers.optional import load
from synapsed.redaction import SECRETS

SIGNING_NAME = "bedrock"  # both bedrock and bedrock-runtime sign as "bedrock" (their service models)
SOURCES = {
    "env": "environment (AWS_ACCESS_KEY_ID)",
    "shared-credentials-file": "shared credentials file",
    "config-file": "AWS config file",
    "sso": "IAM Identity Center (SSO) cache",
    "assume-role": "assumed role",
    "assume-role-with-web-identity": "web identity role",
    "container-role": "container role",
    "iam-role": "instance role (IMDS)",
    "custom-process": "credential_process",
}


@dataclass(frozen=True)
class Frozen:
    access_key: str
    secret_key: str
    token: str | None
    method: str


def _mask(access_key: str) -> str:
    return f"{access_key[:4]}…{access_key[-4:]}" if len(access_key) >= 12 else "…"


class AwsCredentials:
    """The chain's credentials per (connection, profile), resolved off the event loop."""

    def __init__(self) -> None:
        self._held: dict[tuple[str, str | None], Any] = {}

    def forget(self) -> None:
        self._held.clear()

    async def get(self, name: str, profile: str | None, fresh: bool = False) -> Frozen:
        slot = (name, profile)
        creds = None if fresh else self._held.get(slot)
        if creds is None:
            creds = await asyncio.to_thread(_resolve, profile)
            self._held[slot] = creds
        refresh_needed = getattr(creds, "refresh_needed", None)
        if refresh_needed is not None and refresh_needed():
            frozen = await asyncio.to_thread(_freeze, creds, profile)
        else:
            frozen = _freeze(creds, profile)
        return frozen

    @staticmethod
    def describe(frozen: Frozen, profile: str | None) -> str:
        source = SOURCES.get(frozen.method, frozen.method)
        where = f"profile {profile}: " if profile else ""
        session = ", temporary (session token)" if frozen.token else ""
        return f"aws chain: {where}{source}, access key {_mask(frozen.access_key)}{session}"


def _chain_error(exc: Exception, profile: str | None) -> SynapseError:
    exceptions = load("botocore.exceptions")
    login = f"aws sso login --profile {profile}" if profile else "aws sso login"
    if isinstance(exc, exceptions.ProfileNotFound):
        return SynapseError("config_invalid", f"AWS profile {profile!r} is not in ~/.aws/config or ~/.aws/credentials",
                            hint=f"create it with `aws configure --profile {profile}` or fix the profile option",
                            field="options.profile")
    if isinstance(exc, exceptions.SSOError | exceptions.TokenRetrievalError | exceptions.SSOTokenLoadError):
        return SynapseError("auth_failed", f"the SSO session for {profile or 'the default profile'} is missing or expired",
                            hint=f"sign in again with `{login}`")
    return SynapseError("credential_unreadable", f"the AWS credential chain failed ({type(exc).__name__})",
                        hint="check ~/.aws/config and ~/.aws/credentials for the profile; `aws sts get-caller-identity` "
                             "shows what the chain finds")


def _resolve(profile: str | None) -> Any:
    session_mod = load("botocore.session")
    exceptions = load("botocore.exceptions")
    try:
        creds = session_mod.Session(profile=profile).get_credentials()
    except exceptions.BotoCoreError as exc:
        raise _chain_error(exc, profile) from None
    if creds is None:
        raise SynapseError(
            "credential_missing",
            f"the AWS credential chain found no credentials{f' for profile {profile}' if profile else ''}",
            hint="set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in synapsed's environment, run `aws configure`"
                 " or `aws sso login`, or use a Bedrock API key (--credential keyring, then `synapsectl key set NAME`)",
        )
    return creds


def _freeze(creds: Any, profile: str | None) -> Frozen:
    exceptions = load("botocore.exceptions")
    try:
        frozen = creds.get_frozen_credentials()
    except exceptions.BotoCoreError as exc:
        raise _chain_error(exc, profile) from None
    for secret in (frozen.secret_key, frozen.token):
        if secret:
            SECRETS.add(secret)
    return Frozen(frozen.access_key, frozen.secret_key, frozen.token, getattr(creds, "method", "unknown"))


def sign(frozen: Frozen, region: str, method: str, url: str, headers: dict[str, str], body: bytes | None) -> dict[str, str]:
    """`headers` plus SigV4's Authorization, X-Amz-Date and X-Amz-Security-Token for this request."""
    auth = load("botocore.auth")
    awsrequest = load("botocore.awsrequest")
    credentials = load("botocore.credentials")
    request = awsrequest.AWSRequest(method=method, url=url, data=body or b"", headers=dict(headers))
    creds = credentials.ReadOnlyCredentials(frozen.access_key, frozen.secret_key, frozen.token)
    auth.SigV4Auth(creds, SIGNING_NAME, region).add_auth(request)
    return dict(request.headers.items())
