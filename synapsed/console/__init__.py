"""The web console: server-rendered pages on the MCP listener under /console/ (docs/console.md)."""
