"""Data lifecycle: what expires and when, and what 注销健康码 leaves behind (only pseudonyms and TTLs)."""

from __future__ import annotations

from pathlib import Path

from storage.travel import Visit
from tests.conftest import Bot, BotFactory
from tests.helpers import config_for, healthbot
from tests.journeys import (
    AGE_6,
    ID,
    NAME,
    PHONE,
    bind,
    claim_until,
    full_claim,
    last_code,
)


async def ttl(bot: Bot, key: str) -> int:
    return int(await bot.services.redis.ttl(key))


async def test_every_ephemeral_record_has_its_ttl(make_bot: BotFactory) -> None:
    bot = await make_bot(dialog={"ttl": 120}, server={"dedup_ttl": 30})
    keys, user = bot.services.keys, "oLife_0001"
    push = bot.sim.text(user, "防疫健康信息码")
    await bot.push(push)
    assert 0 < await ttl(bot, keys.dialog(user)) <= 120  # dialog state: one sliding TTL
    assert 0 < await ttl(bot, keys.seen(user, f"m{push.split('<MsgId>')[1].split('<')[0]}")) <= 30
    await bot.say(user, "取消")
    await claim_until(bot, user, ["行程码", "13912345678", "同意并授权"])
    phone_index = bot.services.vault.index("phone", "13912345678")
    assert 0 < await ttl(bot, keys.sms_code(phone_index, user)) <= 300  # SMS code: 5 minutes
    assert 0 < await ttl(bot, keys.sms_sent_user(user)) <= 86400
    await bot.say(user, last_code(bot, "13912345678"))  # no travel data: 暂无行程数据
    assert not await bot.services.redis.exists(keys.sms_code(phone_index, user))  # single use: gone once used


async def test_deregistering_leaves_only_pseudonyms_and_expiring_keys(bot: Bot) -> None:
    redis, keys, user = bot.services.redis, bot.services.keys, "oLife_0002"
    await full_claim(bot, user)
    await bind(bot, user, AGE_6, "李小宝")
    async with redis.pipeline() as pipe:
        visit = Visit("北京市", bot.services.clock.time() - 3600, overseas=False)
        bot.services.travel.registry.queue_visit(pipe, bot.services.vault.index("phone", PHONE), visit)
        await pipe.execute()
    await claim_until(bot, user, ["核验行程卡", "1", "同意并授权"])  # the claim proved the phone: no code
    assert await redis.exists(keys.travel_verified(user))
    await claim_until(bot, user, ["注销健康码", "确认注销"])
    left = [k.decode() async for k in redis.scan_iter(match=keys.user_glob(user))]
    assert left
    for key in left:  # counters and limits outlive 注销 (issue: it must not reset them), each expiring
        assert (":seen:" in key or ":done:" in key or key.endswith((":lock", ":dialog-was", ":sms-sent"))
                or ":tokens:" in key or ":traced:" in key), key  # traced: the person 场所码 entries name
        assert await redis.ttl(key) in range(1, 10**9) or not await redis.exists(key), key  # expiring, or gone
    assert await bot.services.relatives.guardians(AGE_6) == 0
    index = bot.services.codes.profiles.doc_index("resident_id", ID)
    assert await bot.services.codes.profiles.holders(index) == []
    entries = await redis.xrange(keys.audit())
    assert [e[1][b"action"] for e in entries] == [b"bind", b"unbind"]
    for _, fields in entries:  # the audit trail outlives the data only as keyed pseudonyms
        blob = b"".join(fields.values()).decode()
        for plain in (user, ID, NAME, AGE_6, "李小宝", PHONE):
            assert plain not in blob


async def test_the_audit_after_a_guardian_deregisters_shows_when_and_survives_any_entry(bot: Bot,
                                                                                       tmp_path: Path) -> None:
    """注销 writes its unbinds with the time they happened (not a far-future stand-in that `admin audit` could
    not print), and an entry the command cannot show is one line, never the end of the listing."""
    user = "oLife_0003"
    await full_claim(bot, user)
    await bind(bot, user, AGE_6, "李小宝")
    await claim_until(bot, user, ["注销健康码", "确认注销"])
    entries = await bot.services.audit.latest(10)
    assert [e["action"] for e in entries] == ["bind", "unbind"]
    assert all(abs(float(e["at"]) - bot.services.clock.time()) < 3600 for e in entries)
    await bot.services.redis.xadd(bot.services.keys.audit(), {"action": "unbind", "at": "1000000000000.0"})
    done = await healthbot("admin", "audit", "--config", str(config_for(bot, tmp_path)))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 3 and lines[-1].startswith("(entry ") and "cannot be shown" in lines[-1]
    assert " bind " in lines[0] and " unbind " in lines[1]
