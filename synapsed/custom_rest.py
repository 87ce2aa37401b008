"""Custom REST connections: the user's description of an in-house gateway's request and reply.

A connection of provider `custom-rest` keeps its endpoint in base_url and these options:
`method` (POST or PUT), `headers` (a JSON object; `{key}` marks where the key goes), `body`
(a JSON template), `answer` / `input_tokens` / `output_tokens` / `error` (JMESPath expressions
over the reply) and `check_url` (a free GET for preflight). Pure: validation imports it to
check a connection when it is saved, the provider imports it to build and read requests.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import msgspec

from synapsed.errors import SynapseError
from synapsed.protocol import ChatRequest

# A placeholder that is a whole JSON string value takes the typed value (a list, a number or
# null, which drops the member); inside a longer string only text placeholders are allowed.
PLACEHOLDERS = ("messages", "prompt", "system", "max_tokens", "temperature", "model", "stop", "response_schema")
TEXT_PLACEHOLDERS = ("prompt", "system", "model")
PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
HEADER_NAME_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
METHODS = ("POST", "PUT")
EXPRESSIONS = ("answer", "input_tokens", "output_tokens", "error")
# Headers the HTTP client owns: a template setting them would corrupt the request.
RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


@dataclass(frozen=True)
class RestSpec:
    method: str
    headers: dict[str, str]
    body: Any
    expressions: dict[str, Any]  # name -> compiled jmespath expression
    sources: dict[str, str]  # name -> the expression as written, for messages
    check_url: str | None

    @property
    def uses_key(self) -> bool:
        return any("{key}" in value for value in self.headers.values())


def _invalid(option: str, message: str, hint: str) -> SynapseError:
    return SynapseError("config_invalid", f"custom-rest option {option}: {message}", hint=hint, field=f"options.{option}")


def _json_option(options: dict[str, str], option: str, example: str) -> Any:
    try:
        return msgspec.json.decode(options[option])
    except msgspec.DecodeError as exc:
        raise _invalid(option, f"not valid JSON ({exc})", f"write it as JSON, e.g. {example}") from None


def _headers(options: dict[str, str]) -> dict[str, str]:
    if "headers" not in options:
        return {}
    raw = _json_option(options, "headers", '{"X-Api-Key": "{key}"}')
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise _invalid("headers", "must be a JSON object of header names to string values",
                       'e.g. {"X-Api-Key": "{key}", "X-Team": "search"}')
    for name, value in raw.items():
        if not HEADER_NAME_RE.fullmatch(name) or name.lower() in RESERVED_HEADERS:
            raise _invalid("headers", f"{name!r} is not a header this template may set",
                           "use a plain header name; Host, Content-Length and Connection are set by synapse")
        for found in PLACEHOLDER_RE.findall(value):
            if found != "key":
                raise _invalid("headers", f"unknown placeholder {{{found}}} in header {name}",
                               "headers know only {key}, the connection's key")
        if "{key}" not in value and any(ch in value for ch in "\r\n"):
            raise _invalid("headers", f"header {name} contains a line break", "header values are one line")
    return dict(raw)


def _check_template(node: Any, path: str, seen: set[str]) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            _check_template(v, f"{path}.{k}", seen)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _check_template(v, f"{path}[{i}]", seen)
    elif isinstance(node, str):
        names = PLACEHOLDER_RE.findall(node)
        whole = node.startswith("{") and node.endswith("}") and len(names) == 1 and node == f"{{{names[0]}}}"
        for name in names:
            if name == "key":
                raise _invalid("body", f"{{key}} at {path}: the key never goes in the body",
                               'put it in a header instead: --option \'headers={"X-Api-Key": "{key}"}\'')
            if name not in PLACEHOLDERS:
                raise _invalid("body", f"unknown placeholder {{{name}}} at {path}",
                               "placeholders: " + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS))
            if not whole and name not in TEXT_PLACEHOLDERS:
                raise _invalid("body", f"{{{name}}} inside the text at {path}",
                               f'{{{name}}} is not text: make it the whole value, e.g. "{name}": "{{{name}}}"')
            seen.add(name)


def _body(options: dict[str, str]) -> Any:
    body = _json_option(options, "body", '{"input": "{prompt}", "max_tokens": "{max_tokens}"}')
    if not isinstance(body, dict):
        raise _invalid("body", "must be a JSON object", 'e.g. {"input": "{prompt}"}')
    seen: set[str] = set()
    _check_template(body, "body", seen)
    if not seen & {"prompt", "messages"}:
        raise _invalid("body", "never sends the prompt", 'use "{prompt}" (the last user message) or "{messages}" somewhere')
    return body


def _expressions(options: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    import jmespath
    from jmespath.exceptions import JMESPathError

    compiled: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name in EXPRESSIONS:
        source = options.get(name, "").strip()
        if not source:
            continue
        try:
            compiled[name] = jmespath.compile(source)
        except JMESPathError as exc:
            reason = " ".join(str(exc).split())
            raise _invalid(name, f"{source!r} is not a JMESPath expression ({reason})",
                           "e.g. output.text, choices[0].message.content or usage.input_tokens") from None
        sources[name] = source
    if "answer" not in compiled:
        raise _invalid("answer", "is required", "name where the answer text is, e.g. --option answer=output.text")
    return compiled, sources


def parse_spec(options: dict[str, str]) -> RestSpec:
    """The connection's options as a RestSpec, or config_invalid naming the option and why."""
    return _parse(tuple(sorted(options.items())))


@functools.lru_cache(maxsize=64)
def _parse(items: tuple[tuple[str, str], ...]) -> RestSpec:
    # Cached by the options themselves: every call through a connection reads the same spec, and
    # an edited connection has other options, so nothing stale is ever served.
    options = dict(items)
    method = options.get("method", "POST").upper()
    if method not in METHODS:
        raise _invalid("method", f"{method!r} is not supported", "chat requests are POST (or PUT)")
    check_url = options.get("check_url") or None
    if check_url is not None:
        from synapsed.validation import check_base_url

        try:
            check_url = check_base_url(check_url, endpoint=True)
        except SynapseError as exc:
            raise _invalid("check_url", exc.message, exc.hint or "") from None
    compiled, sources = _expressions(options)
    return RestSpec(method, _headers(options), _body(options), compiled, sources, check_url)


# ---- one request -------------------------------------------------------------------------------

def _values(request: ChatRequest, model: str) -> dict[str, Any]:
    return {
        "messages": [{"role": m.role, "content": m.as_text()} for m in request.messages],
        "prompt": request.messages[-1].as_text(),
        "system": request.system,
        "max_tokens": request.max_output_tokens,
        "temperature": request.temperature,
        "model": model,
        "stop": request.stop,
        "response_schema": request.response_schema,
    }


_DROP = object()


def _fill(node: Any, values: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        filled = {k: _fill(v, values) for k, v in node.items()}
        return {k: v for k, v in filled.items() if v is not _DROP}
    if isinstance(node, list):
        return [v for v in (_fill(v, values) for v in node) if v is not _DROP]
    if isinstance(node, str):
        match = PLACEHOLDER_RE.fullmatch(node)
        if match:
            value = values[match.group(1)]
            return _DROP if value is None else value
        return PLACEHOLDER_RE.sub(lambda m: str(values[m.group(1)] or ""), node)
    return node


def render_body(spec: RestSpec, request: ChatRequest, model: str) -> Any:
    """The JSON body for one request: placeholders filled, members whose value is unset dropped."""
    return _fill(spec.body, _values(request, model))


def render_headers(spec: RestSpec, key: str | None) -> dict[str, str]:
    if key is not None and any(ch in key for ch in "\r\n"):
        # secrets.resolve refuses such keys; this keeps a header from ever being split by one.
        raise SynapseError("credential_unreadable", "the key holds a line break and cannot go into a header",
                           hint="store the key again, on one line", field="credential")
    return {name: value.replace("{key}", key or "") for name, value in spec.headers.items()}


def search(spec: RestSpec, name: str, document: Any) -> Any:
    expression = spec.expressions.get(name)
    return None if expression is None else expression.search(document)
