"""Pages from Jinja2 templates (autoescape on everywhere) with what every page shows: the
navigation, the session's CSRF token, and errors as kind + hint beside the field they name."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from synapsed import money
from synapsed.console.guards import CSRF_FIELD, session_of
from synapsed.errors import SynapseError
from synapsed.redaction import redact_text

if TYPE_CHECKING:
    import jinja2

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
NAV = (
    ("connections", "Connections", "/console/connections"),
    ("preflight", "Preflight", "/console/preflight"),
    ("prompt", "Test prompt", "/console/prompt"),
    ("usage", "Usage", "/console/usage"),
    ("ides", "IDEs", "/console/ides"),
    ("threads", "Threads", "/console/threads"),
)


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    # Loaded on the first page, not at daemon start: MCP must be up within half a second.
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["nav"] = NAV
    env.globals["csrf_field"] = CSRF_FIELD
    env.filters["usd"] = usd
    env.filters["redact"] = redact_text  # upstream text may echo part of a key
    env.filters["num"] = lambda v: "—" if v is None else f"{v:,}"
    env.filters["ms"] = lambda v: "—" if v is None else f"{v:,.0f} ms"
    return env


usd = money.usd


class FieldErrors:
    """A SynapseError placed beside the field it names (detail `field`), or above the form."""

    def __init__(self, error: SynapseError | None = None, field: str | None = None) -> None:
        self.error = error
        self.field = field if field is not None else (str(error.detail.get("field", "")) if error else "")

    def on(self, name: str) -> SynapseError | None:
        return self.error if self.error is not None and self.field == name else None

    def general(self, fields: tuple[str, ...]) -> SynapseError | None:
        return self.error if self.error is not None and self.field not in fields else None


def page(request: web.Request, template: str, *, section: str = "", status: int = 200, **context: Any) -> web.Response:
    session = session_of(request)
    html = environment().get_template(template).render(
        section=section,
        csrf=session.csrf if session is not None else "",
        signed_in=session is not None,
        **context,
    )
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def redirect(location: str) -> web.Response:
    """303 See Other: after a POST the browser GETs the result (a reload never re-submits)."""
    return web.Response(status=303, headers={"Location": location})
