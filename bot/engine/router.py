"""A declarative router in the style of aiogram 3: each service module builds a Router and decorates handlers."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.wechat.inbound import Inbound, normalize_text
from bot.wechat.replies import Reply

if TYPE_CHECKING:
    from bot.engine.context import Context
    from bot.engine.dialogs import Dialog
    from bot.engine.filters import Filter

Handler = Callable[["Context"], Awaitable[Reply]]
Decorator = Callable[[Handler], Handler]
# Runs before any route or dialog, for every message a user sends: None (a plain function, so that the common
# case costs no coroutine), or an awaitable of the answer to give instead (None there: route as usual).
Before = Callable[["Context"], Awaitable[Reply | None] | None]


@dataclass(frozen=True, slots=True)
class Route:
    handler: Handler
    keywords: frozenset[str] = frozenset()
    pattern: re.Pattern[str] | None = None
    msg_types: frozenset[str] = frozenset()
    events: frozenset[str] = frozenset()
    event_keys: frozenset[str] = frozenset()
    scene_prefix: str = ""
    interrupts: bool = True  # typed inside a dialog where it is no answer, it leaves the dialog for this route
    keeps_dialog: bool = False  # a keyword that answers inside a dialog too, which then asks its step again
    internal: bool = False  # an event healthbot makes itself: only an internal message matches
    reads: tuple[str, ...] = ()  # the user's hashes (storage.keys.UserHash) the handler reads: see RouteTable
    # Usually only looks (one's code, help): its turn begins without the user's lock (storage.turns, "glance").
    glance: bool = False
    filters: tuple[Filter, ...] = ()  # each must pass before the handler runs (bot/engine/filters.py)

    async def run(self, ctx: Context) -> Reply:
        for check in self.filters:
            refused = await check(ctx)
            if refused is not None:
                return refused
        return await self.handler(ctx)

    def match(self, message: Inbound) -> re.Match[str] | bool:
        if message.internal != self.internal or not self.could_match(message.msg_type, message.event):
            return False
        if self.keywords:
            return message.normalized in self.keywords
        if self.pattern is not None:
            return self.pattern.fullmatch(message.normalized) or False
        if self.scene_prefix:
            return scene_of(message).startswith(self.scene_prefix)
        return not self.event_keys or message.event_key in self.event_keys  # msg_types routes have no keys

    def could_match(self, msg_type: str, event: str) -> bool:
        """Whether a message of this type (and event) can match at all, whatever else it holds."""
        if self.keywords or self.pattern is not None:
            return msg_type == "text"
        if self.events:
            return event in self.events
        return msg_type in self.msg_types


@dataclass
class Router:
    name: str
    routes: list[Route] = field(default_factory=list)
    dialogs: list[Dialog] = field(default_factory=list)
    interrupts: bool = True  # False: its keywords (help, greetings) never take a citizen out of a dialog
    keeps_dialog: bool = False  # True: its keywords (a language, 长辈模式) answer inside a dialog and stay in it
    befores: list[Before] = field(default_factory=list)

    def _add(self, when: Filter | None = None, **spec: object) -> Decorator:
        def register(handler: Handler) -> Handler:
            self.routes.append(Route(handler=handler, interrupts=self.interrupts, keeps_dialog=self.keeps_dialog,
                                     filters=(when,) if when else (),
                                     **spec))  # type: ignore[arg-type]
            return handler

        return register

    def keywords(self, *words: str, reads: tuple[str, ...] = (), when: Filter | None = None,
                 glance: bool = False) -> Decorator:
        """Exact keywords, matched after trimming, full-width folding and case folding. `reads`: the user's
        hashes (storage.keys.UserHash) the handler reads, which the turn then reads with it. `when`: a filter
        that must pass first (bot/engine/filters.py); every decorator takes these two.

        `glance` (keywords and clicks): the handler usually writes nothing, and what it writes directly
        (not with the turn) may be written twice: an image cache, a QR token. Its turn then costs one script;
        one that writes with the turn after all takes the user's lock at its end (storage.turns)."""
        return self._add(keywords=frozenset(normalize_text(w) for w in words), reads=reads, when=when,
                         glance=glance)

    def regex(self, pattern: str, reads: tuple[str, ...] = (), when: Filter | None = None) -> Decorator:
        """A full match on the normalised text; the match is in ctx.match."""
        return self._add(pattern=re.compile(pattern), reads=reads, when=when)

    def message(self, *msg_types: str) -> Decorator:
        return self._add(msg_types=frozenset(msg_types))

    def event(self, *events: str, keys: tuple[str, ...] = (), reads: tuple[str, ...] = (),
              when: Filter | None = None, glance: bool = False) -> Decorator:
        """`glance`: for menu clicks (`click`), the only events known to be glances before a turn begins."""
        return self._add(events=frozenset(e.lower() for e in events), event_keys=frozenset(keys), reads=reads,
                         when=when, glance=glance)

    def internal(self, event: str) -> Decorator:
        """An event healthbot makes itself (a face-check result): a push from /wechat never matches it."""
        return self._add(events=frozenset((event,)), internal=True)

    def click(self, *keys: str, reads: tuple[str, ...] = (), when: Filter | None = None,
              glance: bool = False) -> Decorator:
        """A menu button of type click, by its key."""
        return self.event("click", keys=keys, reads=reads, when=when, glance=glance)

    def scene(self, prefix: str, reads: tuple[str, ...] = (), when: Filter | None = None) -> Decorator:
        """A parametric QR code (带参数二维码) whose scene starts with `prefix`, scanned by a follower (SCAN)
        or by someone who follows by scanning it (subscribe with qrscene_)."""
        return self._add(events=frozenset(("scan", "subscribe")), scene_prefix=prefix, reads=reads, when=when)

    def before(self, hook: Before) -> Before:
        """An outer check, as aiogram's outer middleware: e.g. a notice held for the user's next message."""
        self.befores.append(hook)
        return hook

    def dialog(self, dialog: Dialog) -> Dialog:
        self.dialogs.append(dialog)
        return dialog


def scene_of(message: Inbound) -> str:
    """The scene of a parametric QR scan: SCAN carries it bare, a subscribe behind qrscene_."""
    return message.event_key.removeprefix("qrscene_") if message.event in ("scan", "subscribe") else ""


class RouteTable:
    """All routers' routes, compiled: keywords and menu keys by dict lookup, the rest in order.

    `prefetch` is every hash the routes declare they read. The turn script reads all of them for a claimed user,
    whatever the message: one fixed script costs Redis less than naming each route's reads per call, and the
    reads are what a claimed user's commonest messages (the code, a 场所码 scan) need."""

    def __init__(self, routers: list[Router]) -> None:
        self.by_keyword: dict[str, Route] = {}
        self.by_click: dict[str, Route] = {}
        self.ordered: list[Route] = []
        self.dialogs: dict[str, Dialog] = {}
        self._candidates: dict[tuple[str, str], list[Route]] = {}  # WeChat's known kinds only: bounded
        self._prefetch: set[str] = set()
        self.befores: tuple[Before, ...] = tuple(hook for router in routers for hook in router.befores)
        for router in routers:
            for dialog in router.dialogs:
                if dialog.name in self.dialogs:
                    raise ValueError(f"dialog {dialog.name} is registered twice")
                self.dialogs[dialog.name] = dialog
            for route in router.routes:
                self._prefetch.update(route.reads)
                if route.keywords:
                    for word in route.keywords:
                        self._unique(self.by_keyword, word, route, "keyword")
                elif route.events == {"click"} and route.event_keys:
                    for key in route.event_keys:
                        self._unique(self.by_click, key, route, "menu key")
                else:
                    self.ordered.append(route)

    @property
    def prefetch(self) -> tuple[str, ...]:
        return tuple(sorted(self._prefetch))

    @staticmethod
    def _unique(index: dict[str, Route], key: str, route: Route, what: str) -> None:
        if key in index:
            raise ValueError(f"{what} {key!r} is routed twice")
        index[key] = route

    def glances(self, message: Inbound) -> bool:
        """Whether the route `message` reaches outside a dialog is a glance (Router.keywords): known before the
        turn begins, by one dict lookup."""
        if message.msg_type == "text":
            route = self.by_keyword.get(message.normalized)
        elif message.event == "click":
            route = self.by_click.get(message.event_key)
        else:
            return False
        return route is not None and route.glance

    def find(self, message: Inbound) -> tuple[Route, re.Match[str] | None] | None:
        if message.msg_type == "text":
            route = self.by_keyword.get(message.normalized)
            if route:
                return route, None
        elif message.event == "click" and message.event_key in self.by_click:
            return self.by_click[message.event_key], None
        for route in self._candidates_for(message):
            matched = route.match(message)
            if matched:
                return route, matched if isinstance(matched, re.Match) else None
        return None

    def _candidates_for(self, message: Inbound) -> list[Route]:
        """The ordered routes a message of its type could match, in order: a scan skips the text patterns."""
        kind = (message.msg_type, message.event)
        found = self._candidates.get(kind)
        if found is None:
            found = [route for route in self.ordered if route.could_match(*kind)]
            if message.kind != "other":
                self._candidates[kind] = found
        return found
