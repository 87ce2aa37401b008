"""secrets.* methods: store, delete and describe keys. No method ever returns a key."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from synapsed import protocol as p
from synapsed import secrets
from synapsed.errors import SynapseError
from synapsed.rpc.connections import get_connection, key_status
from synapsed.rpc.dispatch import Method

if TYPE_CHECKING:
    from synapsed.app import Daemon


def methods(daemon: Daemon) -> dict[str, Method]:
    store = daemon.config_store

    def keyring_connection(name: str) -> None:
        conn = get_connection(store.config, name)
        if conn.credential != "keyring":
            raise SynapseError(
                "bad_request",
                f"connection {name!r} reads its key from {conn.credential}, not from the keyring",
                hint=f"update that source, or switch with `synapsectl connections edit {name} --credential keyring`",
            )

    async def set_(params: p.SecretSetParams) -> p.KeyStatus:
        keyring_connection(params.name)
        status = await asyncio.to_thread(secrets.store, params.name, params.value)
        daemon.gateway.forget_keys(params.name)
        daemon.log.info("key stored", connection=params.name, fingerprint=status.fingerprint)
        return status

    async def delete(params: p.SecretNameParams) -> p.SecretDeleteResult:
        keyring_connection(params.name)
        deleted = await asyncio.to_thread(secrets.remove, params.name)
        daemon.gateway.forget_keys(params.name)
        daemon.log.info("key deleted", connection=params.name, existed=deleted)
        return p.SecretDeleteResult(name=params.name, deleted=deleted)

    async def status(params: p.SecretStatusParams) -> p.SecretStatusList:
        config = store.config
        names = [params.name] if params.name is not None else sorted(config.connections)
        conns = [(n, get_connection(config, n)) for n in names]
        return p.SecretStatusList(keys=list(await asyncio.gather(*(key_status(n, c) for n, c in conns))))

    return {
        "secrets.set": Method(p.SecretSetParams, set_),
        "secrets.delete": Method(p.SecretNameParams, delete),
        "secrets.status": Method(p.SecretStatusParams, status),
    }
