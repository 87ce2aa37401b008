"""Which asyncio event loop the daemon runs on: `[daemon] event_loop` in config.toml.

uvloop (libuv under asyncio's API) moves the socket and timer work that every MCP call pays
in asyncio's pure-Python selector loop into C: about a tenth less daemon CPU per call here
(BENCHMARKS.md, "event loop"). The stdlib loop stays one setting away, for a platform where
uvloop misbehaves or is not installed. The choice is read once, at start; the loop in use is
logged at start and shown by `synapsectl status`, so "auto" never picks silently.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from synapsed.config.schema import EventLoopSetting
from synapsed.errors import SynapseError

INSTALL_HINT = "pip install 'uvloop>=0.21' (or set [daemon] event_loop = \"asyncio\" in config.toml)"


@dataclass(frozen=True)
class EventLoopChoice:
    name: Literal["uvloop", "asyncio"]
    factory: Callable[[], asyncio.AbstractEventLoop]
    reason: str  # why this one, for the start-up log line


def choose(setting: EventLoopSetting) -> EventLoopChoice:
    """The loop for `setting`; "uvloop" without uvloop installed is a config error with the
    install command as its hint, "auto" without it is the stdlib loop, saying so."""
    if setting == "asyncio":
        return EventLoopChoice("asyncio", asyncio.new_event_loop, "configured")
    factory = _uvloop_factory()
    if factory is not None:
        return EventLoopChoice("uvloop", factory, "configured" if setting == "uvloop" else "auto: uvloop is installed")
    if setting == "uvloop":
        raise SynapseError("config_invalid", "[daemon] event_loop = \"uvloop\" but uvloop is not installed",
                           hint=INSTALL_HINT)
    return EventLoopChoice("asyncio", asyncio.new_event_loop, "auto: uvloop is not installed")


def running_name() -> str:
    """The loop this code runs on, as `synapsectl status` shows it."""
    module = type(asyncio.get_running_loop()).__module__
    return "uvloop" if module.startswith("uvloop") else "asyncio"


def _uvloop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory
