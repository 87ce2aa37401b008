"""MCP for IDEs: Streamable HTTP on loopback and a Unix socket for the stdio bridge."""
