"""The sender of customer-service notices (storage.notices): each worker process runs one, as a consumer of
the group. A notice goes out once; outside the 48 h window, or when WeChat cannot be reached, it is held and
the account's next message shows it (`show_held_notice`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from bot.engine.context import Context
from bot.engine.services import Services
from bot.ops.logs import hash_openid
from bot.wechat.replies import Reply
from storage import RedisError
from storage.profiles import held_notice

log = logging.getLogger("healthbot.notices")

READ_BLOCK_MS = 500  # below the Redis client's reply timeout
RECLAIM_IDLE_MS = 30_000  # an entry a consumer took this long ago without finishing: it died
BATCH = 20


class NoticeSender:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.queue = services.notices
        self.stopping = False
        self.task: asyncio.Task[None] | None = None

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
        """Entries left by a consumer that died, then new ones: each handled and removed. How many were sent."""
        entries = await self.queue.reclaim(RECLAIM_IDLE_MS, BATCH) + await self.queue.read(BATCH, block_ms)
        sent = 0
        for entry_id, fields in entries:
            sent += await self.deliver(fields.get("to", ""))
            await self.queue.done(entry_id)
        self.services.metrics.set("healthbot_notice_backlog", await self.queue.backlog())
        return sent

    async def deliver(self, openid: str) -> bool:
        services = self.services
        template = await self.queue.begin(openid) if openid else None
        if template is None:  # already sent or shown, or in doubt (then held for the next message)
            return False
        try:
            await services.api.send_text(openid, services.templates.render(template))
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
