"""A glance (one's code, help, the FAQ) is one script: no lock, no kept reply, no turn end; one that writes after
all takes the lock at its end, and one that meets another turn of the user's runs again as a whole turn."""

from __future__ import annotations

import asyncio
from collections import Counter

from bot.engine.context import Context
from bot.engine.router import Router
from bot.wechat.inbound import parse_inbound
from bot.wechat.replies import Reply, Text
from handlers import basics, health_code
from storage.turns import FINISHED, LATE, RACED, DialogWrite
from storage.writes import Write
from tests.conftest import Bot, BotFactory
from tests.journeys import full_claim


class TurnCounter:
    """Counts the turn scripts a push costs, each still run against the real Redis."""

    def __init__(self, bot: Bot) -> None:
        self.calls: Counter[str] = Counter()
        turns = bot.services.turns
        begin, finish = turns.begin, turns.finish

        async def counted_begin(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
            self.calls["begin"] += 1
            return await begin(*args, **kwargs)  # type: ignore[arg-type]

        async def counted_finish(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
            self.calls["finish"] += 1
            return await finish(*args, **kwargs)  # type: ignore[arg-type]

        turns.begin, turns.finish = counted_begin, counted_finish  # type: ignore[method-assign]


async def test_showing_ones_code_is_one_script_that_locks_nothing_and_a_retry_looks_again(bot: Bot) -> None:
    user = "oGlance_0001"
    await full_claim(bot, user)
    redis, keys = bot.services.redis, bot.services.keys
    counter = TurnCounter(bot)
    push = bot.sim.text(user, "防疫健康信息码")
    dedup = parse_inbound(push.encode()).dedup_id()
    first = await bot.push(push)
    assert first["MsgType"] == "image"
    assert counter.calls == {"begin": 1}
    assert not await redis.exists(keys.lock(user)) and await redis.get(keys.seen(user, dedup)) is None
    window_ms = bot.services.settings.server.replay_window * 1000
    assert await redis.get(keys.done(user, dedup)) == b"O"
    assert window_ms - 5000 < await redis.pttl(keys.done(user, dedup)) <= window_ms
    assert await bot.push(push) == first  # WeChat's retry: looked at again, the same image
    assert await bot.say(user, "帮助") and counter.calls == {"begin": 3}


async def test_a_new_users_first_code_request_starts_the_claim_with_the_lock(bot: Bot) -> None:
    """The same keyword, unclaimed: the claim's first step is written, under the lock, and the reply kept."""
    user = "oGlance_0002"
    redis, keys = bot.services.redis, bot.services.keys
    counter = TurnCounter(bot)
    push = bot.sim.text(user, "防疫健康信息码")
    dedup = parse_inbound(push.encode()).dedup_id()
    first = await bot.push(push)
    assert "同意" in first["Content"]
    assert counter.calls == {"begin": 1, "finish": 1}
    assert await redis.exists(keys.dialog(user)) and await redis.get(keys.dialog_marker(user)) == b"claim"
    assert not await redis.exists(keys.lock(user)) and await redis.get(keys.done(user, dedup)) == b"D"
    assert await bot.push(push) == first  # the retry gets the kept reply: the claim is not started twice
    assert bot.services.metrics.value("healthbot_dedup_hits_total") == 1
    assert "同意" in await bot.say(user, "帮助")  # inside the dialog, help is no glance: the step is asked again


async def test_a_glance_that_meets_another_turn_runs_again_as_a_whole_turn_and_writes_once(
        make_bot: BotFactory) -> None:
    router = Router("racing")
    looking, look_on, holding, hold_on = asyncio.Event(), asyncio.Event(), asyncio.Event(), asyncio.Event()
    runs: Counter[str] = Counter()

    @router.keywords("看看", glance=True)
    async def look(ctx: Context) -> Reply:
        runs["look"] += 1
        looking.set()
        await look_on.wait()
        ctx.with_turn(Write("RPUSH", ctx.services.keys.last_venue(ctx.openid), ("looked",)))
        return Text("看过了")

    @router.keywords("占着")
    async def hold(ctx: Context) -> Reply:
        holding.set()
        await hold_on.wait()
        ctx.with_turn(Write("RPUSH", ctx.services.keys.last_venue(ctx.openid), ("held",)))
        return Text("好了")

    bot = await make_bot(routers=[router, basics.router])
    user, redis = "oGlance_0003", bot.services.redis
    glance = asyncio.ensure_future(bot.say(user, "看看"))
    await asyncio.wait_for(looking.wait(), 5)  # it looks, holding no lock
    whole = asyncio.ensure_future(bot.say(user, "占着"))
    await asyncio.wait_for(holding.wait(), 5)  # a whole turn of the same user's takes the lock meanwhile
    look_on.set()
    await asyncio.sleep(0.2)
    assert not glance.done()  # its end found the lock taken: it waits for the user, to run again
    hold_on.set()
    assert await asyncio.wait_for(whole, 5) == "好了" and await asyncio.wait_for(glance, 5) == "看过了"
    assert runs["look"] == 2
    assert await redis.lrange(bot.services.keys.last_venue(user), 0, -1) == [b"held", b"looked"]
    assert bot.services.metrics.value("healthbot_glance_races_total") == 1
    assert not await redis.exists(bot.services.keys.lock(user))


async def test_a_glance_end_after_the_server_gave_up_or_after_another_turn_writes_nothing(bot: Bot) -> None:
    turns, keys, redis = bot.services.turns, bot.services.keys, bot.services.redis
    user, token, key = "oGlance_0004", turns.new_lock_token(), keys.last_venue("oGlance_0004")
    writes = [Write("RPUSH", key, ("x",))]
    assert (await turns.begin(user, "m1", token, glance=True)).outcome == "glance"
    assert not await redis.exists(keys.lock(user))
    done_ms = turns.done_ms
    await redis.pexpire(keys.done(user, "m1"), done_ms - 2000)  # by Redis's clock 2 s went by since BEGIN
    assert await turns.finish(user, "m1", token, b"reply", DialogWrite("keep"), writes, held_for=0.01,
                              glance=True) == LATE
    assert not await redis.exists(key) and not await redis.exists(keys.lock(user))
    assert not await redis.exists(keys.done(user, "m1"))  # answered busy: the push may come again

    assert (await turns.begin(user, "m2", token, glance=True)).outcome == "glance"
    await redis.set(keys.dialog_marker(user), "claim", ex=60)  # a dialog began meanwhile
    assert await turns.finish(user, "m2", token, b"reply", DialogWrite("keep"), writes, held_for=0.01,
                              glance=True) == RACED
    assert not await redis.exists(key) and not await redis.exists(keys.lock(user))
    await redis.delete(keys.dialog_marker(user))
    assert await turns.finish(user, "m2", token, b"reply", DialogWrite("keep"), writes, held_for=0.01,
                              glance=True) == FINISHED
    assert await redis.lrange(key, 0, -1) == [b"x"] and await redis.get(keys.done(user, "m2")) == b"D"
    assert not await redis.exists(keys.lock(user))


async def test_a_glance_on_a_user_in_a_dialog_or_another_turn_is_a_whole_turn(make_bot: BotFactory) -> None:
    bot = await make_bot(routers=[health_code.router, basics.router])
    turns, keys, redis = bot.services.turns, bot.services.keys, bot.services.redis
    user, token = "oGlance_0005", turns.new_lock_token()
    await redis.set(keys.lock(user), "another-turn", px=5000)
    assert (await turns.begin(user, "m1", token, glance=True)).outcome == "busy"
    assert not await redis.exists(keys.done(user, "m1"))  # not claimed: the push comes back when the user is free
    await redis.delete(keys.lock(user))
    await bot.say(user, "防疫健康信息码")  # now in the claim dialog
    begun = await turns.begin(user, "m2", token, glance=True)
    assert begun.outcome == "ok" and begun.dialog
    assert await redis.get(keys.lock(user)) == token.encode() and await redis.get(keys.done(user, "m2")) == b"P"


async def test_a_slow_glance_answers_at_once_follows_by_message_and_a_retry_gets_the_interim(
        make_bot: BotFactory) -> None:
    """Past the deadline a glance keeps the interim reply like any turn: its retry is not looked at again, so
    the reply comes once, by customer-service message."""
    router, runs = Router("slow_glance"), Counter[str]()

    @router.keywords("慢看", glance=True)
    async def slow_look(ctx: Context) -> Reply:
        runs["look"] += 1
        await asyncio.sleep(0.6)
        return Text("看完了")

    bot = await make_bot(routers=[router, basics.router], server={"reply_deadline": 0.2})
    user = "oGlance_0006"
    push = bot.sim.text(user, "慢看")
    first = await bot.push(push)
    assert first["Content"] == bot.services.templates.render("working.txt")
    assert await bot.push(push) == first
    await bot.dispatcher.drain()
    assert [m["text"]["content"] for m in bot.standin.messages if m["touser"] == user] == ["看完了"]
    assert runs["look"] == 1 and not await bot.services.redis.exists(bot.services.keys.lock(user))


async def test_concurrent_duplicates_of_a_code_view_that_renders_get_one_image(bot: Bot) -> None:
    """A glance that renders keeps the image with the lock: a duplicate of its push that looked meanwhile is
    run again and answered with the first one's image, which is the one cached."""
    user = "oGlance_0007"
    await full_claim(bot, user)
    redis, keys = bot.services.redis, bot.services.keys
    cache = bot.services.codes.images.key(user, "self")
    await redis.delete(cache)  # the next view renders
    push = bot.sim.text(user, "防疫健康信息码")
    replies = await asyncio.gather(*(bot.push(push) for _ in range(3)))
    assert replies[0]["MsgType"] == "image" and all(r == replies[0] for r in replies)
    assert await redis.hget(cache, "media_id") == replies[0]["Image"]["MediaId"].encode()
    assert not await redis.exists(keys.lock(user))
    assert await bot.push(push) == replies[0]
