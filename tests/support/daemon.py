"""A real synapsed subprocess on a temp home, and synapsectl as a subprocess, for e2e tests."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from synapsectl.client import Client, DaemonNotRunning
from synapsed.paths import Paths, resolve

REPO = Path(__file__).resolve().parents[2]
KEYRING_BACKEND = "tests.support.keyring_backend.FileKeyring"
READY_TIMEOUT_S = 15.0


def isolated_env(root: Path, home: Path, keyring_file: Path) -> dict[str, str]:
    """The environment of a daemon under test: its own home, a file keyring, and a HOME and
    XDG data dir inside `root`, so nothing touches the user's real keyring or home."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SYNAPSE_", "NOTIFY_SOCKET", "PYTHON_KEYRING", "AWS_", "GOOGLE_", "GCE_", "CLOUDSDK_"))}
    env.update(
        # The AWS and Google credential chains end at a metadata server on a link-local address:
        # never let a test reach for one.
        AWS_EC2_METADATA_DISABLED="true",
        NO_GCE_CHECK="True",
        SYNAPSE_HOME=str(home),
        PYTHON_KEYRING_BACKEND=KEYRING_BACKEND,
        SYNAPSE_TEST_KEYRING=str(keyring_file),
        PYTHONPATH=str(REPO),
        HOME=str(root),
        XDG_DATA_HOME=str(root / "xdg-data"),
    )
    return env


@dataclass
class DaemonProcess:
    home: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    stderr_path: Path = field(init=False)
    _runs: int = 0

    def __post_init__(self) -> None:
        self.paths: Paths = resolve(self.home)
        self.client = Client(self.paths.socket, timeout=20)

    def start(self, *extra: str, wait: bool = True, nofile: int | None = None) -> DaemonProcess:
        """`nofile` caps the daemon's open-files limit (soft and hard) for descriptor-exhaustion tests."""
        if not self.paths.config_file.exists():
            # Never the default MCP port: a developer's own synapsed may be holding it.
            self.paths.config_dir.mkdir(parents=True, exist_ok=True)
            self.paths.config_file.write_text("[mcp]\nport = 0\n")
        self._runs += 1
        self._ready_lines = self._count_ready()
        self.stderr_path = self.home.parent / f"{self.home.name}-stderr-{self._runs}.txt"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "synapsed", "--home", str(self.home), *extra],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self.stderr_path.open("wb"),
            cwd=REPO,
            preexec_fn=None if nofile is None else lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile)),
        )
        if wait:
            self.wait_ready()
        return self

    def refused_start(self, config: str, timeout: float = 30.0) -> str:
        """Start with `config` as config.toml and expect exit 1 before it is ready: its stderr."""
        self.paths.config_dir.mkdir(parents=True, exist_ok=True)
        self.paths.config_file.write_text(config)
        self.start(wait=False)
        assert self.proc is not None and self.proc.wait(timeout) == 1, self.stderr()
        return self.stderr()

    def _count_ready(self) -> int:
        try:
            return self.paths.log_file.read_text(errors="replace").count('"event": "synapsed ready"')
        except FileNotFoundError:
            return 0

    def wait_ready(self) -> None:
        """Until the control socket answers and this start logged "synapsed ready" (said once the
        MCP listener is up too)."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        answered = False
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"synapsed exited with {self.proc.returncode}: {self.stderr()}")
            try:
                if not answered:
                    self.client.daemon_status()
                    answered = True
                if self._count_ready() > getattr(self, "_ready_lines", 0):
                    return
            except (DaemonNotRunning, ConnectionError, OSError):
                pass
            time.sleep(0.02)
        raise AssertionError(f"synapsed not ready after {READY_TIMEOUT_S}s: {self.stderr()}")

    def stderr(self) -> str:
        return "\n".join(
            p.read_text(errors="replace") for p in sorted(self.home.parent.glob(f"{self.home.name}-stderr-*.txt"))
        )

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 15.0) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("synapsed did not stop on SIGTERM") from None

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def cleanup(self) -> None:
        """Kill the daemon if it still runs (fixture teardown: a failed test may leave it up)."""
        if self.proc is not None and self.proc.poll() is None:
            self.kill9()

    def ctl_argv(self) -> list[str]:
        return [sys.executable, "-m", "synapsectl", "--home", str(self.home)]

    def ctl(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.ctl_argv(), *args],
            input=input,
            capture_output=True,
            text=True,
            env=env or self.env,
            cwd=REPO,
            timeout=30,
        )

    def all_state_text(self) -> str:
        """Every file under the home, decoded loosely: for secret scans."""
        chunks = []
        for path in self.home.rglob("*"):
            if path.is_file():
                chunks.append(path.read_bytes().decode("utf-8", errors="replace"))
        return "\n".join(chunks)
