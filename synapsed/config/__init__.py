"""The daemon's configuration: schema (Structs), parse (TOML with line/field errors), store
(the live config and its revisioned durable copy). The names below are its public surface."""

from synapsed.config.parse import parse, render
from synapsed.config.schema import (
    DEFAULT_MCP_PORT,
    SCHEMA_VERSION,
    Budget,
    Config,
    ConnectionConfig,
    ConsoleSettings,
    ContextSettings,
    DaemonSettings,
    McpSettings,
    PriceOverride,
    ThreadSettings,
    restart_needed,
)
from synapsed.config.store import ConfigStore

__all__ = [
    "DEFAULT_MCP_PORT",
    "SCHEMA_VERSION",
    "Budget",
    "Config",
    "ConfigStore",
    "ConnectionConfig",
    "ConsoleSettings",
    "ContextSettings",
    "DaemonSettings",
    "McpSettings",
    "ThreadSettings",
    "PriceOverride",
    "restart_needed",
    "parse",
    "render",
]
