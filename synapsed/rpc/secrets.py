"""secrets.* methods: store, delete and describe keys. No method ever returns a key."""

from __future__ import annotations

import asyncio

from synapsed import protocol as p
from synapsed import secrets
from synapsed.errors import SynapseError
from synapsed.logging import get_logger
from synapsed.rpc.connections import key_status
from synapsed.rpc.dispatch import Method
from synapsed.services import Services

log = get_logger("synapsed.rpc.secrets")


def methods(services: Services) -> dict[str, Method]:
    store = services.config

    def keyring_connection(name: str) -> None:
        conn = store.config.connection(name)
        if conn.credential != "keyring":
            raise SynapseError(
                "bad_request",
                f"connection {name!r} reads its key from {conn.credential}, not from the keyring",
                hint=f"update that source, or switch with `synapsectl connections edit {name} --credential keyring`",
            )

    async def set_(params: p.SecretSetParams) -> p.KeyStatus:
        keyring_connection(params.name)
        status = await asyncio.to_thread(secrets.store, params.name, params.value)
        services.gateway.forget_keys(params.name)
        log.info("key stored", connection=params.name, fingerprint=status.fingerprint)
        return status

    async def delete(params: p.SecretNameParams) -> p.SecretDeleteResult:
        keyring_connection(params.name)
        deleted = await asyncio.to_thread(secrets.remove, params.name)
        services.gateway.forget_keys(params.name)
        log.info("key deleted", connection=params.name, existed=deleted)
        return p.SecretDeleteResult(name=params.name, deleted=deleted)

    async def status(params: p.SecretStatusParams) -> p.SecretStatusList:
        config = store.config
        names = [params.name] if params.name is not None else sorted(config.connections)
        conns = [(n, config.connection(n)) for n in names]
        return p.SecretStatusList(keys=list(await asyncio.gather(*(key_status(n, c) for n, c in conns))))

    return {
        "secrets.set": Method(p.SecretSetParams, set_),
        "secrets.delete": Method(p.SecretNameParams, delete),
        "secrets.status": Method(p.SecretStatusParams, status),
    }
