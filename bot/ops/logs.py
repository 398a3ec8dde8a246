"""Structured logs: one JSON object a line. Messages carry hashed openids only (hash_openid below)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from datetime import UTC, datetime

from aiohttp.http_exceptions import HttpProcessingError


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "worker": os.getpid(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def hash_openid(openid: str) -> str:
    """For logs: enough to correlate lines, not enough to find the user."""
    return hashlib.sha256(openid.encode()).hexdigest()[:12]


class ClientErrorsWithoutTraceback(logging.Filter):
    """aiohttp logs a malformed request (a 20 KB query, a bad header) at ERROR with a traceback, so anyone
    could fill the log: such a record becomes one INFO line naming the error. Server faults stay as they are."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.msg, record.args = "bad HTTP request refused (%s): %s", (type(error).__name__, error.message[:120])
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def quiet_client_errors() -> None:
    logger = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, ClientErrorsWithoutTraceback) for f in logger.filters):
        logger.addFilter(ClientErrorsWithoutTraceback())
