"""场所码 end to end: an operator creates a venue, citizens scan it with WeChat, entries are recorded and
traced, and nothing plain is left in Redis."""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import zxingcpp
from PIL import Image

from bot.devkit.standin import Fault
from bot.domain.clock import SHANGHAI, SettableClock
from bot.domain.render import STAMP_FILL
from storage.venues import SCENE_PREFIX
from tests.conftest import Bot, BotFactory
from tests.helpers import RedisCutter, config_for, healthbot
from tests.journeys import (
    AGE_6,
    ID,
    NAME,
    PHONE,
    adult,
    assert_nothing_plain,
    bind,
    claim_until,
    full_claim,
    prove_phone,
)

SHOTS = os.environ.get("HEALTHBOT_SCREENSHOTS")  # a folder: also write the README's picture of a poster


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(datetime.now(SHANGHAI).replace(microsecond=0))  # the CLI reads the real clock


@pytest.fixture
async def bot(make_bot: BotFactory, clock: SettableClock) -> Bot:
    return await make_bot(clock=clock)


def window(minutes: int = 30) -> list[str]:
    now = datetime.now(SHANGHAI)
    fmt = "%Y-%m-%d %H:%M:%S"
    start, end = now - timedelta(minutes=minutes), now + timedelta(minutes=5)
    return ["--from", start.strftime(fmt), "--to", end.strftime(fmt)]


async def add_venue(bot: Bot, tmp_path: Path, name: str = "国贸商城") -> str:
    """The operator's command; the poster's QR is WeChat's, which resolves to the venue's scene."""
    config = str(config_for(bot, tmp_path))
    done = await healthbot("admin", "venue", "add", name, "--address", "建国门外大街1号", "--out",
                           str(tmp_path / "posters"), "--config", config)
    assert done.returncode == 0, done.stderr
    scene = re.search(rf"{SCENE_PREFIX}\S+", done.stdout).group(0)  # type: ignore[union-attr]
    poster = Image.open(re.search(r"poster: (\S+)", done.stdout).group(1))  # type: ignore[union-attr]
    assert poster.size == (1240, 1754)
    if SHOTS:
        poster.resize((620, 877)).save(Path(SHOTS) / "venue-poster.png")
    url = [found.text for found in zxingcpp.read_barcodes(poster)]
    assert len(url) == 1
    assert [q["scene"] for q in bot.standin.qrcodes.values() if q["url"] == url[0]] == [scene]
    return scene


def stamped(bot: Bot, reply: dict[str, object]) -> bool:
    """The band under the title bar that carries the venue and the time."""
    png = bot.standin.media[reply["Image"]["MediaId"]]  # type: ignore[index]
    return Image.open(io.BytesIO(png)).convert("RGB").getpixel((5, 100)) == STAMP_FILL


async def trace(bot: Bot, tmp_path: Path, *args: str) -> str:
    done = await healthbot("admin", "trace", *args, "--config", str(config_for(bot, tmp_path)))
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_a_scan_records_the_entry_and_replies_with_the_stamped_code(bot: Bot, tmp_path: Path) -> None:
    scene = await add_venue(bot, tmp_path)
    user = "oVenue_0001"
    await full_claim(bot, user)
    reply = await bot.push(bot.sim.event(user, "SCAN", scene))
    assert reply["MsgType"] == "image" and stamped(bot, reply)
    if SHOTS:
        (Path(SHOTS) / "venue-stamped.png").write_bytes(bot.standin.media[reply["Image"]["MediaId"]])
    plain = await bot.push(bot.sim.text(user, "防疫健康信息码"))
    assert not stamped(bot, plain)  # the stamp is for the scan only
    listed = await trace(bot, tmp_path, "venue", scene, *window())
    assert "张*三  110***********002X  本人" in listed and "1 entries at 国贸商城" in listed
    assert ID not in listed and NAME not in listed


async def test_a_new_follower_claims_first_and_the_entry_is_recorded_then(bot: Bot, tmp_path: Path) -> None:
    scene = await add_venue(bot, tmp_path, "人民医院")
    user = "oVenue_0002"
    first = await bot.say_xml(bot.sim.event(user, "subscribe", f"qrscene_{scene}"))
    assert "您正在「人民医院」扫码登记" in first and "请先申领防疫健康信息码" in first and "回复「同意」" in first
    assert "0 entries" in await trace(bot, tmp_path, "venue", scene, *window())
    await claim_until(bot, user, ["同意", NAME, ID, PHONE])
    await prove_phone(bot, user)
    reply = await bot.push(bot.sim.text(user, "确认"))
    assert reply["MsgType"] == "image" and stamped(bot, reply)
    assert "1 entries at 人民医院" in await trace(bot, tmp_path, "venue", scene, *window())


async def test_one_tap_registers_a_relative_who_came_along(bot: Bot, tmp_path: Path) -> None:
    scene = await add_venue(bot, tmp_path)
    user = "oVenue_0003"
    await full_claim(bot, user)
    await bind(bot, user, AGE_6, "李小宝")
    await bot.push(bot.sim.event(user, "SCAN", scene))
    await bot.dispatcher.drain()
    offer = [m["text"]["content"] for m in bot.standin.messages
             if m["touser"] == user and "为亲属登记" in m.get("text", {}).get("content", "")]
    assert len(offer) == 1 and 'href="weixin://bizmsgmenu?msgmenucontent=为亲属登记 1&msgmenuid=1"' in offer[0]
    assert "李*宝（子女，2018 年生）" in offer[0] and AGE_6 not in offer[0] and "李小宝" not in offer[0]
    reply = await bot.push(bot.sim.text(user, "为亲属登记 1"))
    assert reply["MsgType"] == "image" and stamped(bot, reply)
    listed = await trace(bot, tmp_path, "venue", scene, *window())
    assert "2 entries at 国贸商城" in listed
    assert "张*三  110***********002X  本人" in listed and "李*宝  110***********0512  子女" in listed
    # The tracer's notice says when the visit was and names the relative the guardian registered.
    assert "notified 1 followers" in await trace(bot, tmp_path, "notify", scene, *window(), "--text-template",
                                                 "exposure")
    notice = [m["text"]["content"] for m in bot.standin.messages
              if "【健康提示】" in m.get("text", {}).get("content", "")]
    assert len(notice) == 1 and "本人" in notice[0] and "李*宝（子女）" in notice[0]
    for whose in ("本人", "李\\*宝（子女）"):  # each visit with its day and time
        assert re.search(rf"\d\d-\d\d \d\d:\d\d {whose}", notice[0]), notice[0]


async def test_registering_a_relative_needs_a_recent_scan(bot: Bot) -> None:
    user = "oVenue_0004"
    await full_claim(bot, user)
    assert "请先用微信扫描场所张贴的「场所码」" in await bot.say(user, "为亲属登记 1")


async def test_a_disabled_or_unknown_venue_says_so(bot: Bot, tmp_path: Path) -> None:
    scene = await add_venue(bot, tmp_path)
    user = "oVenue_0005"
    await full_claim(bot, user)
    done = await healthbot("admin", "venue", "disable", scene, "--config", str(config_for(bot, tmp_path)))
    assert done.returncode == 0
    assert "该场所码已停用" in await bot.say_xml(bot.sim.event(user, "SCAN", scene))
    assert "该场所码无效" in await bot.say_xml(bot.sim.event(user, "SCAN", f"{SCENE_PREFIX}nosuchvenue"))
    listed = await healthbot("admin", "venue", "list", "--config", str(config_for(bot, tmp_path)))
    assert f"{scene}  disabled" in listed.stdout
    assert "0 entries" in await trace(bot, tmp_path, "venue", scene, *window())


async def test_trace_lists_exactly_the_window_and_a_person_lists_their_venues(
        bot: Bot, clock: SettableClock, tmp_path: Path) -> None:
    mall, hospital = await add_venue(bot, tmp_path, "国贸商城"), await add_venue(bot, tmp_path, "人民医院")
    user = "oVenue_0006"
    await full_claim(bot, user)
    clock.advance(-3 * 3600)  # three hours ago: outside a 30-minute window
    await bot.push(bot.sim.event(user, "SCAN", mall, create_time=int(clock.time())))  # distinct: not a retry
    clock.advance(3 * 3600)
    await bot.push(bot.sim.event(user, "SCAN", mall, create_time=int(clock.time()) + 1))
    await bot.push(bot.sim.event(user, "SCAN", hospital, create_time=int(clock.time()) + 2))
    assert "1 entries at 国贸商城" in await trace(bot, tmp_path, "venue", mall, *window(30))
    assert "2 entries at 国贸商城" in await trace(bot, tmp_path, "venue", mall, *window(240))
    person = await trace(bot, tmp_path, "person", "--doc-type", "resident_id", "--doc-no", ID, "--days", "1")
    assert person.count("国贸商城") == 2 and person.count("人民医院") == 1


async def test_export_writes_full_records_and_an_audit_entry(bot: Bot, tmp_path: Path, prefix: str,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every line the server logs during these flows
    scene = await add_venue(bot, tmp_path)
    user = "oVenue_0007"
    await full_claim(bot, user)
    await bot.push(bot.sim.event(user, "SCAN", scene))
    out = tmp_path / "export.csv"
    refused = await healthbot("admin", "trace", "venue", scene, *window(), "--export", str(out), "--config",
                              str(config_for(bot, tmp_path)))
    assert refused.returncode == 2 and "--reason" in refused.stderr and not out.exists()
    assert refused.stdout == ""  # refused before anything was read or listed
    await trace(bot, tmp_path, "venue", scene, *window(), "--export", str(out), "--reason", "疾控流调 2026-118号")
    rows = list(csv.DictReader(out.read_text(encoding="utf-8-sig").splitlines()))
    assert [(r["name"], r["doc_no"], r["contact_phone"]) for r in rows] == [(NAME, ID, PHONE)]
    audit = await healthbot("admin", "audit", "--config", str(config_for(bot, tmp_path)))
    assert "export" in audit.stdout and "reason: 疾控流调 2026-118号 (1 records)" in audit.stdout
    await assert_nothing_plain(bot.services.redis, prefix, [ID, NAME, PHONE])
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert logged and not any(secret in logged for secret in (ID, NAME, PHONE))


async def test_an_entry_stays_traceable_after_its_holder_deregisters(bot: Bot, tmp_path: Path) -> None:
    """流调 needs who was there for the whole retention, even when they have since deleted their code."""
    scene = await add_venue(bot, tmp_path)
    user = "oVenue_0010"
    await full_claim(bot, user)
    await bot.push(bot.sim.event(user, "SCAN", scene))
    await claim_until(bot, user, ["注销健康码", "确认注销"])
    assert await bot.services.codes.profiles.load(user) is None
    listed = await trace(bot, tmp_path, "venue", scene, *window())
    assert "1 entries at 国贸商城" in listed and "张*三  110***********002X  本人" in listed
    out = tmp_path / "export.csv"
    await trace(bot, tmp_path, "venue", scene, *window(), "--export", str(out), "--reason", "疾控流调")
    rows = list(csv.DictReader(out.read_text(encoding="utf-8-sig").splitlines()))
    assert [(r["name"], r["doc_no"], r["contact_phone"], r["relationship"]) for r in rows] == [
        (NAME, ID, PHONE, "本人")]


async def test_entries_expire_after_the_retention(bot: Bot, tmp_path: Path) -> None:
    scene = await add_venue(bot, tmp_path)
    user = "oVenue_0008"
    await full_claim(bot, user)
    await bot.push(bot.sim.event(user, "SCAN", scene))
    services = bot.services
    retention = services.settings.venues.retention_days * 86400
    day_keys = [k async for k in services.redis.scan_iter(match=f"{services.keys.prefix}:v:*:in:*")]
    assert len(day_keys) == 1
    visit_keys = [k async for k in services.redis.scan_iter(match=f"{services.keys.prefix}:d:*:visits")]
    identity_keys = [k async for k in services.redis.scan_iter(match=f"{services.keys.prefix}:u:*:traced:*")]
    assert len(visit_keys) == 1 and len(identity_keys) == 1
    for key in (day_keys[0], visit_keys[0], identity_keys[0]):  # the entry's day ends today: gone a retention after
        assert retention < await services.redis.ttl(key) <= retention + 86400


async def test_notify_reaches_those_who_entered_and_counts_who_cannot_be_reached(bot: Bot, tmp_path: Path) -> None:
    scene = await add_venue(bot, tmp_path)
    for n, user in enumerate(("oVenue_0010", "oVenue_0011")):
        await full_claim(bot, user, adult(n))
        await bot.push(bot.sim.event(user, "SCAN", scene))
    bot.standin.faults["message/custom/send"].append(Fault(errcode=45015))
    out = await trace(bot, tmp_path, "notify", scene, *window(), "--text-template", "exposure")
    assert "notified 1 followers; 1 not reachable" in out
    told = [m for m in bot.standin.messages if "曾在「国贸商城」扫码登记" in m.get("text", {}).get("content", "")]
    assert len(told) == 1
    # Redis fails between the two sends (each reads the shared access token): the epidemiologist is told
    # how far the notice got, in one line.
    sent = len(bot.standin.messages)
    async with RedisCutter(bot.services.keys.token().encode(), times=2) as cutter:
        done = await healthbot("admin", "trace", "notify", scene, *window(), "--text-template", "exposure",
                               "--config", str(config_for(bot, tmp_path, redis_url=cutter.url)))
    assert done.returncode == 1 and "notified 1 followers" in done.stdout
    assert "stopped early, 1 not told" in done.stderr and "Traceback" not in done.stderr
    assert len(bot.standin.messages) == sent + 1


async def test_an_epidemiologists_slips_get_one_line_and_send_or_write_nothing(bot: Bot, tmp_path: Path) -> None:
    scene = await add_venue(bot, tmp_path)
    user = "oVenue_0012"
    await full_claim(bot, user)
    await bot.push(bot.sim.event(user, "SCAN", scene))
    config = str(config_for(bot, tmp_path))
    # A window of centuries reads the retained days only, and finds the entry (it crashed on year 0 before).
    assert "1 entries at 国贸商城" in await trace(bot, tmp_path, "venue", scene, "--from", "0001-01-01",
                                                 "--to", "9999-12-31")
    fmt = "%Y-%m-%d %H:%M"
    later, earlier = datetime.now(SHANGHAI) + timedelta(hours=1), datetime.now(SHANGHAI) - timedelta(hours=1)
    reversed_window = ["--from", later.strftime(fmt), "--to", earlier.strftime(fmt)]
    done = await healthbot("admin", "trace", "venue", scene, *reversed_window, "--config", config)
    assert done.returncode == 2 and "is after --to" in done.stderr and "Traceback" not in done.stderr
    sent = len(bot.standin.messages)
    done = await healthbot("admin", "trace", "notify", scene, *window(), "--text-template", "../../etc/passwd",
                           "--config", config)
    assert done.returncode == 2 and "there are: exposure" in done.stderr and "Traceback" not in done.stderr
    assert len(bot.standin.messages) == sent
    missing = tmp_path / "no-such-folder" / "export.csv"
    done = await healthbot("admin", "trace", "venue", scene, *window(), "--export", str(missing), "--reason", "流调",
                           "--config", config)
    assert done.returncode == 1 and "cannot write" in done.stderr and "Traceback" not in done.stderr
    audit = await healthbot("admin", "audit", "--config", config)
    assert "export" not in audit.stdout  # nothing left, so nothing audited
    kept = tmp_path / "kept.csv"  # someone else's file, or a link to one: the records never land there
    kept.write_text("old", encoding="utf-8")
    link = tmp_path / "link.csv"
    link.symlink_to(kept)
    for target in (kept, link):
        done = await healthbot("admin", "trace", "venue", scene, *window(), "--export", str(target), "--reason",
                               "流调", "--config", config)
        assert done.returncode == 1 and "cannot write" in done.stderr and "nothing exported" in done.stderr
        assert kept.read_text(encoding="utf-8") == "old"
    fresh = tmp_path / "fresh.csv"
    await trace(bot, tmp_path, "venue", scene, *window(), "--export", str(fresh), "--reason", "流调")
    assert fresh.stat().st_mode & 0o777 == 0o600 and ID in fresh.read_text(encoding="utf-8-sig")


async def test_a_venue_name_that_cannot_be_one_is_refused_before_anything_is_stored(bot: Bot,
                                                                                   tmp_path: Path) -> None:
    """A name with a line break (or too long) is one line and status 2, and no venue nor permanent QR code
    (WeChat allows 100,000 an account) is used up."""
    config = str(config_for(bot, tmp_path))
    for name in ("国贸\n商城", "国" * 41, "国贸\x07商城"):
        done = await healthbot("admin", "venue", "add", name, "--config", config)
        assert done.returncode == 2 and "nothing was stored" in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    assert bot.standin.qrcodes == {}
    assert await bot.services.venues.all() == []


async def test_nothing_older_than_the_retention_is_listed_exported_or_notified(make_bot: BotFactory,
                                                                              tmp_path: Path) -> None:
    """With `retention_days = 1`, an entry of 36 hours ago is still in its day's key (which expires a day
    later) but no trace lists it, exports it or tells its holder; one of an hour ago is."""
    bot = await make_bot(venues={"retention_days": 1})
    scene = await add_venue(bot, tmp_path)
    venues, now = bot.services.venues, time.time()
    for user, ago in (("oVenue_0030", 36 * 3600), ("oVenue_0031", 3600)):
        await full_claim(bot, user, adult(30 + int(ago // 3600)))
        profile = await bot.services.codes.profiles.load(user)
        assert profile is not None
        await venues.record_holder(scene, user, profile.doc_index, profile.sealed, venues.new_visit(), now - ago)
    config = config_for(bot, tmp_path)
    config.write_text(config.read_text("utf-8") + "\n[venues]\nretention_days = 1\n", "utf-8")
    fmt = "%Y-%m-%d %H:%M:%S"
    since = ["--from", (datetime.now(SHANGHAI) - timedelta(days=3)).strftime(fmt),
             "--to", datetime.now(SHANGHAI).strftime(fmt)]
    listed = await healthbot("admin", "trace", "venue", scene, *since, "--config", str(config))
    assert listed.returncode == 0 and "1 entries at 国贸商城" in listed.stdout, listed.stdout + listed.stderr
    sent = len(bot.standin.messages)
    told = await healthbot("admin", "trace", "notify", scene, *since, "--text-template", "exposure",
                           "--config", str(config))
    assert told.returncode == 0 and "notified 1 followers" in told.stdout
    assert {m["touser"] for m in bot.standin.messages[sent:]} == {"oVenue_0031"}
    old = await bot.services.codes.profiles.load("oVenue_0030")
    assert old is not None and await venues.visits(old.doc_index, now - 3 * 86400, now, now) == []


async def test_a_date_only_window_means_whole_days_and_the_output_says_which(bot: Bot, tmp_path: Path) -> None:
    scene = await add_venue(bot, tmp_path)
    user = "oVenue_0030"
    await full_claim(bot, user)
    await bot.push(bot.sim.event(user, "SCAN", scene))
    today = datetime.now(SHANGHAI).strftime("%Y-%m-%d")
    out = await trace(bot, tmp_path, "venue", scene, "--from", today, "--to", today)
    assert f"window: {today} 00:00:00 to {today} 23:59:59 (Shanghai time)" in out
    assert "1 entries at 国贸商城" in out


async def test_the_poster_prints_the_venue_id_the_manager_quotes_to_tracers(bot: Bot, tmp_path: Path) -> None:
    scene = await add_venue(bot, tmp_path)
    poster = Image.open(next((tmp_path / "posters").glob("*.png"))).convert("L")
    width, height = poster.size
    assert poster.crop((0, height - 80, width, height - 45)).getextrema()[0] < 128  # a line printed there
    printed = bot.services.templates.render("venues/poster_id.txt", scene=scene)
    assert printed == f"场所编号：{scene}（流调时请报此编号）"


async def test_leaving_records_the_stay_for_the_visit_and_without_it_the_default_applies(
        make_bot: BotFactory, clock: SettableClock, tmp_path: Path) -> None:
    bot = await make_bot(clock=clock, limits={"messages_burst": 0})  # a long journey for one account
    scene = await add_venue(bot, tmp_path)  # the default stay: 2 h
    user, other = "oVenue_0101", "oVenue_0102"
    await full_claim(bot, user)
    await full_claim(bot, other, adult(3))
    await bind(bot, user, AGE_6, "李小宝")
    assert "没有未离场" in await bot.say(user, "离场")
    await bot.push(bot.sim.event(user, "SCAN", scene))
    await bot.say(user, "为亲属登记 1")  # the child came along: the same visit
    await bot.push(bot.sim.event(user, "SCAN", scene, create_time=int(clock.time()) + 1))  # again, inside: no entry
    await bot.push(bot.sim.event(other, "SCAN", scene))
    clock.advance(600)
    left = await bot.say(user, "离场")
    assert "已登记离场：国贸商城" in left and "停留 10 分钟" in left
    assert "没有未离场" in await bot.say(user, "离场")
    listed = await trace(bot, tmp_path, "venue", scene, *window())
    assert "3 entries at 国贸商城" in listed, listed
    rows = [line for line in listed.splitlines() if " min, " in line]
    assert len(rows) == 3
    assert sum("(10 min, 离场)" in row for row in rows) == 2  # the user and the child
    assert any("李*宝" in row and "(10 min, 离场)" in row for row in rows)
    assert sum("(120 min, default)" in row for row in rows) == 1  # the other, who did not reply 离场


async def test_a_venues_default_stay_is_set_when_it_is_added(bot: Bot, tmp_path: Path) -> None:
    config = str(config_for(bot, tmp_path))
    done = await healthbot("admin", "venue", "add", "社区医院", "--stay", "45m", "--out", str(tmp_path), "--config",
                           config)
    assert done.returncode == 0 and "lasts 45 min" in done.stdout, done.stderr
    for bad in ("0m", "25h", "two hours", ""):
        refused = await healthbot("admin", "venue", "add", "社区医院", "--stay", bad, "--out", str(tmp_path),
                                  "--config", config)
        assert refused.returncode == 2 and "--stay" in refused.stderr and "nothing was stored" in refused.stderr


async def test_the_contacts_of_a_case_are_those_whose_stays_overlapped_its_own(
        make_bot: BotFactory, clock: SettableClock, tmp_path: Path) -> None:
    bot = await make_bot(clock=clock, limits={"messages_burst": 0})
    v1, v2 = await add_venue(bot, tmp_path, "国贸商城"), await add_venue(bot, tmp_path, "人民医院")
    case, b, c, g = "oCase_A", "oCase_B", "oCase_C", "oCase_G"
    await full_claim(bot, case)
    for n, user in enumerate((b, c, g)):
        await full_claim(bot, user, adult(11 + n))
    await bind(bot, g, AGE_6, "李小宝")  # D: a child without a phone, registered by G

    def scan(user: str, scene: str) -> dict[str, object]:
        return bot.sim.event(user, "SCAN", scene, create_time=int(clock.time()))

    clock.advance(-5 * 3600)
    await bot.push(scan(case, v1))
    clock.advance(300)
    await bot.push(scan(b, v1))  # B overlaps the case at V1
    clock.advance(25 * 60)
    assert "停留 30 分钟" in await bot.say(case, "离场")
    clock.advance(2 * 3600)
    await bot.push(scan(c, v1))  # C two hours after the case left: not a contact
    await bot.push(scan(case, v2))
    clock.advance(300)
    await bot.push(scan(g, v2))
    assert (await bot.push(bot.sim.text(g, "为亲属登记 1")))["MsgType"] == "image"  # D, through G
    clock.advance(5 * 3600 - 2 * 3600 - 35 * 60)  # back to now, as the CLI reads it

    found = await trace(bot, tmp_path, "contacts", "--doc-type", "resident_id", "--doc-no", ID, "--days", "1",
                        "--overlap", "30m")
    v1_part, v2_part = found.split("人民医院 (")[0], found.split("人民医院 (")[1]
    assert "国贸商城" in v1_part and "(离场)" in v1_part and "1 contacts" in v1_part
    b_doc, c_doc = adult(11), adult(12)
    assert f"{b_doc[:3]}***********{b_doc[-4:]}" in v1_part and f"{c_doc[:3]}***********{c_doc[-4:]}" not in found
    assert "李*宝" in v2_part and "子女, contact 138****1234" in v2_part  # D, with the guardian's phone
    assert "110***********002X" not in found.replace("the case", "")  # the case itself is never listed
    assert "3 people in 3 entries at 2 visits of the case" in found, found
    out = tmp_path / "contacts.csv"
    await trace(bot, tmp_path, "contacts", "--doc-type", "resident_id", "--doc-no", ID, "--days", "1",
                "--export", str(out), "--reason", "疾控流调 2026-120号")
    rows = list(csv.DictReader(io.StringIO(out.read_text("utf-8-sig"))))
    assert sorted(r["doc_no"] for r in rows) == sorted([b_doc, adult(13), AGE_6])
    audit = await healthbot("admin", "audit", "--config", str(config_for(bot, tmp_path)))
    assert "export" in audit.stdout and "疾控流调 2026-120号 (3 records)" in audit.stdout
    told = await trace(bot, tmp_path, "contacts", "--doc-type", "resident_id", "--doc-no", ID, "--days", "1",
                       "--notify", "exposure")
    assert "国贸商城: notified 1 followers" in told and "人民医院: notified 1 followers" in told
    notices = {m["touser"]: m["text"]["content"] for m in bot.standin.messages
               if "【健康提示】" in m.get("text", {}).get("content", "")}
    assert set(notices) == {b, g} and "李*宝（子女）" in notices[g]  # the guardian, for the child too


async def test_a_rotated_venue_shows_todays_code_and_refuses_yesterdays(bot: Bot, clock: SettableClock,
                                                                        tmp_path: Path) -> None:
    done = await healthbot("admin", "venue", "add", "地铁国贸站", "--rotate", "daily", "--config",
                           str(config_for(bot, tmp_path)))
    assert done.returncode == 0 and "a new code every day" in done.stdout, done.stderr
    scene = re.search(rf"{SCENE_PREFIX}\S+", done.stdout).group(0)  # type: ignore[union-attr]
    screen = urlsplit(re.search(r"screen: (\S+)", done.stdout).group(1))  # type: ignore[union-attr]

    async def shown_scene() -> str:
        page = await (await bot.client.get(f"/venue-code?{screen.query}")).text()
        assert "地铁国贸站" in page and "请使用微信扫一扫登记" in page
        png = await (await bot.client.get(f"/venue-code.png?{screen.query}")).read()
        [url] = [found.text for found in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]
        [found] = [q["scene"] for q in bot.standin.qrcodes.values() if q["url"] == url]
        return found

    today = await shown_scene()
    assert today.startswith(scene + "~") and await shown_scene() == today  # stable within the day
    user = "oVenue_0201"
    await full_claim(bot, user)
    assert stamped(bot, await bot.push(bot.sim.event(user, "SCAN", today)))

    async def recorded() -> int:
        now = clock.time()
        return len(await bot.services.venues.entries(scene, now - 2 * 86400, now, now))

    assert await recorded() == 1
    clock.advance(86400)  # the next day: the screen shows a new code
    tomorrow = await shown_scene()
    assert tomorrow != today and tomorrow.startswith(scene + "~")
    refused = await bot.push(bot.sim.event(user, "SCAN", today, create_time=int(clock.time())))
    assert refused["Content"] == "该场所码已更新，请扫描现场最新场所码"
    assert await recorded() == 1  # nothing recorded
    assert "该场所码已更新" in (await bot.push(bot.sim.event(user, "SCAN", scene, create_time=int(clock.time()) + 1)
                                           ))["Content"]  # the bare scene of a rotating venue is no code either
    assert stamped(bot, await bot.push(bot.sim.event(user, "SCAN", tomorrow, create_time=int(clock.time()) + 2)))
    assert await recorded() == 2
    forged = await bot.client.get("/venue-code", params={"t": screen.query.removeprefix("t=") + "x"})
    assert forged.status == 403
