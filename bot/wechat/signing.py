"""WeChat's SHA-1 signatures over sorted strings, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac


def wechat_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324 - the protocol's own scheme


def signature_ok(expected_from_request: str | None, *parts: str) -> bool:
    if not expected_from_request:
        return False
    computed = wechat_signature(*parts)
    return hmac.compare_digest(computed.encode(), expected_from_request.strip().lower().encode())
