"""synapsectl/ide_install.py: the diff that dry runs and --json show never carries a secret."""

from __future__ import annotations

from pathlib import Path

from synapsectl.ide_install import diff

TOKEN = "AjHdW4eT0GhOTPXbWPVNC-GTHh0goTJPsPncYv3Cafw"
PATH = Path("/home/u/.cursor/mcp.json")

BEFORE = """{
  "mcpServers": {
    "github": {
      "command": "gh-mcp",
      "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_R3alS3cr3tValue0123456789"}
    },
    "remote": {"url": "https://mcp.example.com", "headers": {"X-Api-Key": "k-9f8e7d6c5b4a"}}
  }
}
"""
AFTER = BEFORE.replace('  }\n}\n', f'''    ,"synapse": {{"url": "http://127.0.0.1:8808/mcp", "headers": {{"Authorization": "Bearer {TOKEN}"}}}}
  }}
}}
''')


def test_our_token_is_masked_in_the_lines_that_add_it() -> None:
    shown = diff(PATH, BEFORE, AFTER)
    assert TOKEN not in shown
    assert '+    ,"synapse": {"url": "http://127.0.0.1:8808/mcp", "headers": {"Authorization": "[REDACTED]"}}' in shown


def test_other_servers_secrets_on_context_lines_are_masked() -> None:
    shown = diff(PATH, BEFORE, AFTER)
    assert "ghp_R3alS3cr3tValue0123456789" not in shown
    assert "k-9f8e7d6c5b4a" not in shown
    assert '"GITHUB_PERSONAL_ACCESS_TOKEN": "[REDACTED]"' in shown
    assert '"url": "https://mcp.example.com"' in shown  # what is not secret stays readable


def test_the_removed_lines_of_an_uninstall_are_masked_too() -> None:
    shown = diff(PATH, AFTER, BEFORE)
    assert TOKEN not in shown and "-    ,\"synapse\"" in shown


def test_a_toml_header_table_is_masked() -> None:
    after = f'[mcp_servers.synapse]\nurl = "http://127.0.0.1:8808/mcp"\nhttp_headers = {{ Authorization = "Bearer {TOKEN}" }}\n'
    shown = diff(Path("/home/u/.codex/config.toml"), "", after)
    assert TOKEN not in shown
    assert '+url = "http://127.0.0.1:8808/mcp"' in shown


def test_a_file_without_secrets_is_shown_as_it_is() -> None:
    after = '{"mcpServers": {"synapse": {"command": "/venv/bin/synapsectl", "args": ["mcp", "stdio"], "token": ""}}}\n'
    assert diff(PATH, "", after).splitlines()[-1] == "+" + after.rstrip("\n")
