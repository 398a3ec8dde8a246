"""WeChat's retries run a handler once; one user's messages run one at a time; slow replies come later."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from bot.engine.context import Context, DialogState
from bot.engine.router import Router
from bot.engine.state import load_state
from bot.wechat.inbound import parse_inbound
from bot.wechat.replies import Image, Reply, Text
from handlers import basics, health_code
from storage.profiles import Person
from storage.turns import FINISHED, LATE, DialogWrite
from storage.writes import Write, encode
from tests.conftest import Bot, BotFactory, describe
from tests.helpers import tiny_png
from tests.journeys import ID, NAME, PHONE, full_claim


class Probe:
    """Handlers that take their time and record how often and how concurrently they ran."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.runs: Counter[str] = Counter()
        self.active = 0
        self.peak = 0
        self.router = Router("probe")
        self.router.keywords("慢")(self.slow_text)
        self.router.keywords("慢图")(self.slow_image)
        self.router.click("PROBE")(self.slow_text)

    async def _work(self, ctx: Context) -> None:
        self.runs[ctx.message.dedup_id()] += 1
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.active -= 1

    async def slow_text(self, ctx: Context) -> Reply:
        await self._work(ctx)
        return Text(f"done {ctx.message.dedup_id()}")

    async def slow_image(self, ctx: Context) -> Reply:
        await self._work(ctx)
        return Image(png=tiny_png(), fallback="图片暂时无法发送")


async def probe_bot(make_bot: BotFactory, delay: float, **sections: dict[str, object]) -> tuple[Bot, Probe]:
    probe = Probe(delay)
    bot = await make_bot(routers=[health_code.router, basics.router, probe.router], **sections)
    return bot, probe


async def test_retry_storm_runs_the_handler_once_and_every_retry_gets_the_same_reply(make_bot: BotFactory) -> None:
    bot, probe = await probe_bot(make_bot, delay=0.4)
    push = bot.sim.text("oStorm_0001", "慢")
    concurrent = await asyncio.gather(*(bot.push(push) for _ in range(3)))
    late = await bot.push(push)
    replies = [describe(r) for r in [*concurrent, late]]
    assert len(set(replies)) == 1 and replies[0].startswith("done m")
    assert sum(probe.runs.values()) == 1


async def test_events_dedupe_on_user_time_event_and_key(make_bot: BotFactory) -> None:
    bot, probe = await probe_bot(make_bot, delay=0.05)
    now = int(time.time())
    click = bot.sim.event("oEvents_0001", "CLICK", "PROBE", create_time=now)
    await asyncio.gather(bot.push(click), bot.push(click))
    assert sum(probe.runs.values()) == 1
    await bot.push(bot.sim.event("oEvents_0001", "CLICK", "EPIDEMIC", create_time=now))  # same second, other key
    await bot.push(bot.sim.event("oEvents_0002", "CLICK", "PROBE", create_time=now))  # same second, other user
    assert sum(probe.runs.values()) == 2


async def test_one_user_is_served_one_message_at_a_time(make_bot: BotFactory) -> None:
    bot, probe = await probe_bot(make_bot, delay=0.1)
    replies = await asyncio.gather(*(bot.say("oSerial_0001", "慢") for _ in range(5)))
    assert probe.peak == 1
    assert all(r.startswith("done") for r in replies) and len(set(replies)) == 5


async def test_different_users_run_in_parallel(make_bot: BotFactory) -> None:
    bot, probe = await probe_bot(make_bot, delay=0.3)
    started = time.monotonic()
    await asyncio.gather(*(bot.say(f"oParallel_{i:04d}", "慢") for i in range(5)))
    assert probe.peak == 5
    assert time.monotonic() - started < 1.0


async def test_slow_reply_answers_at_once_and_follows_by_customer_service_message(make_bot: BotFactory) -> None:
    bot, probe = await probe_bot(make_bot, delay=1.0, server={"reply_deadline": 0.3})
    push = bot.sim.text("oSlow_0001", "慢图")
    started = time.monotonic()
    first = describe(await bot.push(push))
    assert time.monotonic() - started < 0.9
    assert first == bot.services.templates.render("working.txt")
    retry = describe(await bot.push(push))  # WeChat would not retry an answered push, but if it did:
    assert retry == first
    await bot.dispatcher.drain()
    sent = [m for m in bot.standin.messages if m["touser"] == "oSlow_0001"]
    assert [m["msgtype"] for m in sent] == ["image"]
    assert sent[0]["image"]["media_id"] in bot.standin.media
    assert sum(probe.runs.values()) == 1
    assert describe(await bot.push(push)) == first  # still deduplicated after delivery


async def test_image_delivery_falls_back_to_text_when_upload_fails(make_bot: BotFactory) -> None:
    from bot.devkit.standin import Fault

    bot, _ = await probe_bot(make_bot, delay=0.0)
    bot.standin.faults["media/upload"].append(Fault(errcode=45009, times=5))
    assert await bot.say("oNoUpload_0001", "慢图") == "图片暂时无法发送"


async def test_metrics_count_what_operators_watch(make_bot: BotFactory) -> None:
    bot, _ = await probe_bot(make_bot, delay=0.3)
    push = bot.sim.text("oMetrics_0001", "慢")
    await asyncio.gather(*(bot.push(push) for _ in range(3)))
    await bot.say("oMetrics_0002", "防疫健康信息码")
    await bot.say("oMetrics_0002", "取消")
    page = await bot.scrape()
    assert "healthbot_handler_runs_total 3" in page
    assert "healthbot_dedup_hits_total 2" in page
    assert 'healthbot_dialogs_total{dialog="claim",event="started"} 1' in page
    assert 'healthbot_dialogs_total{dialog="claim",event="abandoned"} 1' in page
    assert 'healthbot_requests_total{route="slow_text",type="text"} 1' in page
    assert 'healthbot_request_seconds_bucket{le="+Inf"} 5' in page


async def test_the_turn_script_hands_over_the_code_views_reads(bot: Bot) -> None:
    """The travel verification, the cached image and the relatives come with the turn; a handler takes that copy
    as often as it reads one (二码合一 and the facts both read the verification), and reads Redis again after it
    writes one."""
    services, user = bot.services, "oTurnReads_0001"
    image, travel = services.keys.image_cache(user), services.keys.travel_verified(user)
    await services.redis.hset(image, mapping={"shown": "green", "media_id": "m1"})
    unclaimed = await services.turns.begin(user, "m-reads-0", "token-0")
    assert unclaimed.read_with_turn == {}  # no code to show yet: nothing read for it
    await services.turns.release(user, "token-0")
    await services.codes.profiles.save(user, Person("张三", "resident_id", "11010519491231002X", "13812341234"), 0)
    begun = await services.turns.begin(user, "m-reads-1", "token-1")
    expected: dict[str, dict[bytes, bytes]] = {travel: {}, image: {b"shown": b"green", b"media_id": b"m1"},
                                               services.keys.relatives(user): {}}
    if services.turns.one_node:  # and the user's document's colour and facts (other slots on a cluster)
        index = services.codes.profiles.doc_index("resident_id", "11010519491231002X")
        for key in (services.keys.status(index), services.keys.results(index),
                    services.keys.of_document(index, "vaccinations")):
            expected[key] = {}
    assert begun.read_with_turn == expected

    ctx = Context(parse_inbound(bot.sim.text(user, "防疫健康信息码").encode()), services, DialogState(),
                  read_with_turn=dict(begun.read_with_turn))
    await services.redis.hset(image, "media_id", "m2")
    assert (await ctx.read_hash(image))[b"media_id"] == b"m1"
    assert (await ctx.read_hash(image))[b"media_id"] == b"m1"  # the turn's copy serves every read, no round trip
    written = Context(ctx.message, services, DialogState(), read_with_turn=dict(begun.read_with_turn))
    written.wrote(image)
    assert (await written.read_hash(image))[b"media_id"] == b"m2"
    await services.turns.release(user, "token-1")


async def test_a_dialog_state_that_is_not_ours_is_dropped_with_a_clear_answer(bot: Bot) -> None:
    """The state is one value; whatever else is found under its key (another shape, a forged seal) is dropped,
    and the user gets an ordinary answer, not an error, and can start again."""
    keys, redis = bot.services.keys, bot.services.redis
    for n, junk in enumerate([b"[1,2]", b'{"a":1}', b"7", b'["claim","id",[],[]]', b"\x01" + b"x" * 40, b"\xff"]):
        user = f"oJunkState_{n}"
        await bot.say(user, "防疫健康信息码")
        assert await redis.exists(keys.dialog(user))
        await redis.set(keys.dialog(user), junk)
        reply = await bot.say(user, "帮助")
        assert "防疫健康信息码" in reply, (junk, reply)  # the help text, as for anyone outside a dialog
        first = await bot.say(user, "防疫健康信息码")
        assert "同意" in first, (junk, first)  # the claim starts over


async def test_a_write_kept_for_the_turns_end_lands_with_the_reply_and_never_after_a_failure(
        make_bot: BotFactory) -> None:
    router = Router("writes")

    @router.keywords("记下")
    async def note(ctx: Context) -> Reply:
        ctx.with_turn(ctx.services.venues.last_venue_write(ctx.openid, "in", "venue:test", 60))
        return Text("记下了")

    @router.keywords("记下又出错")
    async def note_then_fail(ctx: Context) -> Reply:
        ctx.with_turn(ctx.services.venues.last_venue_write(ctx.openid, "in", "venue:lost", 60))
        raise RuntimeError("a bug after the write was asked for")

    bot = await make_bot(routers=[router, basics.router])
    keys, redis = bot.services.keys, bot.services.redis
    assert await bot.say("oWrites_0001", "记下") == "记下了"
    assert await redis.get(keys.last_venue("oWrites_0001")) == b"in|venue:test||0"
    assert 0 < await redis.ttl(keys.last_venue("oWrites_0001")) <= 60
    reply = await bot.say("oWrites_0002", "记下又出错")
    assert "记下" not in reply and reply  # the error text, not the handler's
    assert await redis.get(keys.last_venue("oWrites_0002")) is None


async def test_a_retried_image_reply_is_the_same_image_and_a_kept_text_is_sealed(bot: Bot) -> None:
    """WeChat retries a push whose reply it did not get: the retry gets the first reply. Showing one's code is a
    glance: nothing is kept, the retry looks again and gets the same image (from the image cache). A whole
    turn's reply is kept: an image as it is (a media id only), a text sealed, since it may quote the user."""
    user = "oRetryImage_1"
    await full_claim(bot, user)
    redis, keys = bot.services.redis, bot.services.keys
    push = bot.sim.text(user, "防疫健康信息码")
    dedup = parse_inbound(push.encode()).dedup_id()
    first, again = await bot.push(push), await bot.push(push)
    assert first["MsgType"] == "image" and again == first
    assert await redis.get(keys.done(user, dedup)) == b"O" and await redis.get(keys.seen(user, dedup)) is None

    results = bot.sim.text(user, "核酸")  # a whole turn, whose reply is kept
    first, again = await bot.push(results), await bot.push(results)
    assert first == again
    assert bot.services.metrics.value("healthbot_dedup_hits_total") >= 1

    text_push = bot.sim.text(user, "取消")
    await bot.push(text_push)
    kept = await redis.get(keys.seen(user, parse_inbound(text_push.encode()).dedup_id()))
    assert kept is not None and "没有".encode() not in kept and b"<xml>" not in kept


async def test_a_handler_that_fails_leaves_the_dialog_as_it_found_it(make_bot: BotFactory) -> None:
    """「您已填写的内容没有丢失」: whatever a failing handler changed in the state is not written."""
    router = Router("breaks")

    @router.click("BREAK")
    async def breaks(ctx: Context) -> Reply:
        ctx.state.data["name"] = "不该留下"
        ctx.state.history.append("name")
        ctx.state.step = "phone"
        raise RuntimeError("a bug after the state was changed")

    bot = await make_bot(routers=[router, basics.router, health_code.router])
    user, keys = "oBreaks_0001", bot.services.keys
    await bot.say(user, "防疫健康信息码")
    await bot.say(user, "同意")
    before = load_state(await bot.services.redis.get(keys.dialog(user)), bot.services.vault, user)
    assert "您已填写的内容没有丢失" in describe(await bot.push(bot.sim.event(user, "CLICK", "BREAK")))
    after = load_state(await bot.services.redis.get(keys.dialog(user)), bot.services.vault, user)
    assert after == before and (after.step, after.history) == ("name", ["consent"])  # rewritten, the same
    assert "身份证号码" in await bot.say(user, "张小三")  # the claim goes on from where it was


def test_writes_are_described_by_shape_and_a_name_that_is_not_a_command_is_refused() -> None:
    writes = [Write("SET", "k1", ("v", "EX", 60)), Write("ZADD", "k2", (1.5, "m")), Write("EXPIRE", "k2", (9,))]
    keys, argv = encode(writes)
    assert (keys, argv) == (["k1", "k2"], ["SET 0 3;ZADD 1 2;EXPIRE 1 1", "v", "EX", 60, 1.5, "m", 9])
    with pytest.raises(ValueError):  # names are written into a script's text as they are: capitals only
        encode([Write("set", "k1", ("v",))])


async def test_a_turn_end_run_twice_by_a_client_retry_writes_once_and_counts_as_done(bot: Bot) -> None:
    turns, keys, redis = bot.services.turns, bot.services.keys, bot.services.redis
    user, token, key = "oTwice_0001", bot.services.turns.new_lock_token(), keys.last_venue("oTwice_0001")
    assert (await turns.begin(user, "m1", token)).outcome == "ok"
    for _ in range(2):  # redis-py retries a call that timed out: the first may have run
        assert await turns.finish(user, "m1", token, b"reply", DialogWrite("keep"), [Write("RPUSH", key, ("x",))],
                                  held_for=0.01) == FINISHED
    assert await redis.llen(key) == 1
    assert not await redis.exists(keys.lock(user))


async def test_a_turn_end_that_finds_another_turn_holding_the_lock_writes_nothing_and_leaves_it(bot: Bot) -> None:
    turns, keys, redis = bot.services.turns, bot.services.keys, bot.services.redis
    user, token, key = "oLost_0001", bot.services.turns.new_lock_token(), keys.last_venue("oLost_0001")
    assert (await turns.begin(user, "m1", token)).outcome == "ok"
    await redis.set(keys.lock(user), "another-turn", px=5000)  # ours ran out and another turn took it
    assert await turns.finish(user, "m1", token, b"reply", DialogWrite("keep"), [Write("RPUSH", key, ("x",))],
                              held_for=0.01) == LATE
    assert not await redis.exists(key)
    assert await redis.get(keys.lock(user)) == b"another-turn"


async def test_a_turn_end_that_runs_after_the_server_gave_up_lets_the_user_and_the_push_go(bot: Bot) -> None:
    turns, keys, redis = bot.services.turns, bot.services.keys, bot.services.redis
    user, token, key = "oLate_0002", bot.services.turns.new_lock_token(), keys.last_venue("oLate_0002")
    assert (await turns.begin(user, "m1", token)).outcome == "ok"
    lock_ttl_ms = int(bot.services.settings.server.user_lock_ttl * 1000)
    await redis.pexpire(keys.lock(user), lock_ttl_ms - 2000)  # by Redis's clock 2 s went by since BEGIN,
    assert await turns.finish(user, "m1", token, b"reply", DialogWrite("keep"), [Write("RPUSH", key, ("x",))],
                              held_for=0.01) == LATE  # by the server's, 10 ms: it stopped waiting a second ago
    assert not await redis.exists(key)
    assert not await redis.exists(keys.lock(user))
    assert (await turns.begin(user, "m1", token)).outcome == "ok"  # not "dup": the push was answered busy


class ReadCounter:
    """Records the hash reads a turn leaves to the handler (each one a round trip of its own), and still
    makes each one against the real Redis."""

    def __init__(self, bot: Bot) -> None:
        self.keys: list[str] = []
        turns = bot.services.turns
        read = turns.read_hash

        async def counted(key: str) -> dict[bytes, bytes]:
            self.keys.append(key)
            return await read(key)

        turns.read_hash = counted  # type: ignore[method-assign]


async def test_the_hashes_a_route_declares_come_with_the_turn(make_bot: BotFactory) -> None:
    """防疫健康信息码 declares that it reads the cached image and the 二码合一 verification: for a claimed user both
    come with the turn's first script, so showing the code takes no round trip for them. The same handler
    routed without the declaration reads them itself."""
    declared = await make_bot()
    await full_claim(declared, "oPrefetch_1")
    counter = ReadCounter(declared)
    assert (await declared.push(declared.sim.text("oPrefetch_1", "防疫健康信息码")))["MsgType"] == "image"
    assert not [key for key in counter.keys if ":{oPrefetch_1}:" in key]  # (a cluster reads the colour apart)

    undeclared = Router("undeclared")
    undeclared.keywords("看码")(health_code.show_or_claim)
    plain = await make_bot(routers=[undeclared, basics.router])
    await plain.services.codes.profiles.save("oPrefetch_2", Person(NAME, "resident_id", ID, PHONE), time.time())
    counter = ReadCounter(plain)
    assert (await plain.push(plain.sim.text("oPrefetch_2", "看码")))["MsgType"] == "image"
    assert [key for key in counter.keys if ":{oPrefetch_2}:" in key], "undeclared: the handler reads them itself"
