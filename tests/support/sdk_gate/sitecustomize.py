"""Test-only, on a daemon's PYTHONPATH: hold its import of the MCP SDK until the file named by
$SYNAPSE_TEST_SDK_GATE exists, so a test can talk to a daemon whose SDK has not loaded yet and
then let it load (or, when the file says "fail", make the import fail as a broken install
would). Without that variable this does nothing.

The wait is in the loader, not the finder: finders run under the global import lock, and
holding it would stop every other import in the daemon, which is not what a slow SDK does."""

from __future__ import annotations

import os
import sys
import time
from importlib.machinery import ModuleSpec, PathFinder
from types import ModuleType
from typing import Any

GATE = os.environ.get("SYNAPSE_TEST_SDK_GATE")
SDK_PACKAGES = ("mcp", "mcp_types")


def _wait() -> None:
    while GATE and not os.path.exists(GATE):
        time.sleep(0.01)
    if GATE and open(GATE, "rb").read().strip() == b"fail":
        raise ImportError("the test's SDK gate failed this import")


class _GatedLoader:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self.inner.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        _wait()
        self.inner.exec_module(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _Gate:
    def find_spec(self, name: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        if name not in SDK_PACKAGES:
            return None
        spec = PathFinder.find_spec(name, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = _GatedLoader(spec.loader)  # type: ignore[assignment]
        return spec


if GATE:
    sys.meta_path.insert(0, _Gate())
