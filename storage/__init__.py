"""All Redis access: one key scheme, async only, the same code (Lua included) on memory:// and Redis."""

from storage.connection import connect, connect_hot
from storage.keys import Keys

__all__ = ["Keys", "connect", "connect_hot"]
