"""Where synapse keeps its files, and the permission rules for them.

Linux: XDG config/state dirs; socket in $XDG_RUNTIME_DIR/synapse, else /tmp/synapse-$UID.
macOS: ~/Library/Application Support/synapse, logs in ~/Library/Logs/synapse.
SYNAPSE_HOME=DIR puts everything under DIR (tests and side-by-side instances).
Imported by synapsectl: keep it stdlib + platformdirs only.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, TextIO, TypeVar

from synapsed.errors import SynapseError

T = TypeVar("T")

APP = "synapse"
HOME_ENV = "SYNAPSE_HOME"
# sockaddr_un.sun_path is 108 bytes on Linux, 104 on macOS (including the NUL).
MAX_SOCKET_PATH = 103 if sys.platform == "darwin" else 107


class Paths(NamedTuple):
    """Where everything lives. A NamedTuple, not a dataclass: `dataclasses` imports `inspect`,
    about 10 ms of synapsectl's start-up."""

    config_dir: Path
    state_dir: Path
    log_dir: Path
    runtime_dir: Path
    # The explicit home (--home or $SYNAPSE_HOME) everything sits under; None for platform
    # defaults. IDE snippets must carry it so the bridge finds this daemon.
    home: Path | None = None

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "synapsed.log"

    @property
    def socket(self) -> Path:
        return self.runtime_dir / "synapsed.sock"

    @property
    def mcp_socket(self) -> Path:
        """Newline-delimited MCP for the stdio bridge (socket permissions + peer uid, no token)."""
        return self.runtime_dir / "mcp.sock"

    @property
    def lock_file(self) -> Path:
        return self.runtime_dir / "synapsed.lock"

    @property
    def ledger_file(self) -> Path:
        return self.state_dir / "usage.sqlite3"

    @property
    def threads_file(self) -> Path:
        return self.state_dir / "threads.sqlite3"

    @property
    def token_file(self) -> Path:
        return self.state_dir / "mcp.token"


def resolve(home: str | os.PathLike[str] | None = None) -> Paths:
    """The paths for an explicit home, $SYNAPSE_HOME, or the platform defaults."""
    home = home or os.environ.get(HOME_ENV) or None
    if home:
        root = Path(home).expanduser().absolute()
        return Paths(root, root / "state", root / "state", root / "run", home=root)
    import platformdirs

    if sys.platform == "darwin":
        support = Path(platformdirs.user_data_dir(APP, appauthor=False))
        return Paths(support, support, Path(platformdirs.user_log_dir(APP, appauthor=False)), support / "run")
    state = Path(platformdirs.user_state_dir(APP, appauthor=False))
    return Paths(
        Path(platformdirs.user_config_dir(APP, appauthor=False)),
        state,
        state,
        _linux_runtime_dir(),
    )


def _linux_runtime_dir() -> Path:
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / APP
    return Path(f"/tmp/{APP}-{os.getuid()}")


def ensure_private_dir(path: Path) -> None:
    """Create `path` (and parents) 0700; refuse one that another user owns or others can write."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise SynapseError(
            "permission_denied",
            f"{path} is not a directory",
            hint="remove it or point SYNAPSE_HOME elsewhere",
        )
    if st.st_uid != os.getuid():
        raise SynapseError(
            "permission_denied",
            f"{path} is owned by uid {st.st_uid}, not by you (uid {os.getuid()})",
            hint="another user may be trying to intercept the socket; remove the directory or set XDG_RUNTIME_DIR",
        )
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)


def check_socket_path(path: Path) -> None:
    """A Unix socket address is capped by sun_path; past it, bind and connect fail with a bare
    "AF_UNIX path too long". The daemon and its clients both say which path and what to do."""
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise SynapseError(
            "config_invalid",
            f"socket path {path} is longer than the OS allows ({MAX_SOCKET_PATH} bytes)",
            hint="use a shorter SYNAPSE_HOME or XDG_RUNTIME_DIR",
            path=str(path),
        )


def ensure_layout(paths: Paths) -> None:
    for directory in {paths.config_dir, paths.state_dir, paths.log_dir, paths.runtime_dir}:
        ensure_private_dir(directory)
    check_socket_path(paths.socket)
    check_socket_path(paths.mcp_socket)


_WRITE_HINTS = {
    errno.ENOSPC: "the disk is full: free space on the file system that holds {dir}",
    errno.EDQUOT: "your disk quota is used up: free space under {dir}",
    errno.EROFS: "{dir} is on a read-only file system: remount it read-write or point SYNAPSE_HOME elsewhere",
    errno.EACCES: "no permission to write in {dir}: it must belong to you (chmod 700 {dir})",
    errno.EPERM: "no permission to write in {dir}: it must belong to you (chmod 700 {dir})",
}


def write_failed(path: Path, exc: OSError) -> SynapseError:
    """A failed write of one of our files as a typed error whose hint names the path."""
    hint = _WRITE_HINTS.get(exc.errno or 0, "check that {dir} exists, belongs to you and has free space")
    return SynapseError(
        "write_failed",
        f"cannot write {path}: {exc.strerror or exc}",
        hint=hint.format(dir=path.parent),
        path=str(path),
        errno=errno.errorcode.get(exc.errno or 0, str(exc.errno)),
    )


def write_atomic(path: Path, data: str, mode: int = 0o600) -> None:
    """Replace `path` with `data` (0600 unless told) so that a crash leaves the old or the new
    file, nothing else. A failed write raises `write_failed` and leaves the old file in place."""
    try:
        _write_atomic(path, data, mode)
    except OSError as exc:
        raise write_failed(path, exc) from None


def _write_atomic(path: Path, data: str, mode: int) -> None:
    replace_with(path, lambda handle: handle.write(data), mode)


def replace_with(path: Path, fill: Callable[[TextIO], T], mode: int = 0o600, newline: str | None = None) -> T:
    """Write a new file beside `path` with `fill`, then rename it over `path`: a crash leaves the
    old or the new file, and a symlink at `path` is replaced, never followed. OSError on failure."""
    import tempfile  # ~5 ms at import; only writes need it

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as handle:
            os.fchmod(handle.fileno(), mode)
            result = fill(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return result
