"""All Redis access: one key scheme, async only, the same code (Lua included) on memory:// and Redis."""

from storage.connection import Pipeline, RedisError, connect, connect_hot, reachable, write_batch
from storage.keys import Keys

__all__ = ["Keys", "Pipeline", "RedisError", "connect", "connect_hot", "reachable", "write_batch"]
