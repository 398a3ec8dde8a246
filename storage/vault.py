"""Personal data at rest: a keyed HMAC-SHA256 index for lookups, AES-GCM ciphertext for the value."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = b"\x01"
# Sealed values are our own JSON, trees of plain values: written compact with no cycle check, read straight
# (json.loads of bytes detects the encoding and strips whitespace first). JSONEncoder.encode builds its C
# encoder anew on every call, most of the cost of a small record: the C encoder is made once, with the same
# settings (json.dumps(ensure_ascii=False, separators=(",", ":"))), where the interpreter has one.
_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
_c_encoder = json.encoder.c_make_encoder and json.encoder.c_make_encoder(
    None, _encoder.default, json.encoder.encode_basestring, None, ":", ",", False, False, True)
_decode = json.JSONDecoder().raw_decode


def compact_json(value: Any) -> str:
    if _c_encoder is None:
        return _encoder.encode(value)
    return "".join(_c_encoder(value, 0))


def read_json(raw: bytes) -> Any:
    """The value of JSON that is one value and nothing else; ValueError otherwise (bad UTF-8 included)."""
    text = raw.decode()
    value, end = _decode(text)
    if end != len(text):
        raise ValueError("data after the JSON value")
    return value


class SealError(ValueError):
    """Ciphertext that is not ours, or was tampered with."""


class _Nonces:
    """AES-GCM nonces: 96 random bits each from the OS's generator, read 256 at a time. One getrandom() system
    call per seal cost a dialog step ~5 % of its server time on this machine (py-spy under wrk); the nonces are
    as random either way. A forked child drops what it inherited, so no two processes share one; pop() is
    atomic, so threads never share one either."""

    BATCH = 256

    def __init__(self) -> None:
        self._pool: list[bytes] = []
        os.register_at_fork(after_in_child=self._pool.clear)

    def next(self) -> bytes:
        try:
            return self._pool.pop()
        except IndexError:
            fresh = os.urandom(12 * self.BATCH)
            self._pool.extend([fresh[i:i + 12] for i in range(12, len(fresh), 12)])
            return fresh[:12]


_nonce = _Nonces().next


class Vault:
    def __init__(self, index_key: bytes, data_key: bytes) -> None:
        self._index_key = index_key
        self._aead = AESGCM(data_key)

    def index(self, kind: str, value: str) -> str:
        """A stable, keyed pseudonym: equal inputs give equal indexes, and nothing can be read back."""
        return hmac.new(self._index_key, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()

    def seal(self, plaintext: bytes, context: str = "") -> bytes:
        nonce = _nonce()
        return VERSION + nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def open(self, sealed: bytes, context: str = "") -> bytes:
        if len(sealed) < 29 or sealed[:1] != VERSION:
            raise SealError("not a sealed value")
        try:
            return self._aead.decrypt(sealed[1:13], sealed[13:], context.encode())
        except InvalidTag:
            raise SealError("sealed value failed authentication") from None

    def seal_json(self, value: Any, context: str = "") -> bytes:
        return self.seal(compact_json(value).encode(), context)

    def open_json(self, sealed: bytes, context: str = "") -> Any:
        return read_json(self.open(sealed, context))
