"""Bytes of the `tools/list` result an IDE loads into its model's context on every session.

Run: python bench/tools_list_size.py — prints the JSON size of the result on /mcp and on a
bound /mcp/c/<name> endpoint, as the SDK serialises it (camelCase, no nulls)."""

from __future__ import annotations

import mcp_types as types

from synapsed.mcp.server import tool_list


def size(bound: str | None) -> int:
    result = types.ListToolsResult(tools=tool_list(bound))
    return len(result.model_dump_json(by_alias=True, exclude_none=True).encode())


if __name__ == "__main__":
    print(f"tools/list on /mcp: {size(None)} bytes")
    print(f"tools/list on /mcp/c/<name>: {size('gpt')} bytes")
