"""console.login: mint a one-time login link for the web console (the control socket is the
only way to get one, so only the daemon's own user can open the console)."""

from __future__ import annotations

from synapsed import protocol as p
from synapsed.console.auth import LINK_TTL_S
from synapsed.console.guards import LOGIN_PATH
from synapsed.errors import SynapseError
from synapsed.logging import get_logger
from synapsed.rpc.dispatch import Method
from synapsed.services import Services

log = get_logger("synapsed.rpc.console")


def methods(services: Services) -> dict[str, Method]:
    async def login(_: p.NoParams) -> p.ConsoleLink:
        if not services.config.config.console.enabled:
            raise SynapseError("config_invalid", "the web console is turned off",
                               hint="set [console] enabled = true in config.toml, then `synapsectl reload`",
                               field="console.enabled")
        view = services.runtime.mcp_view()
        if view is None:
            raise SynapseError("internal", "the console's listener (the MCP port) is not up yet",
                               hint="it starts a moment after the daemon; retry, or check `synapsectl logs`")
        token = services.console.issue_link()
        log.info("console login link issued", expires_in_s=LINK_TTL_S)  # never the link itself
        # The token rides in the fragment: browsers never send it to a server, nor in a Referer.
        base = view.url.removesuffix("/mcp")
        return p.ConsoleLink(url=f"{base}{LOGIN_PATH}#{token}", expires_in_s=LINK_TTL_S)

    return {"console.login": Method(p.NoParams, login)}
