"""Structured logs: one JSON object a line. Messages carry hashed openids only (hash_openid below)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from datetime import UTC, datetime


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
