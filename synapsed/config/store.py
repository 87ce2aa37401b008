"""The live config and its durable, revisioned copy.

The daemon holds the live Config in memory; config.toml is its durable copy. Writes go through
paths.write_atomic (a kill at any instant leaves the old or the new file, never a torn one),
carry the revision they were based on, and a stale one is refused with `conflict`, as is a
write over a hand edit that was not reloaded yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import msgspec

from synapsed.config.parse import _invalid, parse, render
from synapsed.config.schema import Config
from synapsed.errors import SynapseError
from synapsed.paths import write_atomic


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class ConfigStore:
    """The live config plus its durable copy; all writes are serialised through one lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()
        self._config = Config()
        self._stamp: tuple[int, int, int] | None = None

    @property
    def config(self) -> Config:
        return self._config

    def load(self) -> Config:
        """Read the file at start-up, creating a fresh one if there is none."""
        for leftover in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            leftover.unlink(missing_ok=True)  # a temp file a killed daemon never renamed
        if not self.path.exists():
            write_atomic(self.path, render(self._config))
        else:
            self._config = self._read()
            if self.path.stat().st_mode & 0o077:
                self.path.chmod(0o600)  # a hand-made file: ours to keep private
        self._stamp = _stamp(self.path)
        return self._config

    def _read(self) -> Config:
        try:
            text = self.path.read_text(encoding="utf-8")
        except PermissionError:
            raise SynapseError(
                "config_invalid",
                f"cannot read {self.path}",
                hint=f"fix its permissions: chmod 600 {self.path}",
                file=str(self.path),
            ) from None
        except UnicodeDecodeError:
            raise _invalid("not UTF-8 text", str(self.path), None, None) from None
        except OSError as exc:
            raise _invalid(f"cannot read it ({exc.strerror})", str(self.path), None, None) from None
        return parse(text, str(self.path))

    async def reload(self) -> tuple[Config, bool]:
        """Adopt the file's content; an invalid file raises and the running config stays."""
        async with self._lock:
            loaded = await asyncio.to_thread(self._read)
            changed = not loaded.same_content(self._config)
            if changed:
                revision = max(loaded.revision, self._config.revision + 1)
                self._config = msgspec.structs.replace(loaded, revision=revision)
            self._stamp = _stamp(self.path)
            return self._config, changed

    async def mutate(self, change: Callable[[Config], Config], expected_revision: int | None = None) -> Config:
        """Apply `change` to the live config and persist it before returning (the acknowledgement)."""
        async with self._lock:
            current = self._config
            if expected_revision is not None and expected_revision != current.revision:
                raise SynapseError(
                    "conflict",
                    f"config revision is {current.revision}, your change was based on {expected_revision}",
                    revision=current.revision,
                )
            if _stamp(self.path) != self._stamp:
                raise SynapseError(
                    "conflict",
                    f"{self.path} was changed on disk since the daemon last read it",
                    hint="run `synapsectl reload` to adopt the hand edit (or discard it), then retry",
                )
            updated = msgspec.structs.replace(change(current), revision=current.revision + 1)
            await asyncio.to_thread(write_atomic, self.path, render(updated))
            self._config = updated
            self._stamp = _stamp(self.path)
            return updated
