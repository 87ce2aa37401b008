"""structlog setup: JSON lines to a rotating file, stderr for journald/launchd (human on a TTY).

stdlib records (aiohttp, mcp, asyncio) go through the same chain. Redaction is the last
processor before rendering, and the rendered line is scrubbed once more as a final net.
Tracebacks are rendered without local variables: locals are where keys live.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import structlog
from structlog.tracebacks import ExceptionDictTransformer

from synapsed.redaction import redact_text, redact_value

LOG_MAX_BYTES = 10 * 1024 * 1024
LOG_BACKUPS = 5
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def redact_event(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> dict[str, Any]:
    """structlog processor: scrub every value, recursively, including rendered exceptions."""
    redacted: dict[str, Any] = redact_value(event)
    return redacted


class _ScrubbingFormatter(structlog.stdlib.ProcessorFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


def _shared_chain() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _formatter(renderer: Any, exceptions: Any) -> logging.Formatter:
    return _ScrubbingFormatter(
        foreign_pre_chain=_shared_chain(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            exceptions,
            redact_event,
            renderer,
        ],
    )


def configure(level: str = "info", log_file: Path | None = None, human: bool | None = None) -> None:
    """Install handlers on the root logger; safe to call again (e.g. to change the level)."""
    if human is None:
        human = sys.stderr.isatty()
    json_exceptions = structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False))
    stderr_handler = logging.StreamHandler(sys.stderr)
    if human:
        stderr_handler.setFormatter(
            _formatter(structlog.dev.ConsoleRenderer(colors=False), structlog.processors.format_exc_info)
        )
    else:
        stderr_handler.setFormatter(_formatter(structlog.processors.JSONRenderer(), json_exceptions))
    handlers: list[logging.Handler] = [stderr_handler]
    if log_file is not None:
        file_handler = logging.handlers.RotatingFileHandler(
            log_file, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
        )
        os.chmod(log_file, 0o600)
        file_handler.setFormatter(_formatter(structlog.processors.JSONRenderer(), json_exceptions))
        handlers.append(file_handler)

    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    for handler in handlers:
        root.addHandler(handler)
    set_level(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.captureWarnings(True)

    structlog.configure(
        # filter_by_level first: a disabled level costs one check, not the whole chain.
        processors=[structlog.stdlib.filter_by_level, *_shared_chain(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def set_level(level: str) -> None:
    logging.getLogger().setLevel(LEVELS.get(level, logging.INFO))


def get_logger(name: str = "synapsed") -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
