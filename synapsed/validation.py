"""Every rule on user input: names, providers, models, credentials, options, base URLs, budgets,
and the whole-connection checks built from them. Each failure carries a specific hint and the
field it is about, so config.toml errors, RPC errors and console forms all say the same."""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Any
from urllib.parse import urlsplit

import msgspec

from synapsed import custom_rest
from synapsed.catalog import AMBIENT_CREDENTIALS, COMMON_OPTIONS, PROVIDERS, ProviderInfo
from synapsed.config.schema import Budget, ConnectionConfig
from synapsed.errors import SynapseError

NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
MODEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}")
ENV_VAR_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MIN_TIMEOUT_S = 1.0
MAX_TIMEOUT_S = 600.0
# Path endings people paste from API docs; the provider code appends these itself.
ENDPOINT_SUFFIXES = ("/chat/completions", "/completions", "/messages", "/api/chat", "/api/generate", "/models")


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise SynapseError(
            "config_invalid",
            f"invalid connection name {name!r}",
            hint="names are 1-63 chars of a-z, 0-9, '.', '_' or '-', starting with a letter or digit",
            field="name",
        )
    return name


def check_provider(provider: str) -> ProviderInfo:
    info = PROVIDERS.get(provider)
    if info is None:
        raise SynapseError(
            "config_invalid",
            f"unknown provider {provider!r}",
            hint="known providers: " + ", ".join(PROVIDERS),
            field="provider",
        )
    return info


def check_model(model: str) -> str:
    if not MODEL_RE.fullmatch(model):
        raise SynapseError(
            "config_invalid",
            f"invalid model id {model!r}",
            hint="a model id is the provider's id, e.g. gpt-4o-mini or claude-sonnet-4-5: no spaces, at most 200 chars",
            field="model",
        )
    return model


def check_timeout(timeout_s: float) -> float:
    if not (MIN_TIMEOUT_S <= timeout_s <= MAX_TIMEOUT_S):
        raise SynapseError(
            "config_invalid",
            f"timeout {timeout_s:g}s is out of range",
            hint=f"use a timeout between {MIN_TIMEOUT_S:g} and {MAX_TIMEOUT_S:g} seconds",
            field="timeout_s",
        )
    return timeout_s


def check_credential_ref(ref: str, info: ProviderInfo | None = None) -> str:
    if ref == "keyring":
        return ref
    if ref in AMBIENT_CREDENTIALS:
        if info is not None and ref not in info.ambient:
            takers = ", ".join(p.id for p in PROVIDERS.values() if ref in p.ambient)
            raise SynapseError(
                "config_invalid",
                f"credential {ref!r} ({AMBIENT_CREDENTIALS[ref]}) does not apply to provider {info.id}",
                hint=f"{ref} is for {takers}; use keyring, env:VAR or file:PATH for {info.id}",
                field="credential",
            )
        return ref
    if ref.startswith("env:"):
        if not ENV_VAR_RE.fullmatch(ref[4:]):
            raise SynapseError(
                "config_invalid",
                f"invalid environment variable name in {ref!r}",
                hint="write env:VARNAME, e.g. env:OPENAI_API_KEY",
                field="credential",
            )
        return ref
    if ref.startswith("file:"):
        if not ref[5:].startswith(("/", "~")):
            raise SynapseError(
                "config_invalid",
                f"credential file path in {ref!r} is not absolute",
                hint="write file:/absolute/path (or file:~/path); relative paths depend on where the daemon started",
                field="credential",
            )
        return ref
    raise SynapseError(
        "config_invalid",
        "unknown credential reference (it must be keyring, env:VAR or file:PATH)",
        hint="keys never go in config.toml: use keyring (then `synapsectl key set NAME`), env:VAR or file:PATH"
        " (aws for Bedrock's AWS credential chain, adc for Vertex AI's Application Default Credentials)",
        field="credential",
    )


AWS_REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
GCP_LOCATION_RE = re.compile(r"global|[a-z]+(-[a-z]+)*\d*(-[a-z0-9]+)*")
GCP_PROJECT_RE = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]|[a-z0-9.-]+:[a-z][a-z0-9-]{4,28}[a-z0-9]")
AWS_PROFILE_RE = re.compile(r"[A-Za-z0-9_.@+-]{1,64}")


def _bad_option(field: str, message: str, hint: str) -> SynapseError:
    return SynapseError("config_invalid", message, hint=hint, field=f"options.{field}")


def _check_common_options(options: dict[str, str]) -> None:
    from synapsed.model_rules import LEVELS

    level = options.get("reasoning")
    if level is not None and level not in LEVELS:
        raise _bad_option("reasoning", f"reasoning {level!r} is not a level", f"one of: {', '.join(LEVELS)}")
    window = options.get("max_input_tokens")
    if window is not None and not (window.isascii() and window.isdigit() and 1_000 <= int(window) <= 100_000_000):
        raise _bad_option("max_input_tokens", f"max_input_tokens {window!r} is not a whole number of tokens",
                          "the model's context window, 1000..100000000 (e.g. 131072)")
    cache = options.get("cache")
    if cache is not None and cache not in ("off", "5m", "1h"):
        raise _bad_option("cache", f"cache {cache!r} is not off, 5m or 1h",
                          "Claude's prompt-cache lifetime: 5m (the default), 1h, or off")
    store = options.get("store")
    if store is not None and store not in ("true", "false"):
        raise _bad_option("store", f"store {store!r} is not true or false",
                          "store=true lets OpenAI keep Responses API conversations; the default false keeps none")


def check_option_values(info: ProviderInfo, options: dict[str, str], credential: str) -> None:
    """The values of the options that have a shape: regions, locations, projects, REST templates.
    Each provider's own: OpenAI's `project` is an OpenAI project id, not a Google one."""
    _check_common_options(options)
    if info.id == "bedrock":
        _check_bedrock_options(options, credential)
    elif info.id == "vertex":
        _check_vertex_options(options)
    elif info.id == "custom-rest":
        custom_rest.parse_spec(options)


def _check_bedrock_options(options: dict[str, str], credential: str) -> None:
    region = options.get("region")
    if region is not None and not AWS_REGION_RE.fullmatch(region):
        raise _bad_option("region", f"{region!r} is not an AWS region id",
                          "write the region id, e.g. us-east-1 or eu-central-1 (not a name like 'N. Virginia')")
    if "profile" in options:
        if not AWS_PROFILE_RE.fullmatch(options["profile"]):
            raise _bad_option("profile", f"invalid AWS profile name {options['profile']!r}",
                              "write the name of a [profile NAME] section of ~/.aws/config")
        if credential != "aws":
            raise _bad_option("profile", "option profile applies only to credential = aws",
                              "use --credential aws to sign with that profile, or drop the option to use a Bedrock API key")
    if "control_endpoint" in options:
        try:
            check_base_url(options["control_endpoint"])
        except SynapseError as exc:
            raise _bad_option("control_endpoint", exc.message, exc.hint or "") from None


def _check_vertex_options(options: dict[str, str]) -> None:
    location = options.get("location")
    if location is not None and not GCP_LOCATION_RE.fullmatch(location):
        raise _bad_option("location", f"{location!r} is not a Google Cloud location",
                          "write a location id, e.g. us-central1, europe-west4 or global")
    project = options.get("project")
    if project is not None and not GCP_PROJECT_RE.fullmatch(project):
        raise _bad_option("project", f"{project!r} is not a Google Cloud project id",
                          "write the project id (6-30 lowercase letters, digits, hyphens), not its display name or number")


OPTION_EXAMPLES = {"deployment": "my-gpt4o", "api_version": "2024-10-21", "region": "us-east-1",
                   "body": '\'{"input": "{prompt}"}\'', "answer": "output.text"}


def check_options(info: ProviderInfo, options: dict[str, str]) -> dict[str, str]:
    unknown = sorted(set(options) - info.options - COMMON_OPTIONS)
    if unknown:
        allowed = ", ".join(sorted(info.options)) or "none"
        raise SynapseError(
            "config_invalid",
            f"provider {info.id} does not take option(s) {', '.join(unknown)}",
            hint=f"options for {info.id}: {allowed}; for every provider: {', '.join(sorted(COMMON_OPTIONS))}",
            field="options",
        )
    missing = sorted(info.required_options - {k for k, v in options.items() if v.strip()})
    if missing:
        raise SynapseError(
            "config_invalid",
            f"provider {info.id} needs option(s) {', '.join(missing)}",
            hint="give them with " + " ".join(f"--option {m}={OPTION_EXAMPLES.get(m, 'VALUE')}" for m in missing),
            field="options",
        )
    return options


def is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bad_url(message: str, hint: str) -> SynapseError:
    return SynapseError("base_url_invalid", message, hint=hint, field="base_url")


def check_base_url(url: str, endpoint: bool = False) -> str:
    """Return the normalised base URL (no trailing slash) or raise base_url_invalid.

    `endpoint`: the URL is a full endpoint (custom REST), so API paths at its end are fine."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _bad_url(f"base URL {url!r} is not a valid URL ({exc})", "write it like https://api.example.com/v1") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _bad_url(
            f"base URL {url!r} is not an absolute http(s) URL",
            "write it like https://api.example.com/v1, including the scheme",
        )
    if parts.username is not None or parts.password is not None:
        raise _bad_url(
            "base URL contains credentials (user:password@)",
            "remove them; keys belong in the keyring or an env:/file: reference, never in the URL",
        )
    if parts.query or parts.fragment or url.endswith("?"):
        raise _bad_url(
            "base URL contains a query string or fragment",
            "remove everything from '?' or '#'; API keys in query strings leak into logs",
        )
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise _bad_url(
            f"plain http:// to {parts.hostname} would send your prompts, and any key, unencrypted over the network",
            "use https://, or http:// only for a loopback host (127.0.0.1, localhost, [::1]); a server on "
            "another machine (Ollama, vLLM, LM Studio) belongs behind an https reverse proxy",
        )
    path = parts.path.rstrip("/")
    lowered = path.lower()
    for suffix in () if endpoint else ENDPOINT_SUFFIXES:
        if lowered.endswith(suffix):
            base = url[: url.lower().rfind(suffix)]
            raise _bad_url(
                f"base URL ends with the endpoint path {suffix!r}",
                f"give the API root instead (probably {base}); synapse appends {suffix} itself",
            )
    if "/v1/v1" in lowered:
        raise _bad_url("base URL contains a doubled '/v1/v1'", "keep a single /v1 at the end of the base URL")
    netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if port is not None:
        netloc = f"{netloc}:{port}"
    return f"{parts.scheme}://{netloc}{path}"


MAX_PAGE = 1000


MAX_OFFSET = 1_000_000_000
# No model writes more in one answer (the largest today: 128k); a bigger number is a typo or an attack.
MAX_OUTPUT_TOKENS = 1_000_000
# Past 2**53 a JSON number is not exact in most clients, and SQLite's integers end at 2**63.
MAX_EXACT_INT = 2**53 - 1


def check_page(limit: int, offset: int) -> None:
    """A page of a listing (usage history, threads): 1..MAX_PAGE rows from offset 0..MAX_OFFSET."""
    if not 1 <= limit <= MAX_PAGE:
        raise SynapseError("bad_request", f"limit must be 1..{MAX_PAGE}", field="limit")
    if not 0 <= offset <= MAX_OFFSET:
        raise SynapseError("bad_request", f"offset must be 0..{MAX_OFFSET}", field="offset")


def check_numbers(value: Any, path: str = "") -> None:
    """Every number in params from outside is finite and exactly representable: JSON's 1e400 is
    infinity and 10**30 an integer SQLite cannot store; either is bad_request naming its field,
    before any rule or query sees it. A walk with its own stack (params may nest deep)."""
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, bool):
            continue
        if isinstance(item, int):
            if abs(item) > MAX_EXACT_INT:
                raise SynapseError("bad_request", f"{where or 'a number'} is out of range ({str(item)[:24]}…)",
                                   hint=f"numbers here are at most {MAX_EXACT_INT}", field=where or "params")
        elif isinstance(item, float):
            if not math.isfinite(item) or abs(item) > MAX_EXACT_INT:
                raise SynapseError("bad_request", f"{where or 'a number'} is out of range ({item!r})",
                                   hint=f"numbers here are finite and at most {MAX_EXACT_INT}", field=where or "params")
        elif isinstance(item, dict):
            stack.extend((f"{where}.{k}" if where else str(k), v) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(item))


def whole_number(raw: str, field: str, maximum: int) -> int:
    """A whole number typed into a form or a URL: ASCII digits only (str.isdigit() accepts '²',
    which int() refuses), at most `maximum` (checked on the digits: 5,000 of them pass Python's
    int() limit)."""
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > len(str(maximum)) or int(raw) > maximum:
        raise SynapseError("bad_request", f"{field} must be a whole number from 0 to {maximum}",
                           hint=f"e.g. {min(maximum, 100)}", field=field)
    return int(raw)


def check_budget(budget: Budget | None, field: str = "budget") -> None:
    if budget is None:
        return
    for period, unit, limit in budget.limits():
        if limit <= 0:
            raise SynapseError("config_invalid", f"{field}.{period}_{unit} must be positive", field=field,
                               hint="remove the limit to have none, or set a positive number")


def validate_fields(name: str, conn: ConnectionConfig) -> None:
    """Every rule except the base URL's (preflight reports that one as a stage of its own)."""
    check_name(name)
    info = check_provider(conn.provider)
    check_model(conn.model)
    check_timeout(conn.timeout_s)
    check_credential_ref(conn.credential, info)
    check_options(info, conn.options)
    check_option_values(info, conn.options, conn.credential)
    check_budget(conn.budget)


def validate_connection(name: str, conn: ConnectionConfig) -> ConnectionConfig:
    """Check every field against DESIGN's rules; return the normalised connection."""
    validate_fields(name, conn)
    return msgspec.structs.replace(conn, base_url=validated_base_url(conn))


def validated_base_url(conn: ConnectionConfig) -> str | None:
    """The normalised explicit base URL (None: the provider default applies), or base_url_invalid."""
    info = PROVIDERS[conn.provider]
    base_url = conn.base_url or None
    if base_url is not None:
        base_url = check_base_url(base_url, endpoint=info.base_url_is_endpoint)
    elif info.default_endpoint(conn.options) is None:
        example = ("https://llm.corp.example/api/generate" if info.base_url_is_endpoint
                   else "https://my-resource.openai.azure.com" if info.id == "azure-openai"
                   else "http://127.0.0.1:8080/v1 (the server's OpenAI-compatible API root)")
        raise SynapseError(
            "base_url_invalid",
            f"provider {info.id} has no default endpoint: a base URL is required",
            hint=f"give --base-url, e.g. {example}",
            field="base_url",
        )
    return base_url


def effective_base_url(conn: ConnectionConfig) -> str | None:
    info = PROVIDERS.get(conn.provider)
    return conn.base_url or (info.default_endpoint(conn.options) if info else None)
