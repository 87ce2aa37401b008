"""The shape docs/architecture.md promises, checked on the source: a typed client method per RPC
method, and imports that point down only."""

from __future__ import annotations

import ast
from pathlib import Path

from synapsectl.client import Client
from synapsed.app import RPC_GROUPS, Daemon
from synapsed.paths import resolve

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_every_rpc_method_has_a_typed_client_method_named_after_it(tmp_path: Path) -> None:
    services = Daemon(resolve(tmp_path)).services
    names = sorted(name for group in RPC_GROUPS for name in group.methods(services))
    assert len(names) >= 22
    missing = [n for n in names if not callable(getattr(Client, n.replace(".", "_"), None))]
    assert missing == []


def test_nothing_below_app_imports_the_daemon() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "synapsed").rglob("*.py")
        if path.name not in ("app.py", "main.py") and "synapsed.app" in _imports(path)
    ]
    assert offenders == []


def test_handlers_never_see_the_daemon_class() -> None:
    for folder in ("rpc", "mcp"):
        for path in (ROOT / "synapsed" / folder).glob("*.py"):
            text = path.read_text(encoding="utf-8").replace("DaemonStatus", "")
            assert "Daemon" not in text and "TYPE_CHECKING" not in text, path


def test_the_cli_uses_typed_client_methods_only() -> None:
    for path in (ROOT / "synapsectl").rglob("*.py"):
        if path.name != "client.py":
            assert "client.call(" not in path.read_text(encoding="utf-8"), path
