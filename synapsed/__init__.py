"""synapsed: the mcp synapse daemon."""

__version__ = "0.1.0"
