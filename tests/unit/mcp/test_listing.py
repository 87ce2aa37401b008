"""mcp/listing.py: the SDK-free wire data the fast path answers with, held equal to what the
SDK's own models serialise (the e2e differential test covers whole replies)."""

from __future__ import annotations

import subprocess
import sys

import mcp_types as types
import pytest
from mcp.shared.inbound import X_MCP_HEADER_KEY, validate_mcp_param_headers
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from synapsed.mcp import listing
from synapsed.mcp.listing import HANDSHAKE_VERSIONS, initialize_result, negotiated, result_data, tools_list_data
from synapsed.mcp.server import to_result, tool_list
from synapsed.mcp.tools import Answer
from tests.support.daemon import REPO


def _sdk_dump(model: types.Result) -> dict[str, object]:
    return model.model_dump(by_alias=True, mode="json", exclude_none=True, exclude_unset=True)


def test_handshake_versions_are_the_sdks() -> None:
    assert HANDSHAKE_VERSIONS == tuple(HANDSHAKE_PROTOCOL_VERSIONS)


def test_the_param_header_annotation_is_the_sdks() -> None:
    assert listing.X_MCP_HEADER == X_MCP_HEADER_KEY


@pytest.mark.parametrize("name", sorted(listing.TOOLS))
def test_no_tool_declares_param_headers_so_the_sdk_check_passes_any_headers(name: str) -> None:
    """What lets the fast path skip the SDK's Mcp-Param-* check: without an annotation it can
    pass nothing but None, whatever the headers say."""
    assert not listing.declares_param_headers(name)
    stray = {"Mcp-Param-Connection": "elsewhere", "Mcp-Param-Prompt": "=?base64?eA==?="}
    assert validate_mcp_param_headers(listing.input_schema(name), {"prompt": "x"}, stray) is None


def test_an_annotated_schema_is_seen_as_declaring_param_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    annotated = {"type": "object", "properties": {"region": {"type": "string", X_MCP_HEADER_KEY: "Region"}}}
    monkeypatch.setattr(listing, "schema", lambda name, bound: annotated)
    listing.declares_param_headers.cache_clear()
    try:
        assert listing.declares_param_headers("ask")
    finally:
        listing.declares_param_headers.cache_clear()


@pytest.mark.parametrize("bound", [None, "gpt"])
def test_tools_list_data_equals_the_sdk_models_dump(bound: str | None) -> None:
    assert tools_list_data(bound) == _sdk_dump(types.ListToolsResult(tools=tool_list(bound)))


@pytest.mark.parametrize("answer", [
    Answer("pong", {"text": "pong", "connection": "gpt", "cost_usd": None}),
    Answer("bad_request: no\nhint: yes", {"error": {"kind": "bad_request", "message": "no", "hint": "yes"}},
           is_error=True),
])
def test_result_data_equals_the_sdk_models_dump(answer: Answer) -> None:
    assert result_data(answer) == _sdk_dump(to_result(answer))


def test_an_unknown_version_is_offered_the_newest() -> None:
    assert negotiated("2099-01-01") == HANDSHAKE_VERSIONS[-1] == initialize_result("2099-01-01")["protocolVersion"]
    assert negotiated("2025-06-18") == "2025-06-18"


def test_the_mcp_service_and_fast_path_load_without_the_sdk() -> None:
    """What lets HTTP MCP answer before the SDK has loaded (about a second of imports)."""
    probe = ("import sys, synapsed.mcp.service, synapsed.mcp.fast_path; "
             "print(sorted(m for m in sys.modules if m == 'mcp' or m.startswith(('mcp.', 'mcp_types'))))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]"
