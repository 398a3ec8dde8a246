"""The sender of notices (storage.notices): each worker process runs one, as a consumer of the group, at a
bounded rate (`[notices] per_second`).

- A takeover's notice goes out once; outside the 48 h window, or when WeChat cannot be reached, it is held and
  the account's next message shows it (`show_held_notice`).
- A change of colour is told to the holder and every guardian, once each, when the sender finds the change
  applied (bot/usecases/colour_notices.py); so is an appeal's answer. The sender also runs the rule that turns
  lapsed colours green.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiolimiter import AsyncLimiter

from bot.engine.context import Context
from bot.engine.services import Services
from bot.ops.logs import hash_openid
from bot.usecases.colour_notices import Notice, Recipient, appeal_notice, colour_notice, recipients, tell
from bot.wechat.replies import Reply
from storage import RedisError
from storage.profiles import held_notice

log = logging.getLogger("healthbot.notices")

READ_BLOCK_MS = 500  # below the Redis client's reply timeout
BATCH = 20
APPLY_GRACE_S = 10.0  # a change's intent with no change applied this long after: it never was (same colour, or
                      # its writer died before applying it)
LAPSE_EVERY_S = 5.0


class NoticeSender:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.queue = services.notices
        self.stopping = False
        self.task: asyncio.Task[None] | None = None
        self.pace = AsyncLimiter(services.settings.notices.per_second, 1)
        self.reclaim_ms = services.settings.notices.reclaim_seconds * 1000
        self.waiting: dict[str, dict[str, str]] = {}  # entries whose change is not applied yet, by entry id
        self.lapses_at = 0.0

    def start(self) -> None:
        self.task = asyncio.create_task(self.run(), name="notices")

    async def run(self) -> None:
        """Until `stop`. Redis trouble is logged and waited out."""
        ready = False
        while not self.stopping:
            try:
                if not ready:
                    await self.queue.ensure_group()
                    ready = True
                await self.once(READ_BLOCK_MS)
            except RedisError as exc:
                log.warning("notice queue unavailable: %s", exc)
                await asyncio.sleep(1.0)

    async def stop(self) -> None:
        """End the run `start` began: at once, or by the end of its current read. Python 3.11's asyncio.timeout,
        which the Redis client reads under, can swallow a cancellation that meets its own."""
        self.stopping = True
        if self.task is not None:
            self.task.cancel()
            await asyncio.wait([self.task], timeout=2 * READ_BLOCK_MS / 1000)

    async def once(self, block_ms: int = 0) -> int:
        """Entries left by a consumer that died, those waiting for their change, then new ones: each handled
        and removed. How many notices were sent."""
        if time.monotonic() >= self.lapses_at:
            self.lapses_at = time.monotonic() + LAPSE_EVERY_S
            await self.services.status.lapse_due()
        waiting, self.waiting = list(self.waiting.items()), {}
        block = block_ms if not waiting else min(block_ms, 200)
        entries = waiting + await self.queue.reclaim(self.reclaim_ms, BATCH) + await self.queue.read(BATCH, block)
        sent, handled = 0, []
        try:
            for entry_id, fields in entries:
                kind = fields.get("kind", "")
                if kind == "colour":
                    told = await self.deliver_change(entry_id, fields)
                    if told is None:
                        self.waiting[entry_id] = fields
                        continue
                    sent += told
                elif kind == "appeal":
                    sent += await self.deliver_answer(fields)
                else:
                    sent += await self.deliver(fields.get("to", ""))
                handled.append(entry_id)
        finally:  # what was handled is acknowledged even when a later entry meets a failing Redis
            await self.queue.done(*handled)
        self.services.metrics.set("healthbot_notice_backlog", await self.queue.backlog())
        return sent

    async def deliver_change(self, entry_id: str, fields: dict[str, str]) -> int | None:
        """Tell everyone a change concerns; None when the change is not applied yet (ask again soon)."""
        services, index, change = self.services, fields.get("doc", ""), fields.get("change", "")
        entry = await services.status.registry.find(index, change) if index and change else None
        if entry is None:
            added = int(entry_id.partition("-")[0] or 0) / 1000
            return None if time.time() - added < APPLY_GRACE_S else 0
        return await self._tell_all(index, change, lambda to: colour_notice(services, to, index, entry))

    async def deliver_answer(self, fields: dict[str, str]) -> int:
        """An appeal's answer, to the appellant and every guardian of the document (storage.appeals)."""
        services, ticket = self.services, fields.get("ticket", "")
        appeal = await services.appeals.get(ticket) if ticket else None
        if appeal is None or appeal.state == "open":
            return 0
        return await self._tell_all(appeal.doc_index, f"appeal:{ticket}",
                                    lambda to: appeal_notice(services, to, appeal.doc_index, ticket,
                                                             appeal.state == "accepted", appeal.note,
                                                             appeal.resolved_at))

    async def _tell_all(self, index: str, change: str, make: Callable[[Recipient], Awaitable[Notice]]) -> int:
        """Each of the document's holder and guardians told once, whichever sender (or retry) gets here."""
        services, sent = self.services, 0
        for to in await recipients(self.services, index):
            if not await self.queue.claim(to.openid, change):
                continue
            async with self.pace:
                outcome = await tell(services, to.openid, await make(to))
            services.metrics.inc("healthbot_colour_notices_total", outcome=outcome)
            if outcome != "sent":
                log.info("notice of %s untold user=%s: %s", change, hash_openid(to.openid), outcome)
            sent += outcome == "sent"
        return sent

    async def deliver(self, openid: str) -> bool:
        services = self.services
        template = await self.queue.begin(openid) if openid else None
        if template is None:  # already sent or shown, or in doubt (then held for the next message)
            return False
        try:
            texts = (await services.texts_for([openid]))[openid]
            await services.api.send_text(openid, texts.render(template))
        except Exception as exc:
            log.info("notice held for the next message user=%s: %s", hash_openid(openid), exc)
            services.metrics.inc("healthbot_notices_total", outcome="held")
            await self.queue.hold(openid)
            return False
        services.metrics.inc("healthbot_notices_total", outcome="sent")
        await self.queue.sent(openid)
        return True


def show_held_notice(ctx: Context) -> Awaitable[Reply | None] | None:
    """A notice the account has not been sent is the answer to its next message (which is not handled: the
    text says to send it again), unless a sender took it first. Only a message the user sent: not a
    callback's event, not unfollowing."""
    if not held_notice(ctx.prefetched_profile) or ctx.message.internal or ctx.message.event == "unsubscribe":
        return None
    return _shown(ctx)


async def _shown(ctx: Context) -> Reply | None:
    template = await ctx.services.notices.show(ctx.openid)
    if template is None:  # a sender is sending it
        return None
    ctx.with_turn(ctx.services.notices.drop_write(ctx.openid))
    ctx.services.metrics.inc("healthbot_notices_total", outcome="shown")
    return ctx.text("notice_held.txt", notice=template)
