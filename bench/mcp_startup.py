"""How soon a freshly started synapsed answers MCP: from spawning the process to the first
`tools/list` reply, over HTTP (a raw client retrying the connect every 5 ms, then initialize +
tools/list) and through a cold `synapsectl mcp stdio` that starts the daemon itself. Each run
uses a fresh state directory; the median and worst of --runs are reported, beside what this
machine takes to start a Python process that only imports aiohttp's server (the floor of any
aiohttp daemon), and HTTP again with the stdlib event loop (what importing uvloop costs).
Each round measures the floor, both HTTP starts and stdio back to back, so a busy moment
of a shared machine moves them all: the start-up figures move with the machine's speed.

The project's bytecode is compiled first (harness.compile_bytecode says why).

    .venv/bin/python bench/mcp_startup.py [--runs 7] [--markdown BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import bench_env, compile_bytecode  # noqa: E402
from bench.report import report  # noqa: E402
from synapsed.paths import resolve  # noqa: E402

INIT = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}}
LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
TIMEOUT_S = 20.0
ASYNCIO_LOOP = '\n[daemon]\nevent_loop = "asyncio"\n'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _post(conn: http.client.HTTPConnection, headers: dict[str, str], body: dict[str, object]) -> http.client.HTTPResponse:
    conn.request("POST", "/mcp", body=json.dumps(body).encode(), headers=headers)
    response = conn.getresponse()
    response.read()
    return response


def http_first_list(home: Path, extra_config: str = "") -> float:
    """Seconds from spawning synapsed to its first tools/list reply over HTTP."""
    port = free_port()
    home.mkdir(parents=True)
    (home / "config.toml").write_text(f"[mcp]\nport = {port}\n{extra_config}")
    token_file = resolve(home).token_file
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "synapsed", "--home", str(home)], env=bench_env(home),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.005)
        token = token_file.read_text().strip()  # written before the port is bound
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
                   "Authorization": f"Bearer {token}", "Host": f"127.0.0.1:{port}"}
        reply = _post(conn, headers, INIT)
        headers["mcp-session-id"] = reply.getheader("mcp-session-id") or ""
        headers["mcp-protocol-version"] = "2025-06-18"
        if _post(conn, headers, LIST).status != 200:
            raise SystemExit("tools/list failed")
        return time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(15)


def stdio_first_list(home: Path) -> float:
    """Seconds from spawning a cold `synapsectl mcp stdio` (it starts synapsed) to tools/list."""
    home.mkdir(parents=True)
    (home / "config.toml").write_text("[mcp]\nport = 0\n")
    started = time.perf_counter()
    bridge = subprocess.Popen([sys.executable, "-m", "synapsectl", "--home", str(home), "mcp", "stdio"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              env=bench_env(home), cwd=REPO)
    assert bridge.stdin is not None and bridge.stdout is not None
    try:
        for message in (INIT, {"jsonrpc": "2.0", "method": "notifications/initialized"}, LIST):
            bridge.stdin.write(json.dumps(message).encode() + b"\n")
        bridge.stdin.flush()
        bridge.stdout.readline()
        listing = json.loads(bridge.stdout.readline())
        if "result" not in listing:
            raise SystemExit(f"tools/list failed: {listing}")
        return time.perf_counter() - started
    finally:
        bridge.stdin.close()
        bridge.wait(15)
        subprocess.run([sys.executable, "-m", "synapsectl", "--home", str(home), "stop"], env=bench_env(home),
                       cwd=REPO, capture_output=True, timeout=30)


def import_floor() -> float:
    """Seconds for a Python process that imports aiohttp.web and exits."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import aiohttp.web"], check=True, cwd=REPO)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    compiled = compile_bytecode()
    tmp = Path(tempfile.mkdtemp(prefix="syn-bench-", dir="/tmp"))
    over_http: list[float] = []
    over_stdio: list[float] = []
    on_asyncio: list[float] = []
    floors: list[float] = []
    try:
        for i in range(args.runs):
            floors.append(import_floor())
            over_http.append(http_first_list(tmp / f"http-{i}"))
            on_asyncio.append(http_first_list(tmp / f"asyncio-{i}", ASYNCIO_LOOP))
            over_stdio.append(stdio_first_list(tmp / f"stdio-{i}"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    http50, stdio50, floor = statistics.median(over_http), statistics.median(over_stdio), statistics.median(floors)
    above = statistics.median(h - f for h, f in zip(over_http, floors, strict=True))
    uvloop_cost = statistics.median(h - a for h, a in zip(over_http, on_asyncio, strict=True))
    rows = [
        ("start → first `tools/list` reply, HTTP (median / worst)", "≤ 0.5 s",
         f"{http50:.3f} s / {max(over_http):.3f} s", "met" if http50 <= 0.5 else "missed"),
        ("start → first `tools/list` reply, cold `synapsectl mcp stdio` (median / worst)", "≤ 0.5 s",
         f"{stdio50:.3f} s / {max(over_stdio):.3f} s", "met" if stdio50 <= 0.5 else "missed"),
        ("floor: a Python process that only imports aiohttp.web (median)", "(machine)", f"{floor:.3f} s", "-"),
        ("HTTP above the floor of the same round (median)", "(reported)", f"{above:.3f} s", "-"),
        ("HTTP with `[daemon] event_loop = \"asyncio\"` (median); uvloop's cost, same round (median)",
         "(reported)", f"{statistics.median(on_asyncio):.3f} s; {uvloop_cost * 1000:+.0f} ms", "-"),
    ]
    report("MCP start-up", rows, args.markdown,
           f"runs: {args.runs}, fresh state directory each, {compiled}")


if __name__ == "__main__":
    main()
