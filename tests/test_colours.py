"""赋码 that people can see and contest: a reason for every colour but green, a notice of every change to the
holder and every guardian, 赋码记录, and 申诉 from the chat to the operator's answer."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from PIL import Image

from bot.app import NOTICES
from bot.domain.clock import SHANGHAI, SettableClock
from bot.usecases.cards import build_card, reason_line
from bot.usecases.holders import find_holder, holder_facts
from bot.usecases.notices import NoticeSender
from tests.conftest import Bot, BotFactory, Upstream
from tests.helpers import CHROMIUM, config_for, free_port, headless, healthbot, write_config
from tests.journeys import ID, adult, assert_nothing_plain, bind, claim_until, elder, full_claim, guardian
from tests.test_checkpoints import headline, scan, scan_path
from tests.test_workers import worker_pids

TEMPLATE = "TPL-colour-change"
ELDER_ID, ELDER_NAME = elder(1), "王大明"
HOLDER, GUARDIAN_1, GUARDIAN_2, STRANGER = "oHolder_0001", "oGuardian_0001", "oGuardian_0002", "oStranger_0001"


@pytest.fixture
async def bot(make_bot: BotFactory) -> Bot:
    return await make_bot(notices={"colour_template": TEMPLATE})


def templates_to(bot: Bot, user: str) -> list[dict[str, Any]]:
    return [m for m in bot.standin.templates if m["touser"] == user]


def fields(message: dict[str, Any]) -> dict[str, str]:
    return {key: value["value"] for key, value in message["data"].items()}


async def until(check: Any, seconds: float = 60.0) -> None:
    """Wait for `check()` to hold (the notice sender runs on its own), at most `seconds`."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.05)


async def two_guardians(bot: Bot) -> None:
    """An elderly relative bound by two guardians, both 父亲's children."""
    for n, user in enumerate((GUARDIAN_1, GUARDIAN_2)):
        await guardian(bot, user, adult(n + 1))
        await bind(bot, user, ELDER_ID, ELDER_NAME)


async def set_by_cli(bot: Bot, tmp_path: Path, doc_no: str, colour: str, *extra: str) -> Any:
    return await healthbot("admin", "status", "set", "--config", str(config_for(bot, tmp_path)), "--doc-type",
                           "resident_id", "--doc-no", doc_no, colour, *extra)


# Guardians are told ---------------------------------------------------------------------------------------------

async def test_both_guardians_get_one_template_message_each_and_a_repeat_sends_nothing(bot: Bot,
                                                                                         tmp_path: Path) -> None:
    await two_guardians(bot)
    await full_claim(bot, STRANGER)
    done = await set_by_cli(bot, tmp_path, ELDER_ID, "red", "--reason-code", "contact")
    assert done.returncode == 0 and "green -> red" in done.stdout, done.stderr
    started = time.monotonic()
    await until(lambda: templates_to(bot, GUARDIAN_1) and templates_to(bot, GUARDIAN_2))
    assert time.monotonic() - started < 60
    for user in (GUARDIAN_1, GUARDIAN_2):
        [message] = templates_to(bot, user)
        told = fields(message)
        assert message["template_id"] == TEMPLATE
        assert told["keyword1"] == "王*明" and told["keyword2"] == "父亲" and told["keyword3"] == "红码"
        assert told["keyword4"] == "密切接触者" and "申诉" in told["remark"]
        assert "/code?t=" in message["url"]
        assert ELDER_NAME not in json.dumps(message, ensure_ascii=False)
    assert not templates_to(bot, STRANGER) and len(bot.standin.templates) == 2  # nobody else

    again = await set_by_cli(bot, tmp_path, ELDER_ID, "red", "--reason-code", "contact")
    assert again.returncode == 0 and "already red: nothing changed, nobody told" in again.stdout
    await asyncio.sleep(1.5)  # a sender's turn or two
    assert len(bot.standin.templates) == 2


async def test_the_notices_link_opens_the_live_code_with_its_reason(bot: Bot, tmp_path: Path) -> None:
    await two_guardians(bot)
    await set_by_cli(bot, tmp_path, ELDER_ID, "yellow", "--reason-code", "risk_area")
    await until(lambda: templates_to(bot, GUARDIAN_1))
    url = templates_to(bot, GUARDIAN_1)[0]["url"]
    link = urlsplit(url)
    page = await (await bot.client.get(f"{link.path}?{link.query}")).text()
    assert headline(page) == "黄码" and "到访中高风险地区" in page and "3 天 2 检" in page


# The codes show the reason; the guard's page does not -----------------------------------------------------------

async def test_the_holders_code_shows_the_reason_and_the_guards_page_does_not(make_bot: BotFactory,
                                                                              tmp_path: Path) -> None:
    clock = SettableClock(datetime(2026, 12, 5, 10, 0, tzinfo=SHANGHAI))
    bot = await make_bot(clock=clock)
    await full_claim(bot, HOLDER)
    index = bot.services.codes.profiles.doc_index("resident_id", ID)
    await bot.services.status.change(index, "red", "contact", "operator", "operator:test")
    reply = await bot.push(bot.sim.text(HOLDER, "防疫健康信息码"))
    assert reply["MsgType"] == "image"
    services, profile = bot.services, await bot.services.codes.profiles.load(HOLDER)
    status = await services.status.status(profile.person_of, index)
    said = reason_line(services.templates, status)
    assert "密切接触者" in said and "居家健康监测" in said and "预计 12 月 15 日转绿" in said
    sent = bot.standin.media[reply["Image"]["MediaId"]]
    title = services.templates.render("cards/code_title.txt")
    holder = await find_holder(services, HOLDER, index)
    assert holder is not None
    zh = services.templates
    facts = await holder_facts(services, zh, holder)
    with_reason = await services.renderer.render(await build_card(services, zh, HOLDER, profile.person, index, status,
                                                                  title=title, facts=facts))
    without = await services.renderer.render(await build_card(services, zh, HOLDER, profile.person, index,
                                                              replace(status, code=""), title=title, facts=facts))
    assert below_the_qr(sent) == below_the_qr(with_reason) != below_the_qr(without)  # the words are drawn
    status, page = await scan(bot, scan_path(bot, reply))
    assert status == 200 and headline(page) == "红码"
    for reason_text in ("密切接触者", "居家健康监测", "转绿", "原因"):
        assert reason_text not in page
    if CHROMIUM is not None:
        dom = await headless(str(bot.client.make_url(scan_path(bot, reply))), tmp_path)
        assert 'id="colour">红码' in dom and "密切接触者" not in dom



def below_the_qr(png: bytes) -> bytes:
    """The card's pixels under its QR code, where the guidance and the reason are drawn."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return image.crop((0, image.height * 3 // 4, image.width, image.height)).tobytes()


async def test_a_lapsed_colour_turns_green_by_the_rule_and_is_told(make_bot: BotFactory) -> None:
    clock = SettableClock(datetime.now(SHANGHAI))
    bot = await make_bot(clock=clock, notices={"colour_template": TEMPLATE})
    await full_claim(bot, HOLDER)
    index = bot.services.codes.profiles.doc_index("resident_id", ID)
    await bot.services.status.change(index, "yellow", "risk_area", "operator", "operator:test")
    await until(lambda: len(templates_to(bot, HOLDER)) == 1)
    clock.advance(3 * 86400 + 1)
    assert (await bot.services.status.registry.get(index, clock.time())).colour == "green"  # at once, for guards
    await until(lambda: len(templates_to(bot, HOLDER)) == 2, seconds=15)
    told = fields(templates_to(bot, HOLDER)[-1])
    assert told["keyword3"] == "绿码" and told["keyword4"] == "规则自动转码" and "转为绿码" in told["first"]
    history = await bot.say(HOLDER, "赋码记录")
    assert history.index("黄码 → 绿码") < history.index("绿码 → 黄码")  # newest first
    assert "规则自动转码" in history


# An appeal runs to its end --------------------------------------------------------------------------------------

async def appeal(bot: Bot, user: str, command: str = "申诉") -> str:
    for answer in (command, "2", "我 12 月 3 日已做核酸，结果阴性。"):
        await bot.say(user, answer)
    await bot.push(bot.sim.image(user, "MEDIA_report_0001"))
    return await bot.say(user, "确认提交")


async def test_an_appeal_runs_from_the_chat_to_the_operators_answer_and_green(bot: Bot, tmp_path: Path) -> None:
    await full_claim(bot, HOLDER)
    config = str(config_for(bot, tmp_path))
    assert (await set_by_cli(bot, tmp_path, ID, "red", "--reason-code", "contact")).returncode == 0
    opened = await appeal(bot, HOLDER)
    ticket = re.search(r"SS-\d{8}-\d{4}", opened)
    assert ticket, opened
    ticket_no = ticket.group(0)
    assert ticket_no == f"SS-{datetime.now(SHANGHAI):%Y%m%d}-0001" and "3 天内" in opened
    listed = await healthbot("admin", "appeals", "list", "--open", "--config", config)
    assert listed.returncode == 0 and ticket_no in listed.stdout and "张*三" in listed.stdout
    assert "1 open appeals" in listed.stdout
    shown = await healthbot("admin", "appeals", "show", ticket_no, "--config", config)
    assert "已做核酸" in shown.stdout and "MEDIA_report_0001" in shown.stdout and "via operator" in shown.stdout
    progress = await bot.say(HOLDER, "申诉进度")
    assert ticket_no in progress and "处理中" in progress

    resolved = await healthbot("admin", "appeals", "resolve", ticket_no, "--accept", "--colour", "green", "--note",
                               "核酸阴性，已核实", "--config", config)
    assert resolved.returncode == 0 and "accepted, colour set green" in resolved.stdout, resolved.stderr
    index = bot.services.codes.profiles.doc_index("resident_id", ID)
    assert (await bot.services.status.registry.get(index, time.time())).colour == "green"
    await until(lambda: any("转为绿码" in fields(m)["first"] for m in templates_to(bot, HOLDER)))
    await until(lambda: any(ticket_no in m["text"]["content"] for m in bot.standin.messages
                            if m["touser"] == HOLDER and m["msgtype"] == "text"))  # the answer, no template set
    history = await bot.say(HOLDER, "赋码记录")
    lines = [line for line in history.splitlines() if "→" in line]
    assert len(lines) == 2
    assert "红码 → 绿码" in lines[0] and "申诉复核" in lines[0] and ticket_no in lines[0]
    assert "绿码 → 红码" in lines[1] and "密切接触者" in lines[1] and "卫生健康部门" in lines[1]
    assert "operator:" not in history and os.environ.get("USER", "root") not in history  # no operator's name
    assert "已通过" in await bot.say(HOLDER, "申诉进度")
    listed = await healthbot("admin", "appeals", "list", "--open", "--config", config)
    assert ticket_no not in listed.stdout and "0 open appeals" in listed.stdout
    again = await healthbot("admin", "appeals", "resolve", ticket_no, "--reject", "--note", "x", "--config", config)
    assert again.returncode == 1 and "accepted already: nothing changed" in again.stderr
    audit = await healthbot("admin", "audit", "--doc-type", "resident_id", "--doc-no", ID, "--config", config)
    assert audit.returncode == 0
    changes = [line for line in audit.stdout.splitlines() if " colour " in line]
    assert len(changes) == 2 and "green -> red, reason contact, via operator" in changes[0]
    assert "red -> green, reason appeal, via appeal" in changes[1]
    assert "appeal" in audit.stdout and f"{ticket_no} accepted, set green" in audit.stdout
    await assert_nothing_plain(bot.services.redis, bot.services.settings.redis.prefix,
                               ["已做核酸", "核酸阴性，已核实", "密切接触", "contact", ID])
    await claim_until(bot, HOLDER, ["注销健康码", "确认注销"])
    after = await healthbot("admin", "audit", "--doc-type", "resident_id", "--doc-no", ID, "--config", config)
    assert after.returncode == 0 and len([line for line in after.stdout.splitlines() if " colour " in line]) == 2


async def test_a_relatives_appeal_is_answered_to_every_guardian(bot: Bot, tmp_path: Path) -> None:
    await two_guardians(bot)
    await set_by_cli(bot, tmp_path, ELDER_ID, "red", "--reason-code", "contact")
    await until(lambda: templates_to(bot, GUARDIAN_2))
    opened = await appeal(bot, GUARDIAN_1, "申诉 1")
    ticket = re.search(r"SS-\d{8}-\d{4}", opened)
    assert ticket and "其他监护人" in opened, opened
    config = str(config_for(bot, tmp_path))
    done = await healthbot("admin", "appeals", "resolve", ticket.group(0), "--reject", "--note",
                           "经核实确为密接，请配合隔离", "--config", config)
    assert done.returncode == 0, done.stderr
    for user in (GUARDIAN_1, GUARDIAN_2):
        await until(lambda user=user: any("未通过" in m["text"]["content"] for m in bot.standin.messages
                                          if m["touser"] == user and m["msgtype"] == "text"))
    assert "赋码记录" in await bot.say(GUARDIAN_2, "赋码记录 1")


# Bad input is refused, and nothing changes -----------------------------------------------------------------------

async def test_bad_input_is_refused_and_nothing_changes(bot: Bot, tmp_path: Path) -> None:
    await full_claim(bot, HOLDER)
    index = bot.services.codes.profiles.doc_index("resident_id", ID)
    no_reason = await set_by_cli(bot, tmp_path, ID, "red")
    assert no_reason.returncode == 2
    assert "a red code needs a reason code from the catalogue ([reasons]: contact, secondary_contact" \
           in no_reason.stderr and "nothing changed" in no_reason.stderr
    unknown = await set_by_cli(bot, tmp_path, ID, "yellow", "--reason-code", "quarantined")
    assert unknown.returncode == 2 and "reason code 'quarantined' is not in the catalogue" in unknown.stderr
    assert (await bot.services.status.registry.get(index, time.time())).colour == "green"
    assert await bot.services.status.registry.history(index, time.time(), 10) == []

    assert "无需申诉" in await bot.say(HOLDER, "申诉")  # a green code has nothing to contest
    await set_by_cli(bot, tmp_path, ID, "red", "--reason-code", "contact")
    await bot.say(HOLDER, "申诉")
    await bot.say(HOLDER, "9")
    assert "1 到 5 之间" in await bot.say(HOLDER, "9")
    await bot.say(HOLDER, "1")
    too_long = await bot.say(HOLDER, "说" * 201)
    assert "不能超过 200 字，您发送了 201 字" in too_long
    assert "发送一张图片" in await bot.say(HOLDER, "说" * 200)  # 200 is allowed
    await bot.say(HOLDER, "跳过")
    first = await bot.say(HOLDER, "确认提交")
    ticket = re.search(r"SS-\d{8}-\d{4}", first)
    assert ticket, first
    second = await bot.say(HOLDER, "申诉")
    assert "已有一件申诉正在处理" in second and ticket.group(0) in second
    assert len(await bot.services.appeals.tickets(time.time())) == 1

    await full_claim(bot, STRANGER, adult(7))
    foreign = await bot.say(STRANGER, f"申诉进度 {ticket.group(0)}")
    assert f"未找到申诉单 {ticket.group(0)}" in foreign and "张*三" not in foreign
    mine = await bot.say(HOLDER, f"申诉进度 {ticket.group(0).lower()}")
    assert ticket.group(0) in mine and "处理中" in mine


async def test_appeals_per_day_are_limited_on_every_path(make_bot: BotFactory, tmp_path: Path) -> None:
    bot = await make_bot(appeals={"per_day": 1}, limits={"messages_burst": 0})
    await two_guardians(bot)
    for n in range(2):
        index = bot.services.codes.profiles.doc_index("resident_id", adult(n + 1))
        await bot.services.status.change(index, "red", "manual", "operator", "operator:test")
    await bot.services.status.change(bot.services.relatives.index(ELDER_ID), "red", "manual", "operator", "t")
    assert "SS-" in await appeal(bot, GUARDIAN_1)  # one's own
    refused = await appeal(bot, GUARDIAN_1, "申诉 1")  # a relative's: the same account's day is used up
    assert "每个微信号每天最多提交 1 次申诉" in refused
    assert "SS-" in await appeal(bot, GUARDIAN_2, "申诉 1")  # another account may


async def test_the_provider_answering_differently_is_a_change_and_told(make_bot: BotFactory,
                                                                        upstream: tuple[Upstream, str]) -> None:
    state, url = upstream
    state.answer = {"colour": "green"}
    bot = await make_bot(status={"url": url, "cache_seconds": 0}, notices={"colour_template": TEMPLATE})
    await full_claim(bot, HOLDER)
    await bot.push(bot.sim.text(HOLDER, "防疫健康信息码"))
    state.answer = {"colour": "red", "reason_code": "positive"}
    await bot.push(bot.sim.text(HOLDER, "防疫健康信息码"))
    await until(lambda: templates_to(bot, HOLDER))
    told = fields(templates_to(bot, HOLDER)[0])
    assert told["keyword3"] == "红码" and told["keyword4"] == "核酸检测阳性"
    await bot.push(bot.sim.text(HOLDER, "防疫健康信息码"))  # the same answer again: no change
    state.answer = {"colour": "yellow", "reason_code": "made_up"}  # not in the catalogue: not shown as a colour
    reply = await bot.say(HOLDER, "防疫健康信息码")
    assert "暂时无法确认" in reply or "无法" in reply
    await asyncio.sleep(1.0)
    assert len(templates_to(bot, HOLDER)) == 1
    assert "健康码平台" in await bot.say(HOLDER, "赋码记录")


async def test_outside_the_window_a_customer_service_notice_is_counted_untold_not_retried(bot: Bot) -> None:
    bot_services = bot.services
    await bot.app[NOTICES].stop()
    await full_claim(bot, HOLDER)
    bot_services.settings.notices.colour_template = ""
    bot.standin.outside_window.add(HOLDER)
    index = bot_services.codes.profiles.doc_index("resident_id", ID)
    await bot_services.status.change(index, "red", "contact", "operator", "operator:test")
    sender = NoticeSender(bot_services)
    await bot_services.notices.ensure_group()
    await sender.once()
    assert 'healthbot_colour_notices_total{outcome="outside_window"} 1.0' in await bot.scrape()
    assert await sender.once() == 0 and await bot_services.notices.backlog() == 0  # not retried
    bot.standin.outside_window.clear()
    await bot_services.status.change(index, "green", "", "operator", "operator:test")
    await sender.once()
    [text] = [m["text"]["content"] for m in bot.standin.messages if m["touser"] == HOLDER and m["msgtype"] == "text"]
    assert "转为绿码" in text and "/code?t=" in text


# A dead worker loses no notice -----------------------------------------------------------------------------------

async def test_a_worker_killed_between_the_change_and_the_send_loses_no_notice_and_sends_none_twice(
        bot: Bot, prefix: str, tmp_path: Path) -> None:
    await bot.app[NOTICES].stop()  # only the two workers below send
    await two_guardians(bot)
    settings = bot.services.settings
    config = write_config(tmp_path, prefix, settings.wechat.api_base)
    config.write_text(config.read_text("utf-8").replace(
        "[security]", "[notices]\ncolour_template = \"TPL\"\nreclaim_seconds = 3\n[security]", 1).replace(
        re.search(r"\[security\][^\[]*", config.read_text("utf-8")).group(0),  # type: ignore[union-attr]
        f'[security]\nindex_key = "{settings.security.index_key}"\ndata_key = "{settings.security.data_key}"\n'
        f'signing_keys = "{settings.security.signing_keys}"\nactive_key_id = "{settings.security.active_key_id}"\n'),
        "utf-8")
    port, log = free_port(), tmp_path / "serve.log"
    parent = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--config", str(config), "--port",
                               str(port), "--workers", "2"], stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        pids = sorted(await worker_pids(f"http://127.0.0.1:{port}", 2))
        assert len(pids) == 2, log.read_text()
        victim, survivor = pids
        os.kill(survivor, signal.SIGSTOP)
        await asyncio.sleep(1.2)  # the survivor's blocked read has ended: only the victim reads now
        os.kill(victim, signal.SIGSTOP)  # its read, still blocked in Redis, takes the change's entry
        await bot.services.status.change(bot.services.relatives.index(ELDER_ID), "red", "contact", "operator", "t")
        stream = bot.services.keys.notices()
        deadline = time.monotonic() + 2
        owners: list[str] = []
        while time.monotonic() < deadline and not owners:
            owners = [p["consumer"].decode() for p in await bot.services.redis.xpending_range(
                stream, "senders", min="-", max="+", count=10)]
            await asyncio.sleep(0.05)
        assert owners == [f"{socket.gethostname()}-{victim}"]  # the victim took it and will never send it
        os.kill(victim, signal.SIGKILL)
        os.kill(survivor, signal.SIGCONT)
        await until(lambda: templates_to(bot, GUARDIAN_1) and templates_to(bot, GUARDIAN_2))
        await asyncio.sleep(4)  # past another reclaim: nothing more
        assert len(templates_to(bot, GUARDIAN_1)) == 1 and len(templates_to(bot, GUARDIAN_2)) == 1
    finally:
        for pid in await worker_pids(f"http://127.0.0.1:{port}", 0, seconds=0) | set(locals().get("pids", [])):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        parent.send_signal(signal.SIGTERM)
        parent.wait(timeout=15)
