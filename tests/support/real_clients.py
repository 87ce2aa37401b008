"""Where the real IDE clients (npm packages, see tests/real_clients/package.json) are found: the
.npm-clients/ folder `.ci/run` installs them into, else PATH. A test that needs a missing one is
skipped with a one-line reason."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.daemon import REPO

NPM_BIN = REPO / ".npm-clients" / "node_modules" / ".bin"
INSTALL = "bash .ci/real-clients (npm install --prefix .npm-clients, from tests/real_clients/package.json)"


def binary(name: str) -> Path | None:
    local = NPM_BIN / name
    if local.exists():
        return local
    found = shutil.which(name)
    return Path(found) if found else None


# The Node.js each client needs (its package.json `engines`): older ones fail in their own ways.
NODE_MAJOR = {"gemini": 20, "claude": 18, "codex": 16, "opencode": 18}


@functools.cache
def _node_major() -> int:
    try:
        out = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=10).stdout
        return int(out.strip().lstrip("v").split(".")[0])
    except (OSError, ValueError, subprocess.SubprocessError):
        return 0


def require(name: str) -> Path:
    found = binary(name)
    if found is None:
        pytest.skip(f"the real `{name}` client is not installed; {INSTALL}")
    if _node_major() < NODE_MAJOR.get(name, 0):
        pytest.skip(f"the real `{name}` client needs Node.js {NODE_MAJOR[name]} or later")
    return found


def client_env(base: dict[str, str], *names: str) -> dict[str, str]:
    """`base` with the clients' folder first on PATH (synapsectl runs `claude mcp add` from there),
    and the clients' own traffic off: no telemetry, no auto-update."""
    dirs = [str(require(name).parent) for name in names]
    return {**base, "PATH": os.pathsep.join([*dirs, base.get("PATH", os.environ.get("PATH", ""))]),
            "DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "GEMINI_CLI_NO_RELAUNCH": "true", "NO_UPDATE_NOTIFIER": "1", "OPENCODE_DISABLE_AUTOUPDATE": "1"}
