"""A flood of initialize-only HTTP MCP sessions (a buggy plugin reconnecting in a loop): RSS and
open FDs of the daemon before, at peak and after the uninitialized-session timeout, while one
established IDE session keeps calling tools/list. Run: python bench/session_flood.py [--markdown BENCHMARKS.md]"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from harness import bench_env, rss_mb, start_daemon
from report import report

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "flood", "version": "0"}}}


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def post(conn: http.client.HTTPConnection, body: dict[str, object], headers: dict[str, str]) -> tuple[int, str | None]:
    conn.request("POST", "/mcp", body=json.dumps(body), headers={
        "Content-Type": "application/json", "Accept": "application/json, text/event-stream", **headers})
    response = conn.getresponse()
    response.read()
    return response.status, response.getheader("mcp-session-id")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--cap", type=int, default=256)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="syn-flood-", dir="/tmp"))
    try:
        home.mkdir(exist_ok=True)
        (home / "config.toml").write_text(f"[mcp]\nport = 0\nmax_sessions = {args.cap}\nuninitialized_timeout_s = 10\n")
        proc, client, _ = start_daemon(home, bench_env(home))
        mcp = client.daemon_status().mcp
        assert mcp is not None
        auth = {"Authorization": "Bearer " + (home / "state" / "mcp.token").read_text().strip()}
        conn = http.client.HTTPConnection("127.0.0.1", mcp.port, timeout=10)
        ide_conn = http.client.HTTPConnection("127.0.0.1", mcp.port, timeout=10)
        _, sid = post(ide_conn, INIT, auth)
        ide = {**auth, "mcp-session-id": sid or "", "mcp-protocol-version": "2025-06-18"}
        post(ide_conn, {"jsonrpc": "2.0", "method": "notifications/initialized"}, ide)
        time.sleep(0.5)
        before = (rss_mb(proc.pid), fds(proc.pid))
        peak_rss, peak_fds, ide_failures, refused = before[0], before[1], 0, 0
        started = time.perf_counter()
        for i in range(args.sessions):
            status, _ = post(conn, INIT, auth)
            refused += status != 200
            if i % 200 == 0:
                ok, _ = post(ide_conn, {"jsonrpc": "2.0", "id": i, "method": "tools/list"}, ide)
                ide_failures += ok != 200
                peak_rss, peak_fds = max(peak_rss, rss_mb(proc.pid)), max(peak_fds, fds(proc.pid))
        flood_s = time.perf_counter() - started
        at_peak = client.daemon_status().mcp
        held = len(client.mcp_sessions().sessions)
        time.sleep(16)  # past the uninitialized timeout plus one sweep
        after = (rss_mb(proc.pid), fds(proc.pid))
        left = len(client.mcp_sessions().sessions)
        ok, _ = post(ide_conn, {"jsonrpc": "2.0", "id": -1, "method": "tools/list"}, ide)
        proc.terminate()
        proc.wait(10)
        rows = [
            ["sessions opened", f"{args.sessions:,} in {flood_s:.1f} s ({args.sessions / flood_s:,.0f}/s)"],
            ["cap ([mcp] max_sessions)", args.cap],
            ["held at the end of the flood / evicted / refused", f"{held} / {at_peak.evicted_sessions if at_peak else '?'} / {refused}"],
            ["RSS before / peak / after expiry", f"{before[0]:.1f} / {peak_rss:.1f} / {after[0]:.1f} MB"],
            ["open FDs before / peak / after expiry", f"{before[1]} / {peak_fds} / {after[1]}"],
            ["sessions left after expiry", left],
            ["established IDE session: failed tools/list during the flood", ide_failures],
            ["established IDE session answers after the flood", "yes" if ok == 200 else f"no ({ok})"],
        ]
        report("MCP session flood", rows, args.markdown, headers=("measure", "value"),
               note="One client opens initialize-only sessions back to back on one keep-alive connection; "
                    "an IDE session opened first calls tools/list every 200 sessions.")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
