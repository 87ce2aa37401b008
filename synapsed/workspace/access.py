"""Which files a tool call may read: only inside the calling client's MCP roots (or, for a client
that declares none, inside `[context] allow`), decided on the real path, and never the daemon's
own files, secrets by name, or anything that is not a regular file.

An allow-list of roots, not a deny-list of paths: peers that checked paths against a deny-list
(pal-mcp-server, its issues #293 and #312) could be walked out of. Every refusal is
`file_refused` with the reason, before anything is read or sent.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import stat
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from synapsed.errors import SynapseError

# Secrets by name, matched against the file's name (any directory), and directories whose every
# file is secret. `[context] allow_names` lets a name through on purpose.
SECRET_NAMES = (".env", ".env.*", "*.pem", "*.key", "*.p12", "*.pfx", "id_rsa*", "id_dsa*", "id_ecdsa*",
                "id_ed25519*", ".netrc", "_netrc", ".npmrc", ".pypirc", ".git-credentials", ".pgpass",
                "credentials.json", "application_default_credentials.json", "*service-account*.json",
                "*service_account*.json")
SECRET_DIRS = (".ssh", ".gnupg")
# (directory, file name) pairs: the AWS CLI's and Docker's credential files.
SECRET_PAIRS = ((".aws", "credentials"), (".aws", "config"), (".docker", "config.json"), (".kube", "config"))
# Kernel and device trees: their "files" are not files (they block, or say the process's secrets).
SYSTEM_TREES = (Path("/proc"), Path("/sys"), Path("/dev"))
OWN_FILES = "it is one of synapsed's own files (config, token, ledger, a connection's key file)"


def refused(reason: str, ref: str, hint: str | None = None) -> SynapseError:
    return SynapseError("file_refused", f"{ref[:300]}: {reason}", hint=hint, path=ref[:300], reason=reason)


Identities = tuple[tuple[tuple[int, int], Path], ...]


@dataclass(frozen=True)
class Scope:
    """Where this call may read: real (symlink-free) directories, and where they came from."""

    roots: tuple[Path, ...]
    source: str  # "roots" (the client's MCP roots) or "config" ([context] allow)
    forbidden: tuple[Path, ...] = ()  # the daemon's own directories
    allow_names: tuple[str, ...] = ()
    own: Identities = ()  # the forbidden paths that exist, by (device, inode): read once a call

    @property
    def first(self) -> Path | None:
        return self.roots[0] if self.roots else None


def roots_from_uris(uris: Iterable[str]) -> list[Path]:
    """The directories of a roots/list answer: file:// URIs only (others name no local path)."""
    paths = []
    for uri in uris:
        parsed = urllib.parse.urlsplit(uri)
        if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
            continue
        path = urllib.parse.unquote(parsed.path)
        if path and os.path.isabs(path) and "\x00" not in path:
            paths.append(Path(path))
    return paths


def scope(roots: Sequence[Path], source: str, forbidden: Sequence[Path] = (), allow_names: Sequence[str] = ()) -> Scope:
    """A root that is itself a symlink counts as its target."""
    real = tuple(dict.fromkeys(Path(os.path.realpath(r)) for r in roots))
    own = tuple(Path(os.path.realpath(f)) for f in forbidden)
    return Scope(real, source, own, tuple(allow_names), identities(own))


def identities(paths: Iterable[Path]) -> Identities:
    found = []
    for path in paths:
        try:
            found.append((_identity(os.stat(path)), path))
        except OSError:
            continue  # not there: nothing of it to read
    return tuple(found)


def candidate(ref: str, where: Scope) -> Path:
    """The path a `files` entry names: absolute, a file:// URI, or relative to the first root."""
    if not ref or "\x00" in ref:
        raise refused("not a path", repr(ref))
    if ref.startswith("file:"):
        found = roots_from_uris([ref])
        if not found:
            raise refused("not a local file:// URI", ref)
        return found[0]
    path = Path(ref).expanduser() if ref.startswith("~") else Path(ref)
    if path.is_absolute():
        return path
    if where.first is None:
        raise refused("a relative path needs a root to resolve against", ref)
    return where.first / path


def _inside(path: Path, directory: Path) -> bool:
    return path == directory or path.is_relative_to(directory)


def _named(name: str, pattern: str) -> bool:
    # Without regard to case: macOS volumes are case-insensitive by default, so `.ENV` opens
    # `.env` there and `~/.SSH/id_rsa` is `~/.ssh/id_rsa`. Elsewhere this refuses a little more.
    return fnmatch.fnmatchcase(name.casefold(), pattern.casefold())


def _secret_name(path: Path, allow_names: Sequence[str]) -> str | None:
    name = path.name
    if any(_named(name, allowed) for allowed in allow_names):
        return None
    for pattern in SECRET_NAMES:
        if _named(name, pattern):
            return f"its name looks like a secret ({pattern})"
    parts = [part.casefold() for part in path.parts]
    for directory in SECRET_DIRS:
        if directory in parts[:-1]:
            return f"it is inside a {directory} directory"
    for directory, file in SECRET_PAIRS:
        if parts[-1] == file and len(parts) > 1 and parts[-2] == directory:
            return f"it is a credentials file ({directory}/{file})"
    return None


def _identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def _own(real: Path, st: os.stat_result, own: Identities) -> bool:
    """Whether `real` is one of the daemon's own files by identity, not by spelling: under one of
    its directories reached by another name (a differently cased path on a case-insensitive
    volume, a bind mount), or a hard link to one of its files."""
    own_ids = dict(own)
    if not own_ids:
        return False
    for parent in (real, *real.parents):
        try:
            if _identity(os.stat(parent)) in own_ids:
                return True
        except OSError:
            return False
    # A hard link lives anywhere; only a file with more than one name can be one.
    return st.st_nlink > 1 and _identity(st) in _file_ids(own_ids.values())


# How many entries of the daemon's own directories are looked at for a hard-linked file, at most.
MAX_OWN_ENTRIES = 10_000


def _file_ids(directories: Iterable[Path]) -> set[tuple[int, int]]:
    ids: set[tuple[int, int]] = set()
    seen = 0
    for top in directories:
        if not top.is_dir():
            with contextlib.suppress(OSError):
                ids.add(_identity(os.stat(top)))  # a connection's key file
            continue
        for folder, _dirs, files in os.walk(top):
            for name in files:
                seen += 1
                if seen > MAX_OWN_ENTRIES:
                    return ids
                try:
                    ids.add(_identity(os.stat(os.path.join(folder, name), follow_symlinks=False)))
                except OSError:
                    continue
    return ids


def check(ref: str, where: Scope) -> Path:
    """The real path of `ref`, or file_refused saying why not. Reading comes after (reading.py),
    which checks again on the open file that it is the same regular file."""
    if not where.roots:
        raise refused("this client declared no workspace roots and [context] allow is empty", ref,
                      hint="use a client that declares MCP roots (most IDEs do), or list the directories "
                           'agents may send from in config.toml: [context] allow = ["~/src"]')
    real = Path(os.path.realpath(candidate(ref, where)))
    if any(_inside(real, tree) for tree in SYSTEM_TREES):
        raise refused("it is in a kernel or device tree (/proc, /sys, /dev)", ref)
    if not any(_inside(real, root) for root in where.roots):
        known = "the client's roots" if where.source == "roots" else "[context] allow"
        raise refused(f"it is outside {known} (after resolving symlinks and ..: {real})", ref,
                      hint="only files inside " + ", ".join(str(r) for r in where.roots[:5]) + " may be sent")
    if any(_inside(real, own) for own in where.forbidden):
        raise refused(OWN_FILES, ref)
    secret = _secret_name(real, where.allow_names)
    if secret is not None:
        raise refused(secret, ref, hint='if it holds nothing secret, allow its name in config.toml: '
                                         f'[context] allow_names = ["{real.name}"]')
    try:
        st = os.stat(real)
    except FileNotFoundError:
        raise refused("no such file", ref) from None
    except OSError as exc:
        raise refused(f"cannot be read ({exc.strerror})", ref) from None
    if not stat.S_ISREG(st.st_mode):
        kind = ("a directory" if stat.S_ISDIR(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise refused(f"it is {kind}, not a regular file", ref)
    if _own(real, st, where.own):
        raise refused(OWN_FILES, ref)
    return real
