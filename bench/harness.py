"""Shared pieces of the benchmarks: a synapsed subprocess on a temporary home, fake upstreams in
their own processes, and readings from /proc."""

from __future__ import annotations

import compileall
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from synapsectl.client import Client, DaemonNotRunning  # noqa: E402

START_TIMEOUT_S = 30.0


def compile_bytecode() -> str:
    """Compile the project's bytecode, as `pip install` does: a checkout run under
    PYTHONDONTWRITEBYTECODE (CI shells often set it) would otherwise compile every module on
    every process start, and start-up figures would be a checkout's, not an installation's.
    Returns a note for the report."""
    for package in ("synapsed", "synapsectl"):
        compileall.compile_dir(REPO / package, quiet=1)
    return "bytecode compiled first"


def bench_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment for a benchmark daemon: its own home, no real keyring."""
    return {**os.environ, "SYNAPSE_HOME": str(home), "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            "PYTHONPATH": str(REPO), **extra}


def start_daemon(home: Path, env: dict[str, str], wait_mcp: bool = True) -> tuple[subprocess.Popen[bytes], Client, float]:
    """Start synapsed (BENCH_DAEMON_CMD may wrap it, e.g. in a profiler); returns the process, a
    client, and the seconds until the control socket answered. MCP gets a free port, never 8808."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "config.toml"
    if not config.exists():
        config.write_text("[mcp]\nport = 0\n")
    command = os.environ.get("BENCH_DAEMON_CMD", f"{sys.executable} -m synapsed").split()
    started = time.perf_counter()
    proc = subprocess.Popen([*command, "--home", str(home)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=REPO)
    client = Client(home / "run" / "synapsed.sock")
    deadline = time.monotonic() + START_TIMEOUT_S
    ready: float | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"synapsed exited during start ({proc.returncode})")
        try:
            status = client.daemon_status()
        except (DaemonNotRunning, OSError):
            time.sleep(0.002)
            continue
        if ready is None:
            ready = time.perf_counter() - started
        if not wait_mcp or status.mcp is not None:
            return proc, client, ready
        time.sleep(0.02)
    raise SystemExit("synapsed did not start in time")


def start_fake(delay_ms: float = 0.0, fail_every: int = 0) -> tuple[subprocess.Popen[str], int]:
    """A fake OpenAI upstream in its own process; returns it and its port."""
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "bench" / "fake_upstream_server.py"), "--delay-ms", str(delay_ms),
         "--fail-every", str(fail_every)],
        stdout=subprocess.PIPE, text=True, cwd=REPO,
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def start_forwarder(upstream_port: int) -> tuple[subprocess.Popen[str], int]:
    """A bare aiohttp forwarder to the fake upstream in its own process; returns it and its port."""
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "bench" / "forwarder_server.py"), "--upstream", f"http://127.0.0.1:{upstream_port}"],
        stdout=subprocess.PIPE, text=True, cwd=REPO,
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def rss_mb(pid: int) -> float:
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def pin(*daemons_then_helpers: int, daemons: int = 2) -> str:
    """Pin the first `daemons` pids to the last CPU and the rest (and this process) to the
    others, where the machine has 2+ CPUs; returns how, for the report."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return "not pinned (1 CPU)"
    daemon_cpu, others = {cpus[-1]}, set(cpus[:-1])
    for index, pid in enumerate(daemons_then_helpers):
        os.sched_setaffinity(pid, daemon_cpu if index < daemons else others)
    os.sched_setaffinity(0, others)
    return f"daemons pinned to CPU {cpus[-1]}, clients and fake upstreams to CPU(s) {sorted(others)}"
