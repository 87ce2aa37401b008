"""The floor in Python here: a bare aiohttp server that forwards each POST body to the fake
upstream with one aiohttp client session and hands the reply back, parsing nothing, checking
nothing, recording nothing. bench/mcp_latency.py measures it beside synapsed in the same run.

    python bench/forwarder_server.py --upstream http://127.0.0.1:PORT   # prints its port
"""

from __future__ import annotations

import argparse
import asyncio

import aiohttp
from aiohttp import web


async def serve(upstream: str) -> None:
    client = aiohttp.ClientSession()

    async def forward(request: web.Request) -> web.Response:
        async with client.post(upstream + request.path, data=await request.read(),
                               headers={"Content-Type": "application/json",
                                        "Authorization": request.headers.get("Authorization", "")}) as reply:
            return web.Response(body=await reply.read(), status=reply.status, content_type="application/json")

    app = web.Application()
    app.router.add_post("/{tail:.*}", forward)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)  # type: ignore[union-attr]
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    asyncio.run(serve(parser.parse_args().upstream))


if __name__ == "__main__":
    main()
