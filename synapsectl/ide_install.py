"""`synapsectl mcp install|uninstall|installs`: one server entry merged into an IDE's own config
file, undoably.

Only our entry changes: JSON/JSONC files are spliced (synapsectl.jsonc), Codex's TOML gets one
`[mcp_servers.<name>]` table appended or removed as a block and is checked with tomlkit. Every
change is atomic, backed up first (`<file>.synapse-backup-<time>`), keeps the file's mode (0600
once it holds a token) and is recorded in `installs.json` beside config.toml, which is how
`uninstall`, `installs` and `--refresh` find it again. Claude Code manages its own files: its
`claude mcp add/remove` commands are run instead.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec

from synapsectl import jsonc, yaml_splice
from synapsed import ide_config
from synapsed.errors import SynapseError
from synapsed.redaction import REDACTED, SecretRegistry, is_secret_key, redact_text

Scope = Literal["user", "project"]
INSTALL_CLIENTS = ("claude-code", "cursor", "vscode", "windsurf", "codex", "claude-desktop", "gemini-cli", "opencode",
                   "zed", "cline", "goose", "continue", "kiro")
NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")  # fullmatch: `$` would let a trailing newline in


class Install(msgspec.Struct, omit_defaults=True):
    """One entry we put into a client's config (no token: that lives in the client's file)."""

    client: str
    scope: str
    path: str  # the config file, or "claude mcp" for Claude Code
    name: str
    transport: str  # http | stdio
    installed_at: str
    connection: str | None = None
    created_file: bool = False
    created_container: bool = False
    # The file's mode before a token made us narrow it to 0600: uninstall puts it back.
    mode_before: int | None = None

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Which entry this is: one name in one client's file (or Claude Code scope)."""
        return self.client, self.scope, self.path, self.name

    def target(self) -> Target:
        return Target(self.client, self.scope, Path(self.path))  # type: ignore[arg-type]


class Registry(msgspec.Struct):
    installs: list[Install] = []


@dataclass(frozen=True)
class Target:
    client: str
    scope: Scope
    path: Path | None  # None: Claude Code, driven through its CLI

    @property
    def format(self) -> ide_config.Format:
        return ide_config.file_format(self.client)

    @property
    def is_toml(self) -> bool:
        return self.format == "toml"

    @property
    def is_yaml(self) -> bool:
        return self.format.startswith("yaml")

    @property
    def preamble(self) -> str:
        """What a file we create holds besides our entry (Continue's block files need a header)."""
        if self.client == "continue" and self.scope == "project" and self.path is not None:
            return f"name: {self.path.stem}\nversion: 0.0.1\nschema: v1\n"
        return ""


def _app_support(home: Path) -> Path:
    """Electron's appData: where VS Code and Claude Desktop keep their user config."""
    if sys.platform == "darwin":
        return home / "Library" / "Application Support"
    return Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")


def target(client: str, scope: Scope, home: Path | None = None, cwd: Path | None = None) -> Target:
    """Where `client` reads MCP servers for `scope` on this OS (the table in docs/ides.md)."""
    home = home or Path.home()
    cwd = cwd or Path.cwd()
    if client == "claude-code":
        return Target(client, scope, None)
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    user_paths = {
        "cursor": home / ".cursor" / "mcp.json",
        "vscode": _app_support(home) / "Code" / "User" / "mcp.json",
        "windsurf": home / ".codeium" / "windsurf" / "mcp_config.json",
        "codex": Path(os.environ.get("CODEX_HOME") or home / ".codex") / "config.toml",
        "claude-desktop": _app_support(home) / "Claude" / "claude_desktop_config.json",
        "gemini-cli": home / ".gemini" / "settings.json",
        "opencode": xdg / "opencode" / "opencode.json",
        # Zed reads ~/.config/zed on Linux and macOS alike.
        "zed": xdg / "zed" / "settings.json",
        "cline": Path(os.environ.get("CLINE_MCP_SETTINGS_PATH") or _app_support(home) / "Code" / "User" / "globalStorage"
                      / "saoudrizwan.claude-dev" / "settings" / "cline_mcp_settings.json"),
        "goose": xdg / "goose" / "config.yaml",
        "continue": home / ".continue" / "config.yaml",
        "kiro": home / ".kiro" / "settings" / "mcp.json",
    }
    project_paths = {"cursor": cwd / ".cursor" / "mcp.json", "vscode": cwd / ".vscode" / "mcp.json",
                     "gemini-cli": cwd / ".gemini" / "settings.json", "opencode": cwd / "opencode.json",
                     "zed": cwd / ".zed" / "settings.json", "kiro": cwd / ".kiro" / "settings" / "mcp.json",
                     "continue": cwd / ".continue" / "mcpServers" / "synapse.yaml"}
    if scope == "project":
        if client not in project_paths:
            raise SynapseError("bad_request", f"{client} has no project-level MCP config",
                               hint="use --scope user (the default)", field="scope")
        return Target(client, scope, project_paths[client])
    return Target(client, scope, user_paths[client])


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise SynapseError("bad_request", f"server name {name[:70]!r} is not allowed",
                           hint="use 1-64 letters, digits, '-' or '_'", field="name")
    return name


# ---- reading and checking the client's file ---------------------------------------------------------

def safe_path(path: Path, home: Path) -> Path:
    """The file to write: every directory on the way is ours (a symlinked ~/.cursor pointing into
    another user's directory would get our token), and a symlink is followed only to a regular
    file of ours inside HOME."""
    _check_directories(path, home)
    if not path.is_symlink():
        return path
    real = path.resolve()
    inside_home = real.is_relative_to(home.resolve())
    if not inside_home or (real.exists() and (not real.is_file() or real.stat().st_uid != os.getuid())):
        raise SynapseError("conflict", f"{path} is a symlink to {real}, outside your home or not your file",
                           hint="point it at a file you own under your home, or edit that file by hand; nothing was changed",
                           path=str(path))
    return real


def _check_directories(path: Path, home: Path) -> None:
    """Each existing directory between HOME (or, outside it, the file's own directory) and the
    file, followed through symlinks, must be owned by us."""
    parent = path.parent
    chain = [parent, *parent.parents]
    if parent.is_relative_to(home):
        chain = chain[: chain.index(home)] if home in chain else chain
    else:
        chain = chain[:1]
    for directory in chain:
        try:
            real = directory.resolve()
            owner = real.stat().st_uid
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise SynapseError("conflict", f"cannot check {directory}: {exc.strerror}", path=str(path),
                               hint="check the directory's permissions; nothing was changed") from None
        if owner != os.getuid():
            via = f" (a symlink to {real})" if real != directory else ""
            raise SynapseError("conflict", f"{directory}{via} belongs to uid {owner}, not to you",
                               hint="the IDE's config (and the token it holds) would land in another user's directory; "
                                    "fix or remove that directory, then run the command again; nothing was changed",
                               path=str(path))


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise SynapseError("config_invalid", f"{path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at "
                           f"offset {exc.start})", hint="save it as UTF-8 in the editor (or move it aside) and run "
                           "the command again; nothing was changed", path=str(path)) from None
    except OSError as exc:
        raise SynapseError("config_invalid", f"cannot read {path}: {exc}", hint="check the file's permissions",
                           path=str(path)) from None


def _unparseable(path: Path, message: str, line: int | None, column: int | None) -> SynapseError:
    where = f" (line {line}, column {column})" if line else ""
    return SynapseError("config_invalid", f"{path} does not parse{where}: {message}",
                        hint="fix the file (or move it aside) and run the command again; nothing was changed",
                        path=str(path), line=line, column=column)


def current_servers(tgt: Target, text: str) -> dict[str, Any]:
    """The file's server entries, or config_invalid with line and column."""
    return servers_in(tgt, read_doc(tgt, text))


def servers_in(tgt: Target, doc: dict[str, Any]) -> dict[str, Any]:
    servers = doc.get(ide_config.container(tgt.client)) or {}
    if tgt.format == "yaml-list" and isinstance(servers, list):
        # Continue's items carry their own names; an unnamed one cannot be ours.
        return {str(item["name"]): item for item in servers if isinstance(item, dict) and "name" in item}
    if not isinstance(servers, dict):
        assert tgt.path is not None
        raise _unparseable(tgt.path, f"{ide_config.container(tgt.client)!r} is not a table/object", None, None)
    return servers


def read_doc(tgt: Target, text: str) -> dict[str, Any]:
    """The whole file as plain values, or config_invalid with line and column."""
    assert tgt.path is not None
    if tgt.is_toml:
        import tomlkit
        from tomlkit.exceptions import ParseError

        try:
            doc = tomlkit.parse(text).unwrap()
        except ParseError as exc:
            raise _unparseable(tgt.path, str(exc), exc.line, exc.col) from None
    elif tgt.is_yaml:
        try:
            doc = yaml_splice.loads(text) if text.strip() else {}
        except yaml_splice.YamlError as exc:
            raise _unparseable(tgt.path, exc.reason, exc.line, exc.column) from None
        if doc is None:
            doc = {}
        if not isinstance(doc, dict):
            raise _unparseable(tgt.path, "the top level is not a mapping", 1, 1)
    else:
        try:
            doc = jsonc.loads(text) if text.strip() else {}
        except jsonc.JsoncError as exc:
            raise _unparseable(tgt.path, exc.reason, exc.line, exc.column) from None
        if not isinstance(doc, dict):
            raise _unparseable(tgt.path, "the top level is not an object", 1, 1)
    return dict(doc)


def with_entry(tgt: Target, text: str, name: str, server: dict[str, Any], replacing: bool) -> str:
    """The text with `name` set to `server` (`replacing` an entry of that name the file has)."""
    if tgt.is_yaml:
        try:
            return yaml_splice.set_entry(text or tgt.preamble, ide_config.container(tgt.client), name, server,
                                         sequence=tgt.format == "yaml-list")
        except yaml_splice.YamlError as exc:
            assert tgt.path is not None
            raise SynapseError("conflict", f"{tgt.path}: {exc.reason}", hint="nothing was changed",
                               path=str(tgt.path), line=exc.line) from None
    if not tgt.is_toml:
        return jsonc.set_member(text, [ide_config.container(tgt.client), name], server)
    block = ide_config.codex_table(name, server) + "\n"
    base = _remove_toml_table(text, name) if replacing else text
    if base and not base.endswith("\n"):
        base += "\n"
    return base + ("\n" if base.strip() else "") + block


def without_entry(tgt: Target, text: str, name: str, drop_container: bool) -> str:
    if tgt.is_yaml:
        return yaml_splice.remove_entry(text, ide_config.container(tgt.client), name,
                                        sequence=tgt.format == "yaml-list", drop_container=drop_container)
    if not tgt.is_toml:
        path = [ide_config.container(tgt.client)] + ([] if drop_container else [name])
        return jsonc.remove_member(text, path)
    return _remove_toml_table(text, name)


def _remove_toml_table(text: str, name: str) -> str:
    """Cut the `[mcp_servers.<name>]` block and the blank line `with_entry` put before it."""
    header = re.search(rf'(?m)^\[mcp_servers\.(?:{re.escape(name)}|"{re.escape(name)}")\][ \t]*(?:#.*)?\n?', text)
    if header is None:
        raise SynapseError("conflict", f"the {name!r} entry is not a [mcp_servers.{name}] table",
                           hint="remove it by hand; nothing was changed")
    following = re.search(r"(?m)^[ \t]*\[", text[header.end():])
    end = header.end() + following.start() if following else len(text)
    start = header.start()
    if text[:start].endswith("\n\n"):
        start -= 1
    return text[:start] + text[end:]


# ---- writing ---------------------------------------------------------------------------------------

def backup(path: Path) -> Path:
    """A copy beside the file, created 0600 whatever the file's mode: it may hold a token (a
    refresh or uninstall backs up a file synapse already wrote one into)."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    data = path.read_bytes()
    n = 1
    copy = path.with_name(f"{path.name}.synapse-backup-{stamp}")
    while True:
        try:
            fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
            break
        except FileExistsError:
            n += 1
            copy = path.with_name(f"{path.name}.synapse-backup-{stamp}-{n}")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    return copy


def mode_of(path: Path) -> int | None:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None


def write_keeping_mode(path: Path, text: str, holds_token: bool, mode: int | None = None) -> None:
    """Atomic replace (write_failed on error); the file keeps its mode (or takes `mode`), narrowed
    to 0600 when it holds a token."""
    from synapsed.paths import write_atomic

    if mode is None:
        mode = mode_of(path)
    if mode is None:
        mode = 0o600
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text, mode & 0o600 if holds_token else mode)


def diff(path: Path, before: str, after: str) -> str:
    """The change as a unified diff, for showing only: secrets in it are masked (our token, and
    those of the file's other servers on context lines), so a dry run can go into a bug report."""
    lines = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                 fromfile=str(path), tofile=str(path))
    return "".join(_masked(line) for line in lines)


# A quoted value assigned to a name in JSON ("name": "v") or TOML (name = "v").
_ASSIGNED = re.compile(r'(?P<lead>"?(?P<name>[A-Za-z0-9_.\-]+)"?\s*[:=]\s*)"(?P<value>(?:[^"\\]|\\.)*)"')
_NO_LOADED_SECRETS = SecretRegistry()


def _masked(line: str) -> str:
    def value(match: re.Match[str]) -> str:
        if match["value"] and is_secret_key(match["name"]):
            return f'{match["lead"]}"{REDACTED}"'
        return match[0]

    return redact_text(_ASSIGNED.sub(value, line), _NO_LOADED_SECRETS)


def is_ours(server: Any) -> bool:
    """An entry synapsectl wrote: our stdio command, or a URL of a synapse MCP endpoint on loopback."""
    if not isinstance(server, dict):
        return False
    command, args = server.get("command") or server.get("cmd") or "", server.get("args") or []
    if isinstance(command, list):  # opencode: the command and its arguments in one list
        command, args = (command[0], command[1:]) if command else ("", [])
    if Path(str(command)).name == "synapsectl" and list(args)[:2] == ["mcp", "stdio"]:
        return True
    url = ide_config.url_of(server)
    return bool(re.fullmatch(r"http://(127\.0\.0\.1|localhost|\[::1\]):\d+/mcp(/c/[^/]+)?", url))


def bearer_of(server: dict[str, Any]) -> str | None:
    headers = ide_config.headers_of(server)
    value = str(headers.get("Authorization", ""))
    return value.removeprefix("Bearer ") if value.startswith("Bearer ") else None


# ---- Claude Code: its own CLI ---------------------------------------------------------------------

def claude_command() -> str | None:
    return shutil.which("claude")


def run_claude_quiet(args: list[str]) -> None:
    """A step whose failure is expected and harmless (removing an entry that may not exist)."""
    subprocess.run(args, capture_output=True, text=True, timeout=60)


def run_claude(args: list[str]) -> None:
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        # The arguments may carry the token: report the command's own words, never the command line.
        raise SynapseError("internal", f"`claude {' '.join(args[1:3])}` failed: {result.stderr.strip()[:300]}",
                           hint="run `claude mcp list` to see Claude Code's state")


# ---- the registry -----------------------------------------------------------------------------------

class Installs:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Registry:
        try:
            return msgspec.json.decode(self.path.read_bytes(), type=Registry)
        except FileNotFoundError:
            return Registry()
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise SynapseError("config_invalid", f"{self.path} is damaged: {exc}",
                               hint="move it aside; installed entries stay in the IDE files") from None

    def save(self, registry: Registry) -> None:
        from synapsed.paths import write_atomic

        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(self.path, msgspec.json.format(msgspec.json.encode(registry)).decode() + "\n")

    def find(self, key: tuple[str, str, str, str]) -> Install | None:
        return next((i for i in self.load().installs if i.key == key), None)

    def replace(self, record: Install, keep: bool) -> None:
        """Drop the entry with `record`'s key and, with `keep`, store `record` in its place."""
        registry = self.load()
        registry.installs = [i for i in registry.installs if i.key != record.key] + ([record] if keep else [])
        self.save(registry)
