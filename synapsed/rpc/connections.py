"""connections.* methods: CRUD over the config store."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import msgspec

from synapsed import protocol as p
from synapsed import secrets
from synapsed.catalog import PROVIDERS
from synapsed.config import Config, ConnectionConfig
from synapsed.errors import SynapseError
from synapsed.logging import get_logger
from synapsed.rpc.dispatch import Method
from synapsed.services import Services
from synapsed.validation import effective_base_url, validate_connection

log = get_logger("synapsed.rpc.connections")


def view(
    name: str, conn: ConnectionConfig, key: p.KeyStatus | None = None, last: p.LastPreflight | None = None
) -> p.ConnectionView:
    return p.ConnectionView(
        name=name,
        provider=conn.provider,
        model=conn.model,
        base_url=conn.base_url,
        effective_base_url=effective_base_url(conn),
        credential=conn.credential,
        timeout_s=conn.timeout_s,
        enabled=conn.enabled,
        options=dict(conn.options),
        key=key,
        last_preflight=last,
    )


async def key_status(name: str, conn: ConnectionConfig) -> p.KeyStatus:
    from synapsed.providers import optional  # not at start: only listings and key checks need it

    info = PROVIDERS.get(conn.provider)
    missing = optional.missing_for(conn.provider, conn.credential)
    if missing is not None:
        return p.KeyStatus(name=name, source=secrets.source_of(conn.credential), present=False,
                           error_kind=missing.kind, hint=f"{missing.message}: {missing.hint}")
    if info is not None and info.file_is_document and conn.credential.startswith("file:"):
        return await asyncio.to_thread(secrets.document_status, name, conn.credential)
    status = await asyncio.to_thread(secrets.status, name, conn.credential)
    if not status.present and info is not None and not info.needs_key:
        return p.KeyStatus(name=name, source=status.source, present=False, hint="this provider needs no key")
    return status


def spec_to_config(spec: p.ConnectionSpec) -> ConnectionConfig:
    return ConnectionConfig(
        provider=spec.provider,
        model=spec.model,
        base_url=spec.base_url,
        credential=spec.credential,
        timeout_s=spec.timeout_s,
        enabled=spec.enabled,
        options=dict(spec.options),
    )


def methods(services: Services) -> dict[str, Method]:
    store = services.config

    def full_view(name: str, conn: ConnectionConfig, key: p.KeyStatus | None) -> p.ConnectionView:
        item = view(name, conn, key, services.preflight_results.get(name))
        item.usage = services.meter.budget_view(name, conn)
        return item

    async def list_(params: p.ListParams) -> p.ConnectionList:
        config = store.config
        names = sorted(config.connections)
        keys: list[p.KeyStatus | None] = [None] * len(names)
        if params.with_keys:
            keys = list(await asyncio.gather(*(key_status(n, config.connections[n]) for n in names)))
        return p.ConnectionList(
            revision=config.revision,
            connections=[full_view(n, config.connections[n], k) for n, k in zip(names, keys, strict=True)],
        )

    async def get(params: p.NameParams) -> p.ConnectionResult:
        config = store.config
        conn = config.connection(params.name)
        return p.ConnectionResult(config.revision, full_view(params.name, conn, await key_status(params.name, conn)))

    async def create(params: p.CreateParams) -> p.ConnectionResult:
        spec = params.connection
        conn = validate_connection(spec.name, spec_to_config(spec))

        def add(config: Config) -> Config:
            if spec.name in config.connections:
                raise SynapseError("already_exists", f"a connection named {spec.name!r} already exists", name=spec.name)
            return config.with_connection(spec.name, conn)

        config = await store.mutate(add, params.revision)
        log.info("connection created", connection=spec.name, provider=conn.provider, revision=config.revision)
        return p.ConnectionResult(config.revision, view(spec.name, conn, await key_status(spec.name, conn)))

    async def update(params: p.UpdateParams) -> p.ConnectionResult:
        changes = {k: v for k, v in msgspec.structs.asdict(params.changes).items() if v is not msgspec.UNSET}
        if "base_url" in changes and changes["base_url"] == "":
            changes["base_url"] = None
        if not changes:
            raise SynapseError("bad_request", "no changes given", hint="pass at least one field to change")

        def edit(config: Config) -> Config:
            conn = validate_connection(params.name, msgspec.structs.replace(config.connection(params.name), **changes))
            return config.with_connection(params.name, conn)

        config = await store.mutate(edit, params.revision)
        log.info("connection updated", connection=params.name, fields=sorted(changes), revision=config.revision)
        conn = config.connections[params.name]
        return p.ConnectionResult(config.revision, view(params.name, conn, await key_status(params.name, conn)))

    async def delete(params: p.DeleteParams) -> p.DeleteResult:
        def drop(config: Config) -> Config:
            config.connection(params.name)
            mcp = config.mcp
            if mcp.default_connection == params.name:
                mcp = msgspec.structs.replace(mcp, default_connection=None)
            return msgspec.structs.replace(
                config, mcp=mcp, connections={n: c for n, c in config.connections.items() if n != params.name}
            )

        before = store.config.connections.get(params.name)
        config = await store.mutate(drop, params.revision)
        services.gateway.forget_keys(params.name)
        deleted = False
        if before is not None and before.credential == "keyring" and not params.keep_key:
            try:
                deleted = await asyncio.to_thread(secrets.remove, params.name)
            except SynapseError as exc:
                log.warning("keyring entry not removed", connection=params.name, kind=exc.kind)
        log.info("connection deleted", connection=params.name, key_deleted=deleted, revision=config.revision)
        return p.DeleteResult(config.revision, params.name, deleted)

    def toggle(enabled: bool) -> Callable[[p.NameParams], Awaitable[p.ConnectionResult]]:
        async def set_enabled(params: p.NameParams) -> p.ConnectionResult:
            def edit(config: Config) -> Config:
                return config.with_connection(
                    params.name, msgspec.structs.replace(config.connection(params.name), enabled=enabled)
                )

            config = await store.mutate(edit, params.revision)
            log.info("connection " + ("enabled" if enabled else "disabled"), connection=params.name)
            return p.ConnectionResult(config.revision, view(params.name, config.connections[params.name]))

        return set_enabled

    return {
        "connections.list": Method(p.ListParams, list_),
        "connections.get": Method(p.NameParams, get),
        "connections.create": Method(p.CreateParams, create),
        "connections.update": Method(p.UpdateParams, update),
        "connections.delete": Method(p.DeleteParams, delete),
        "connections.enable": Method(p.NameParams, toggle(True)),
        "connections.disable": Method(p.NameParams, toggle(False)),
    }
