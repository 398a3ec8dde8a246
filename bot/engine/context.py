"""What a handler sees: the message, the user's dialog state, and the services it may use."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from bot.engine.prefs import DEFAULT, Prefs
from bot.wechat.inbound import Inbound
from bot.wechat.replies import Reply, Text
from storage.writes import Write

if TYPE_CHECKING:
    from bot.engine.services import Services
    from bot.ops.templates import Templates
    from storage.profiles import Profile
    from storage.relatives import Relative

class OpenDialog(Protocol):
    """What a handler may do with the dialog a user is in (bot.engine.dialogs.Dialog, which imports this)."""

    def view(self, ctx: Context, data: Mapping[str, Any], /) -> Mapping[str, Any]: ...

    async def accept(self, ctx: Context, value: Any) -> Reply: ...


@dataclass
class DialogState:
    dialog: str = ""
    step: str = ""
    history: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    expired: str = ""

    def start(self, dialog: str, step: str, data: dict[str, Any] | None = None) -> None:
        self.dialog, self.step, self.history, self.data = dialog, step, [], dict(data or {})

    def clear(self) -> None:
        self.dialog, self.step, self.history, self.data = "", "", [], {}


@dataclass
class Context:
    message: Inbound
    services: Services
    state: DialogState
    match: re.Match[str] | None = None
    route: str = ""
    prefetched_profile: dict[bytes, bytes] | None = None
    read_with_turn: dict[str, dict[bytes, bytes]] = field(default_factory=dict)
    later: list[Reply] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)  # what the turn's end writes (write_with_turn)
    # Set by the dispatcher inside a dialog: the service this text names, if it is one (a keyword or command).
    service_named: Callable[[], Awaitable[Reply] | None] = lambda: None
    dialogs: Mapping[str, OpenDialog] = field(default_factory=dict)  # every dialog by name (the dispatcher's)
    # Set by the dispatcher: the reply to `text` as if the user had typed it (长辈模式's numbered menu).
    run_text: Callable[[str], Awaitable[Reply]] | None = None
    # Put here by the route's filters (bot/engine/filters.py).
    _claimed: Profile | None = None
    relatives: Sequence[Relative] = ()
    prefs: Prefs = DEFAULT  # the user's language and 长辈模式, read with the turn
    glance: bool = False  # begun without the user's lock (storage.turns): it takes it at the end if it writes

    @property
    def claimed(self) -> Profile:
        """The user's own profile, for a route with the Claimed filter."""
        if self._claimed is None:
            raise LookupError("the route has no Claimed filter")
        return self._claimed

    @claimed.setter
    def claimed(self, profile: Profile) -> None:
        self._claimed = profile

    async def profile(self) -> Profile | None:
        """The user's claimed profile: from the turn script's read when there is one, else from Redis."""
        if self.prefetched_profile is not None:
            return self.services.codes.profiles.decode(self.openid, self.prefetched_profile)
        return await self.services.codes.profiles.load(self.openid)

    async def read_hash(self, key: str) -> dict[bytes, bytes]:
        """A hash of this user's. A read of one the turn script already read (TurnKeys.reads) takes that copy,
        every time: no one else writes the user's keys while the turn holds the lock, and a handler that writes
        one calls `wrote` first, after which reads go to Redis."""
        if (copy_at_start := self.read_with_turn.get(key)) is not None:
            return copy_at_start
        return await self.services.turns.read_hash(key)

    def follow_up(self, reply: Reply) -> None:
        """Send `reply` by customer-service message once the passive reply is out (it can carry only one)."""
        self.later.append(reply)

    def with_turn(self, write: Write) -> None:
        """A write of one of this user's keys (a store makes it), done in the script that ends the turn: no round
        trip of its own, and nothing written if the turn cannot finish. A read later in the same turn still sees
        the old value."""
        self.writes.append(write)

    async def write_with_turn(self, writes: list[Write]) -> None:
        """Writes of any keys, with the turn's end as with_turn's. On a cluster, keys outside the user's slot
        cannot join the turn's script: there they are written now, and this waits for them."""
        if self.services.turns.one_node:
            self.writes += writes
        else:
            await self.services.writer.apply(writes)

    def wrote(self, key: str) -> None:
        """This turn changes `key`: a read after this must not take the turn script's copy."""
        self.read_with_turn.pop(key, None)

    @property
    def openid(self) -> str:
        return self.message.openid

    @property
    def lang(self) -> str:
        return self.prefs.lang

    @property
    def templates(self) -> Templates:
        """The user's texts: their language, in 长辈模式's wording when it is on."""
        return self.prefs.texts(self.services.texts)

    def prefer(self, prefs: Prefs) -> None:
        """Keep `prefs` for the user, written with the turn; this turn's replies already use them."""
        self.prefs = prefs
        self.with_turn(Write("SET", self.services.keys.prefs(self.openid), (prefs.encode(),)))

    def render(self, template: str, /, **values: Any) -> str:
        return self.templates.render(template, **values)

    def text(self, template: str, /, **values: Any) -> Text:
        return Text(self.render(template, **values))

    def now(self) -> datetime:
        return self.services.clock.now()
