"""Dev mode's store, shared: the dev server keeps its in-memory Redis (fakeredis) on a loopback port and says
where in `.healthbot-dev/server.toml`, so `healthbot admin …` and `healthbot verify` of the same checkout open
the very store the server uses. Nothing is written to disk but that address; it all goes when the server stops.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import tomllib
from pathlib import Path

from bot.ops.config import STANDIN_PATH, ConfigError, Settings
from storage.connection import serve_embedded

STATE = "server.toml"


def serve_dev_store(settings: Settings) -> None:
    """Start the store on a free loopback port and point `settings` (this process) at it."""
    url = serve_embedded()
    settings.redis.url = url
    state = Path(settings.dev_dir) / STATE
    state.write_text(f'redis_url = "{url}"\npublic_url = "{settings.public_url}"\npid = {os.getpid()}\n',
                     encoding="utf-8")

    def forget() -> None:
        with contextlib.suppress(OSError, tomllib.TOMLDecodeError):
            if tomllib.loads(state.read_text(encoding="utf-8")).get("pid") == os.getpid():
                state.unlink()

    atexit.register(forget)


def attach_dev_store(settings: Settings) -> None:
    """Point a dev-mode command at the running dev server's store, or say plainly why it cannot."""
    state = Path(settings.dev_dir) / STATE
    try:
        found = tomllib.loads(state.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        raise ConfigError("dev mode keeps its data in the dev server: start `healthbot serve` (in this folder) "
                          "first") from None
    settings.redis.url = str(found["redis_url"])
    settings.server.public_url = str(found["public_url"])
    settings.wechat.api_base = settings.public_url + STANDIN_PATH  # the server's port, whatever --port said
