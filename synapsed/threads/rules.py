"""The rules of a thread: ids, one turn at a time, caps that fail loudly, retention, views.

`Threads.begin` claims a thread for one turn (or refuses with `thread_busy`) and hands back its
history; `TurnClaim.commit` stores the exchange. Nothing here calls a provider: the MCP tools
put history + new messages through the gateway in between, so a thread is continued by any
connection and a failed call leaves the thread exactly as it was.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from synapsed import protocol as p
from synapsed.config.schema import ThreadSettings
from synapsed.errors import SynapseError
from synapsed.logging import get_logger
from synapsed.paths import write_failed
from synapsed.redaction import redact_text
from synapsed.threads.store import ThreadHead, ThreadStore, Turn, TurnMeta

log = get_logger("synapsed.threads")

NEW = "new"
ID_PATTERN = r"^th-[0-9a-f]{16}$"  # anchored for JSON Schema; checked with fullmatch (`$` allows a final newline)
_ID_RE = re.compile(ID_PATTERN)
TRIM_HINT = "start a new thread (thread: \"new\"), or drop old turns with `synapsectl threads trim {id} --keep N`"
PRUNE_EVERY_S = 3600.0


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def check_id(thread_id: str) -> str:
    if not _ID_RE.fullmatch(thread_id):
        raise SynapseError("bad_request", f"{thread_id[:40]!r} is not a thread id",
                           hint="thread ids look like th-0123456789abcdef; `synapsectl threads list` shows them",
                           field="thread")
    return thread_id


def too_long(thread_id: str, message: str) -> SynapseError:
    return SynapseError("context_too_long", message, hint=TRIM_HINT.format(id=thread_id), thread_id=thread_id)


@dataclass
class TurnClaim:
    """One turn in progress: the thread's state when it was claimed."""

    id: str
    is_new: bool
    system: str | None
    history: list[p.Message]
    chars: int
    _release: Callable[[str], None]
    _store: ThreadStore
    _released: bool = field(default=False)

    def commit(self, system: str | None, added: list[p.Message], answer: p.Message, meta: TurnMeta) -> int:
        """Store the exchange before the reply leaves; write_failed if the disk refuses it.

        A loaded key value never lands on disk, even when a model or a user repeats it."""
        def scrub(m: p.Message) -> p.Message:
            return p.Message(m.role, redact_text(m.content, patterns=False))

        try:
            return self._store.append(self.id, system and redact_text(system, patterns=False),
                                      [scrub(m) for m in added], scrub(answer), meta)
        except sqlite3.Error as exc:
            log.error("thread turn could not be stored", thread=self.id, error=str(exc))
            raise write_failed(self._store.path, OSError(str(exc))) from None

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._release(self.id)


class Threads:
    def __init__(self, store: ThreadStore, settings: Callable[[], ThreadSettings]) -> None:
        self.store = store
        self._settings = settings
        self._busy: set[str] = set()
        self._last_prune = 0.0

    @property
    def settings(self) -> ThreadSettings:
        return self._settings()

    # ---- one turn ------------------------------------------------------------------------------

    def begin(self, thread: str) -> TurnClaim:
        """Claim `thread` ("new" or an id) for one turn; release it in a finally."""
        settings = self._enabled()
        self.prune()
        if thread == NEW:
            thread_id = "th-" + secrets.token_hex(8)
            self._busy.add(thread_id)
            return TurnClaim(thread_id, True, None, [], 0, self._busy.discard, self.store)
        head = self._head(check_id(thread))
        self._not_busy(head.id, "; this one was not sent")
        if head.last_turn >= settings.max_turns:
            raise too_long(head.id, f"thread {head.id} has reached its cap of {settings.max_turns} turns "
                           "([threads] max_turns); nothing was sent")
        self._busy.add(head.id)
        try:
            history = self.store.history(head.id)
        except BaseException:
            self._busy.discard(head.id)
            raise
        return TurnClaim(head.id, False, head.system, history, head.chars, self._busy.discard, self.store)

    def context(self, thread: str) -> tuple[str, str | None, list[p.Message]]:
        """Read-only history (for compare): id, system, messages."""
        self._enabled()
        head = self._head(check_id(thread))
        return head.id, head.system, self.store.history(head.id)

    def check_size(self, claim: TurnClaim, added_chars: int) -> None:
        """The thread's cap on characters, checked before anything is sent."""
        limit = self.settings.max_chars
        if claim.chars + added_chars > limit:
            raise too_long(claim.id, f"thread {claim.id} would hold {claim.chars + added_chars} characters, over its "
                           f"cap of {limit} ([threads] max_chars); nothing was sent")

    def check_answer(self, claim: TurnClaim, added_chars: int, answer_chars: int) -> None:
        """The same cap on the answer, once it is in: a turn that would pass it is not stored
        (never cut), and the caller gets the answer with the refusal."""
        limit = self.settings.max_chars
        total = claim.chars + added_chars + answer_chars
        if total > limit:
            raise too_long(claim.id, f"the answer ({answer_chars} characters) would take thread {claim.id} to {total} "
                           f"characters, over its cap of {limit} ([threads] max_chars); this turn was not stored")

    def _enabled(self) -> ThreadSettings:
        settings = self.settings
        if not settings.enabled:
            raise SynapseError("bad_request", "conversation threads are turned off on this machine",
                               hint="omit `thread`, or set [threads] enabled = true in config.toml", field="thread")
        return settings

    def _not_busy(self, thread_id: str, consequence: str = "", hint: str | None = None) -> None:
        if thread_id in self._busy:
            raise SynapseError("thread_busy", f"thread {thread_id} has a turn in flight{consequence}", hint=hint,
                               thread_id=thread_id)

    def _head(self, thread_id: str) -> ThreadHead:
        head = self.store.head(thread_id)
        if head is None:
            raise SynapseError("not_found", f"no thread {thread_id}",
                               hint="it was deleted or expired; `synapsectl threads list` shows the kept ones, "
                               "or pass thread: \"new\"", thread_id=thread_id)
        return head

    # ---- retention ------------------------------------------------------------------------------

    def prune(self, now: float | None = None, force: bool = False) -> int:
        """Delete threads past [threads] retention_days (at most hourly unless forced)."""
        now = time.time() if now is None else now
        days = self.settings.retention_days
        if days == 0 or (not force and now - self._last_prune < PRUNE_EVERY_S):
            return 0
        self._last_prune = now
        deleted = self.store.delete_before(now - days * 86400)
        if deleted:
            log.info("expired threads deleted", deleted=deleted, retention_days=days)
        return deleted

    # ---- views ---------------------------------------------------------------------------------

    def summaries(self, limit: int, offset: int = 0) -> p.ThreadList:
        heads = self.store.heads(limit, offset)
        return p.ThreadList(enabled=self.settings.enabled, total=self.store.count(), threads=[
            p.ThreadSummary(id=h.id, created_at=_iso(h.created), updated_at=_iso(h.updated), turns=h.turns,
                            chars=h.chars, title=h.title, last_connection=h.last_connection)
            for h in heads
        ])

    def view(self, thread_id: str) -> p.ThreadView:
        head = self._head(check_id(thread_id))
        return p.ThreadView(id=head.id, created_at=_iso(head.created), updated_at=_iso(head.updated), chars=head.chars,
                            system=head.system, turns=[_turn_view(t) for t in self.store.turns(head.id)])

    def delete(self, thread_id: str) -> bool:
        self._not_busy(check_id(thread_id), hint="wait for the turn to finish, then delete it")
        return self.store.delete(thread_id)

    def clear(self, before: float | None) -> int:
        if self._busy:
            raise SynapseError("thread_busy", f"{len(self._busy)} thread turn(s) are in flight",
                               hint="wait for them to finish, then clear")
        return self.store.delete_before(before)

    def trim(self, thread_id: str, keep: int) -> p.ThreadTrimResult:
        if keep < 0:
            raise SynapseError("bad_request", "keep must be 0 or more", field="keep")
        head = self._head(check_id(thread_id))
        self._not_busy(head.id)
        removed = self.store.trim(head.id, keep)
        return p.ThreadTrimResult(id=head.id, removed_turns=removed, kept_turns=head.turns - removed)


def _turn_view(turn: Turn) -> p.ThreadTurnView:
    return p.ThreadTurnView(turn=turn.turn, time=_iso(turn.ts), connection=turn.meta.connection,
                            provider=turn.meta.provider, model=turn.meta.model, caller=turn.meta.caller,
                            messages=turn.messages)


def as_markdown(view: p.ThreadView) -> str:
    lines = [f"# Thread {view.id}", "", f"Started {view.created_at}; last turn {view.updated_at}."]
    if view.system:
        lines += ["", "## System", "", view.system]
    for turn in view.turns:
        lines += ["", f"## Turn {turn.turn} — {turn.connection} ({turn.provider} / {turn.model}), {turn.time}"]
        for message in turn.messages:
            who = "User" if message.role == "user" else "Assistant"
            lines += ["", f"**{who}:**", "", message.content]
    return "\n".join(lines) + "\n"


def as_jsonl(view: p.ThreadView) -> str:
    """One JSON object per message, each carrying its turn's metadata."""
    out = []
    if view.system:
        out.append(json.dumps({"thread_id": view.id, "role": "system", "content": view.system}))
    for turn in view.turns:
        for message in turn.messages:
            out.append(json.dumps({
                "thread_id": view.id, "turn": turn.turn, "time": turn.time, "connection": turn.connection,
                "provider": turn.provider, "model": turn.model, "role": message.role, "content": message.content,
            }, ensure_ascii=False))
    return "\n".join(out) + ("\n" if out else "")
