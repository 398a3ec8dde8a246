"""One push in, one passive reply out: dedup, the per-user lock, routing, the 5-second race, late delivery."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from bot.engine.context import Context, DialogState
from bot.engine.eager import finished_by, start_eagerly
from bot.engine.prefs import DEFAULT as DEFAULT_PREFS
from bot.engine.prefs import Prefs
from bot.engine.router import Handler, Route, RouteTable
from bot.engine.services import Services
from bot.engine.state import dump_state, load_state
from bot.ops.logs import hash_openid
from bot.wechat.api import WeChatAPIError
from bot.wechat.inbound import Inbound
from bot.wechat.replies import SUCCESS, Image, News, Reply, Text, render_reply
from storage import RedisError
from storage.turns import DONE, FINISHED, LATE, PENDING, RACED, Begun, DialogWrite, FirstBody
from storage.vault import SealError

log = logging.getLogger("healthbot.dispatch")


class Replayed(Exception):
    """A signed query arrived again with another body (plaintext mode): the webhook answers 403."""


KEEP = DialogWrite("keep")
CLEAR = DialogWrite("clear")
FORGET_EXPIRED = DialogWrite("forget-expired")
POLL_SECONDS = 0.03
RECENT_USERS = 10_000  # preferences remembered per worker (bytes each: the default is not kept)


class Dispatcher:
    def __init__(self, services: Services, table: RouteTable, fallback: Handler) -> None:
        self.services = services
        self.table = table
        self.fallback = fallback
        self.background: set[asyncio.Task[Any]] = set()
        self.metrics = services.metrics
        self.count_handler_run = services.metrics.series("healthbot_handler_runs_total")
        # The app's loop while it runs (bot.app sets it): asking asyncio is a getpid() system call on 3.11.
        self.loop: asyncio.AbstractEventLoop | None = None
        # Recent users' preferences, for the few texts said before a turn has read them (「服务繁忙」 with
        # Redis down, 「发送太快」): a user this worker served lately is answered in their language.
        self._recent_prefs: dict[str, Prefs] = {}

    # -- the turn -------------------------------------------------------------------------------------

    async def handle(self, message: Inbound, via_api: bool = False, first_body: FirstBody | None = None) -> str:
        """The passive reply to a push; with via_api (a callback, not a push) the reply is sent instead.

        Raises Replayed when `first_body` shows the signed query was seen before with another body."""
        loop = self.loop or asyncio.get_running_loop()
        started = loop.time()
        return await self._turn(message, via_api, first_body, started, self.table.glances(message))

    async def _turn(self, message: Inbound, via_api: bool, first_body: FirstBody | None, started: float,
                    glance: bool, again: bool = False) -> str:
        """One turn; a glance that could not take the lock to write (storage.turns) runs `again` as a whole
        turn, without a second message token."""
        loop = self.loop or asyncio.get_running_loop()
        deadline = started + self.services.settings.server.reply_deadline
        turns = self.services.turns
        token, dedup_id = turns.new_lock_token(), message.dedup_id()
        try:
            # The push's first claim takes a message token; most find the user free and go straight on.
            claimed = await turns.begin(message.openid, dedup_id, token, None if again else time.time(),
                                        first_body, glance)
            if claimed.outcome not in ("ok", "glance"):
                claimed = await self._claim(message, dedup_id, deadline, token, claimed)
        except RedisError as exc:
            # A BEGIN that timed out may still run when Redis comes back (a pause, not a crash) and take the
            # lock: it is given back as soon as Redis answers, so the user's next message is not kept waiting.
            return self._busy(message, f"redis unavailable at turn start: {exc}", release=token)
        if isinstance(claimed, str):
            return claimed
        begun, held_since = claimed, loop.time()
        if begun.looked_before:
            self.metrics.inc("healthbot_glance_retries_total")
        state = self._load_state(message.openid, begun)
        ctx = Context(message, self.services, state, prefetched_profile=begun.profile,
                      read_with_turn=begun.read_with_turn, dialogs=self.table.dialogs,
                      prefs=self._remember(message.openid, begun.prefs), glance=begun.outcome == "glance")
        before = DialogState(state.dialog, expired=state.expired)  # what the write at the turn's end compares
        # A handler that fails leaves the state as it found it: read again (rare) rather than copied each turn.
        work = start_eagerly(self._produce(ctx, lambda: self._load_state(message.openid, begun)), loop)
        if not work.done() and not await finished_by(work, deadline):  # most turns finish without waiting
            return await self._defer(ctx, work, token, before)
        reply = work.result()
        self.metrics.inc("healthbot_requests_total", type=message.kind, route=ctx.route)
        now = loop.time()
        self.metrics.observe(now - started, "healthbot_turn_seconds", route=ctx.route)
        body = self._render(message, reply)
        write = self._dialog_write(ctx, before)
        if self._only_looked(ctx, write):
            finished = FINISHED  # nothing to write, no lock to give back, a retry looks again
        else:
            try:
                finished = await turns.finish(
                    message.openid, dedup_id, token, self._kept_reply(message, reply, body), write, ctx.writes,
                    held_for=now - held_since, glance=ctx.glance
                )
            except RedisError as exc:
                return self._busy(message, f"redis unavailable at turn end: {exc}", release=token)
        if finished == RACED:  # another turn of the user's began while it looked: nothing was written
            log.info("glance raced another turn; run again user=%s", hash_openid(message.openid))
            self.metrics.inc("healthbot_glance_races_total")
            return await self._turn(message, via_api, None, started, glance=False, again=True)
        if finished == LATE:  # FINISH let its lock go itself, if it still held it
            return self._busy(message, "turn end ran too late or without its lock; nothing written")
        if via_api and reply is not None:
            self.spawn(self.send_all(message.openid, [reply, *ctx.later]))
            return SUCCESS
        if ctx.later:
            self.spawn(self.send_all(message.openid, ctx.later))
        return body

    def _busy(self, message: Inbound, why: str, release: str = "") -> str:
        """「服务繁忙」 when Redis failed a turn's start or end: logged and counted; with `release`, the lock that
        token may hold is given back once Redis answers."""
        log.warning("%s user=%s", why, hash_openid(message.openid))
        self.metrics.inc("healthbot_redis_errors_total")
        if release:
            self.spawn(self._release_when_back(message.openid, release))
        return self._render(message, self._text("busy.txt", message.openid))

    async def _claim(self, message: Inbound, dedup_id: str, deadline: float, token: str,
                     begun: Begun) -> str | Begun:
        """After a first claim that did not get the turn: own it under `token` once the user is free, or answer
        at once (a retry gets the first attempt's reply)."""
        turns, loop = self.services.turns, asyncio.get_running_loop()
        while True:
            if begun.outcome == "replayed":
                raise Replayed
            if begun.outcome == "ok":
                return begun
            if begun.outcome == "limited":
                log.info("message rate limit user=%s", hash_openid(message.openid))
                self.metrics.inc("healthbot_rate_limited_total")
                return self._render(message, self._text("too_fast.txt", message.openid))
            if begun.outcome == "dup":
                value: bytes | None = begun.seen_value
                while value == PENDING and loop.time() < deadline:
                    await asyncio.sleep(POLL_SECONDS)
                    value = await turns.seen(message.openid, dedup_id)
                if value is None:  # the first attempt died and its lease ran out: this one takes over
                    begun = await turns.begin(message.openid, dedup_id, token)  # no second message token
                    continue
                if value == PENDING:
                    return SUCCESS
                if value == DONE:  # a replay after the reply was dropped: answered once is enough
                    log.info("push answered before, reply no longer kept user=%s", hash_openid(message.openid))
                    self.metrics.inc("healthbot_dedup_hits_total")
                    return SUCCESS
                log.info("retry answered from the first attempt user=%s", hash_openid(message.openid))
                self.metrics.inc("healthbot_dedup_hits_total")
                return self._open_reply(message, value[1:])
            if loop.time() >= deadline - 0.25:
                return self._render(message, self._text("busy_previous.txt", message.openid))
            await asyncio.sleep(POLL_SECONDS)
            begun = await turns.begin(message.openid, dedup_id, token)  # waiting for the lock: no new token

    async def _produce(self, ctx: Context, as_found: Callable[[], DialogState]) -> Reply:
        try:
            self.count_handler_run(1)
            return await self._materialize(await self._route(ctx))
        except RedisError as exc:
            log.warning("redis failed inside a handler user=%s: %s", hash_openid(ctx.openid), exc)
            ctx.state, ctx.writes = as_found(), []
            return ctx.text("busy.txt")
        except Exception:
            log.exception("handler failed user=%s", hash_openid(ctx.openid))
            ctx.state, ctx.writes = as_found(), []
            return ctx.text("error.txt")

    async def _route(self, ctx: Context) -> Reply:
        message, state = ctx.message, ctx.state
        for hook in self.table.befores:
            if (first := hook(ctx)) is not None and (answer := await first) is not None:
                ctx.route = hook.__name__
                return answer
        if state.dialog and not message.is_event:
            dialog = self.table.dialogs.get(state.dialog)
            if dialog is not None:
                ctx.route = dialog.name
                kept = self.table.by_keyword.get(message.normalized) if message.msg_type == "text" else None
                if kept is not None and kept.keeps_dialog:  # 「English」 mid-claim: switch, ask the step again
                    said = await kept.handler(ctx)
                    return Text("\n\n".join(filter(None, [getattr(said, "content", ""), dialog.ask_again(ctx)])))
                ctx.service_named = lambda: self._service_named(ctx)
                return await dialog.handle(ctx)
            state.clear()
        ctx.run_text = lambda text: self._run_text(ctx, text)
        found = self.table.find(message)
        if state.expired:
            self.metrics.inc("healthbot_dialogs_total", dialog=state.expired, event="expired")
            expired, state.expired = self.table.dialogs.get(state.expired), ""
            if found is None and message.msg_type == "text":
                return ctx.text("dialog/timeout.txt", dialog=expired)
        if found is None:
            ctx.route = "fallback"
            return await self.fallback(ctx)
        return await self._run(ctx, found)

    @staticmethod
    def _run(ctx: Context, found: tuple[Route, re.Match[str] | None]) -> Awaitable[Reply]:
        route, ctx.match = found
        ctx.route = route.handler.__name__
        return route.run(ctx) if route.filters else route.handler(ctx)

    async def _run_text(self, ctx: Context, text: str) -> Reply:
        """The route `text` names, run as if the user had typed it; the fallback when it names none."""
        ctx.message = dataclasses.replace(ctx.message, msg_type="text", content=text, event="", event_key="")
        found = self.table.find(ctx.message)
        return await (self.fallback(ctx) if found is None else self._run(ctx, found))

    def _service_named(self, ctx: Context) -> Awaitable[Reply] | None:
        """The service a text typed inside a dialog names (a keyword, a numbered command), ready to run."""
        found = self.table.find(ctx.message)
        if found is None or not found[0].interrupts:
            return None
        return self._run(ctx, found)

    async def _materialize(self, reply: Reply) -> Reply:
        """Upload an image before it is replied, or fall back to its text."""
        if isinstance(reply, Image) and reply.png is not None and not reply.media_id:
            return await self.services.upload_image(reply.png, reply.fallback)
        return reply

    # -- late delivery --------------------------------------------------------------------------------

    async def _defer(self, ctx: Context, work: asyncio.Future[Reply], token: str, before: DialogState) -> str:
        message = ctx.message
        interim = self._render(message, ctx.text("working.txt"))
        with contextlib.suppress(RedisError):
            await self.services.turns.store_reply(message.openid, message.dedup_id(),
                                                  self._kept_reply(message, None, interim))
        log.info("deadline passed; reply follows by customer-service message user=%s",
                 hash_openid(message.openid))
        self.metrics.inc("healthbot_deadline_misses_total")
        self.spawn(self._deliver_later(ctx, work, token, before))
        return interim

    async def _deliver_later(self, ctx: Context, work: asyncio.Future[Reply], token: str,
                             before: DialogState) -> None:
        reply = await work
        try:
            await self.send_all(ctx.openid, [reply, *ctx.later])
        finally:
            write = self._dialog_write(ctx, before)
            if not self._only_looked(ctx, write):
                await self.services.turns.finish(ctx.openid, ctx.message.dedup_id(), token, None, write,
                                                 ctx.writes, glance=ctx.glance)

    async def send_all(self, openid: str, replies: list[Reply]) -> None:
        """In order: a follow-up must not overtake what it follows."""
        for reply in replies:
            if reply is not None:
                await self.send(openid, await self._materialize(reply))

    async def send(self, openid: str, reply: Reply) -> None:
        """Deliver a reply through the customer-service API; an image that fails becomes its text."""
        api = self.services.api
        try:
            if isinstance(reply, Text):
                await api.send_text(openid, reply.content)
            elif isinstance(reply, Image):
                await api.send_image(openid, reply.media_id)
            elif isinstance(reply, News):
                await api.send_news(openid, reply)
            self.metrics.inc("healthbot_async_sends_total", outcome="sent")
        except WeChatAPIError as exc:
            log.warning("customer-service send failed user=%s: %s", hash_openid(openid), exc)
            self.metrics.inc("healthbot_async_sends_total", outcome="failed")
            if isinstance(reply, Image):
                fallback = reply.fallback or self._text("image_failed.txt", openid).content
                try:
                    await api.send_text(openid, fallback)
                except WeChatAPIError as again:
                    log.warning("fallback text failed too user=%s: %s", hash_openid(openid), again)

    async def _release_when_back(self, openid: str, token: str) -> None:
        """A turn that could not finish may hold the user's lock (and AOF keeps it across a restart): release
        it as soon as Redis answers again, so the user is not kept waiting for its TTL. A script that timed
        out on a paused Redis runs when Redis resumes, on its own connection, possibly after our first try:
        so keep trying for a moment after Redis answers."""
        loop = asyncio.get_running_loop()
        give_up, answered = loop.time() + self.services.settings.server.user_lock_ttl, None
        while loop.time() < give_up:
            try:
                if await self.services.turns.release(openid, token):
                    return
                answered = answered or loop.time()
                if loop.time() - answered > 2.0:
                    return  # the lock was never taken
            except RedisError:
                pass
            await asyncio.sleep(0.25)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self.background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[Any]) -> None:
        self.background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background delivery failed", exc_info=task.exception())

    async def drain(self, timeout: float = 10.0) -> None:
        if self.background:
            await asyncio.wait(list(self.background), timeout=timeout)

    # -- state ----------------------------------------------------------------------------------------

    def _load_state(self, openid: str, begun: Begun) -> DialogState:
        if not begun.dialog:
            return DialogState(expired=begun.expired_dialog)
        try:
            return load_state(begun.dialog, self.services.vault, openid)
        except ValueError:  # SealError is one
            log.warning("unreadable dialog state dropped user=%s", hash_openid(openid))
            return DialogState(expired=begun.expired_dialog)

    def _dialog_write(self, ctx: Context, before: DialogState) -> DialogWrite:
        state = ctx.state
        if state.dialog:  # the marker holds a dialog's name from its first turn on: a step leaves it be
            return DialogWrite("step" if state.dialog == before.dialog else "set", name=state.dialog,
                               value=dump_state(state, self.services.vault, ctx.openid))
        if before.dialog:
            return CLEAR
        if before.expired and not state.expired:
            return FORGET_EXPIRED
        return KEEP

    @staticmethod
    def _only_looked(ctx: Context, write: DialogWrite) -> bool:
        """A glance that wrote nothing: its turn has no end (storage.turns)."""
        return ctx.glance and write is KEEP and not ctx.writes

    def _kept_reply(self, message: Inbound, reply: Reply | None, body: str) -> bytes:
        """The copy kept for retries. Replies may quote what the user typed, so a text is encrypted; an image
        reply holds nothing but its media id and is kept as it is."""
        if isinstance(reply, Image):
            return body.encode()
        return self.services.vault.seal(body.encode(), context=f"reply:{message.openid}")

    def _open_reply(self, message: Inbound, kept: bytes) -> str:
        if kept[:1] == b"<":
            return kept.decode()
        try:
            return self.services.vault.open(kept, context=f"reply:{message.openid}").decode()
        except SealError:
            return SUCCESS

    def _remember(self, openid: str, stored: bytes) -> Prefs:
        prefs = Prefs.decode(stored) if stored else DEFAULT_PREFS
        if prefs != DEFAULT_PREFS or openid in self._recent_prefs:
            if len(self._recent_prefs) >= RECENT_USERS:
                self._recent_prefs.clear()
            self._recent_prefs[openid] = prefs
        return prefs

    def _text(self, template: str, openid: str) -> Text:
        """A text said outside a turn, in the language `openid` was last served in here."""
        prefs = self._recent_prefs.get(openid, DEFAULT_PREFS)
        return Text(prefs.texts(self.services.texts).render(template))

    def _render(self, message: Inbound, reply: Reply) -> str:
        return render_reply(reply, message.openid, message.account, int(self.services.clock.time()))
