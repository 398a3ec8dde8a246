"""Strings unique to one process and one call: a random prefix per process and a counter.

They tell our own records apart (a turn's lock, two visits in the same microsecond) and guard nothing secret,
so they need no call for randomness each time (os.urandom is a system call)."""

from __future__ import annotations

import itertools
import os
import secrets


class _Unique:
    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)  # a forked worker must not repeat its parent's

    def reset(self) -> None:
        self.prefix, self.count = secrets.token_hex(6), itertools.count()

    def next(self) -> str:
        return f"{self.prefix}{next(self.count):x}"


unique_token = _Unique().next
