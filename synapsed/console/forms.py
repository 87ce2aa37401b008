"""Browser forms to the RPC methods' own typed params (pure). Only shape is handled here; every
rule on the values is the RPC method's, so the console and `synapsectl` refuse the same input
with the same kind, hint and field."""

from __future__ import annotations

from collections.abc import Mapping

from synapsed import protocol as p
from synapsed.catalog import PROVIDERS
from synapsed.errors import SynapseError

CONNECTION_FIELDS = ("name", "provider", "model", "base_url", "credential", "timeout_s", "options", "key")


def text(form: Mapping[str, object], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def timeout(form: Mapping[str, object]) -> float:
    raw = text(form, "timeout_s") or "60"
    try:
        return float(raw)
    except ValueError:
        raise SynapseError("config_invalid", f"timeout must be a number of seconds, got {raw!r}",
                           hint="e.g. 60", field="timeout_s") from None


def options(form: Mapping[str, object], provider: str) -> dict[str, str]:
    """The chosen provider's option fields (named opt-<provider>-<option>), blanks left out."""
    info = PROVIDERS.get(provider)
    if info is None:
        return {}
    found = {key: text(form, f"opt-{provider}-{key}") for key in sorted(info.options)}
    return {k: v for k, v in found.items() if v}


def connection_spec(form: Mapping[str, object]) -> p.ConnectionSpec:
    provider = text(form, "provider")
    return p.ConnectionSpec(
        name=text(form, "name"),
        provider=provider,
        model=text(form, "model"),
        base_url=text(form, "base_url") or None,
        credential=text(form, "credential") or "keyring",
        timeout_s=timeout(form),
        enabled=form.get("enabled") is not None,
        options=options(form, provider),
    )


def connection_patch(form: Mapping[str, object]) -> p.ConnectionPatch:
    """Every editable field, as the edit form always shows them all; an empty base URL means the
    provider's default (the RPC method's own convention)."""
    provider = text(form, "provider")
    return p.ConnectionPatch(
        provider=provider,
        model=text(form, "model"),
        base_url=text(form, "base_url"),
        credential=text(form, "credential") or "keyring",
        timeout_s=timeout(form),
        options=options(form, provider),
    )


def key_value(form: Mapping[str, object]) -> str | None:
    """The write-only key field: None when left empty (keep whatever is stored)."""
    value = form.get("key")
    return value if isinstance(value, str) and value.strip() else None


def usage_filters(query: Mapping[str, str]) -> p.UsageFilters:
    def opt(name: str) -> str | None:
        value = query.get(name, "").strip()
        return value or None

    status = opt("status")
    if status not in (None, "ok", "error", "refused"):
        raise SynapseError("bad_request", f"status must be ok, error or refused, got {status!r}", field="status")
    return p.UsageFilters(
        since=opt("since") if "since" in query else "30d",
        until=opt("until"),
        connection=opt("connection"),
        model=opt("model"),
        client=opt("client"),
        status=status,  # type: ignore[arg-type]  # narrowed just above
    )
