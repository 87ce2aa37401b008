"""Connections: the list with spend and preflight state; add, edit, key, enable/disable, delete.

Every change runs the RPC method `synapsectl` would run (connections.create, secrets.set, ...),
so a refused value shows the same kind and hint, beside the field it names.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from aiohttp import web

from synapsed import protocol as p
from synapsed.catalog import PROVIDERS
from synapsed.console import forms
from synapsed.console.deps import ConsoleDeps
from synapsed.console.rendering import FieldErrors, page, redirect
from synapsed.errors import SynapseError

PROVIDER_CHOICES = [(pid, info.default_base_url, sorted(info.options), sorted(info.required_options))
                    for pid, info in PROVIDERS.items()]


def _href(name: str) -> str:
    return "/console/connections/" + quote(name, safe="")


def routes(deps: ConsoleDeps) -> list[web.RouteDef]:
    async def spend_30d(name: str | None = None) -> dict[str, float]:
        """USD over the last 30 days per connection (only `name`'s when given)."""
        summary: p.UsageSummary = await deps.call("usage.summary", p.UsageSummaryParams(
            filters=p.UsageFilters(since="30d", connection=name), group_by="connection"))
        return {row.key: row.cost_usd for row in summary.rows}

    async def listing(request: web.Request) -> web.Response:
        result: p.ConnectionList = await deps.call("connections.list", p.ListParams(with_keys=True))
        return page(request, "connections.html", section="connections", connections=result.connections,
                    spend=await spend_30d(), notice=request.query.get("notice", ""))

    def form_page(request: web.Request, values: Mapping[str, object], errors: FieldErrors, status: int = 200) -> web.Response:
        return page(request, "connection_form.html", section="connections", mode="new", values=values,
                    errors=errors, providers=PROVIDER_CHOICES, fields=forms.CONNECTION_FIELDS, status=status)

    async def new_form(request: web.Request) -> web.Response:
        return form_page(request, {"provider": "openai", "credential": "keyring", "timeout_s": "60", "enabled": "on"},
                         FieldErrors())

    async def create(request: web.Request) -> web.Response:
        form = await request.post()
        key = forms.key_value(form)
        try:
            spec = forms.connection_spec(form)
            if key is not None and spec.credential != "keyring":
                raise SynapseError("bad_request", f"this connection reads its key from {spec.credential}",
                                   hint="leave Key empty, or choose Credential: keyring", field="key")
            await deps.call("connections.create", p.CreateParams(connection=spec))
        except SynapseError as exc:
            # The key is never echoed back: the field comes back empty.
            values = {k: v for k, v in form.items() if k not in ("key", "csrf")}
            return form_page(request, values, FieldErrors(exc), status=422)
        if key is not None:
            try:
                await deps.call("secrets.set", p.SecretSetParams(name=spec.name, value=key))
            except SynapseError as exc:
                return await detail_page(request, spec.name, FieldErrors(exc, "key"), status=422)
        return redirect(_href(spec.name) + "?notice=saved")

    async def detail_page(request: web.Request, name: str, errors: FieldErrors, status: int = 200,
                          values: Mapping[str, object] | None = None) -> web.Response:
        result: p.ConnectionResult = await deps.call("connections.get", p.NameParams(name=name))
        conn = result.connection
        shown: Mapping[str, object] = values if values is not None else {
            "provider": conn.provider, "model": conn.model, "base_url": conn.base_url or "",
            "credential": conn.credential, "timeout_s": f"{conn.timeout_s:g}",
            **{f"opt-{conn.provider}-{k}": v for k, v in conn.options.items()},
        }
        return page(request, "connection.html", section="connections", conn=conn, values=shown, errors=errors,
                    providers=PROVIDER_CHOICES, fields=forms.CONNECTION_FIELDS, notice=request.query.get("notice", ""),
                    spend=(await spend_30d(name)).get(name, 0.0), href=_href(name), status=status)

    async def detail(request: web.Request) -> web.Response:
        return await detail_page(request, request.match_info["name"], FieldErrors())

    async def edit(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        form = await request.post()
        try:
            await deps.call("connections.update", p.UpdateParams(name=name, changes=forms.connection_patch(form)))
        except SynapseError as exc:
            if exc.kind == "not_found":
                raise
            values = {k: v for k, v in form.items() if k != "csrf"}
            return await detail_page(request, name, FieldErrors(exc), status=422, values=values)
        return redirect(_href(name) + "?notice=saved")

    async def set_key(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        key = forms.key_value(await request.post())
        try:
            if key is None:
                raise SynapseError("bad_request", "the key field is empty", hint="paste the provider's API key",
                                   field="key")
            await deps.call("secrets.set", p.SecretSetParams(name=name, value=key))
        except SynapseError as exc:
            return await detail_page(request, name, FieldErrors(exc, "key"), status=422)
        return redirect(_href(name) + "?notice=key-stored")

    async def delete_key(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        try:
            await deps.call("secrets.delete", p.SecretNameParams(name=name))
        except SynapseError as exc:
            return await detail_page(request, name, FieldErrors(exc, "key"), status=422)
        return redirect(_href(name) + "?notice=key-deleted")

    async def toggle(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        action = request.match_info["action"]
        await deps.call(f"connections.{action}", p.NameParams(name=name))
        return redirect(_href(name) + f"?notice={action}d")

    async def confirm_delete(request: web.Request) -> web.Response:
        result: p.ConnectionResult = await deps.call("connections.get", p.NameParams(name=request.match_info["name"]))
        return page(request, "connection_delete.html", section="connections", conn=result.connection,
                    href=_href(result.connection.name))

    async def delete(request: web.Request) -> web.Response:
        form = await request.post()
        name = request.match_info["name"]
        await deps.call("connections.delete", p.DeleteParams(name=name, keep_key=form.get("keep_key") is not None))
        return redirect("/console/connections?notice=" + quote(f"deleted {name}"))

    return [
        web.get("/connections", listing),
        web.get("/connections/new", new_form),
        web.post("/connections/new", create),
        web.get("/connections/{name}", detail),
        web.post("/connections/{name}/edit", edit),
        web.post("/connections/{name}/key", set_key),
        web.post("/connections/{name}/key/delete", delete_key),
        web.post("/connections/{name}/{action:enable|disable}", toggle),
        web.get("/connections/{name}/delete", confirm_delete),
        web.post("/connections/{name}/delete", delete),
    ]
