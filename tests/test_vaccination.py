"""疫苗接种记录 through the webhook: doses imported with the CLI, for oneself and a relative; the state they add
up to; the HTTP upstream and its failure; and nothing of it plain in Redis."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from bot.domain.clock import SHANGHAI
from bot.features.vaccination import VaccinationService, course_of, state_of
from storage.vaccinations import Dose
from tests.conftest import Bot, BotFactory, Upstream
from tests.helpers import config_for, healthbot
from tests.journeys import AGE_6, ID, assert_nothing_plain, bind, full_claim

DAY = timedelta(days=1)


def day(days_ago: int) -> str:
    return (datetime.now(SHANGHAI) - days_ago * DAY).strftime("%Y-%m-%d")


async def import_doses(bot: Bot, tmp_path: Path, rows: str) -> tuple[int, str, str]:
    csv_file = tmp_path / "doses.csv"
    csv_file.write_text("doc_type,doc_no,dose,vaccine,date,institution\n" + rows, encoding="utf-8")
    done = await healthbot("admin", "vaccinations", "import", "--config", str(config_for(bot, tmp_path)),
                           str(csv_file))
    return done.returncode, done.stdout, done.stderr


async def test_doses_for_oneself_and_a_relative(bot: Bot, tmp_path: Path) -> None:
    user = "oVaccine_0001"
    await full_claim(bot, user)
    assert "接种状态：未接种" in await bot.say(user, "接种记录")
    await bind(bot, user, AGE_6, "李小宝")
    status, out, err = await import_doses(bot, tmp_path, (
        f"resident_id,{ID},1,北京科兴中维,{day(400)},朝阳区社区卫生服务中心\n"
        f"resident_id,{ID},2,北京科兴中维,{day(370)},朝阳区社区卫生服务中心\n"
        f"resident_id,{ID},3,北京科兴中维,{day(200)},朝阳区社区卫生服务中心\n"
        f"resident_id,{AGE_6},1,国药北京生物,{day(90)},妇幼保健院\n"
        f"resident_id,{AGE_6},2,国药北京生物,{day(60)},妇幼保健院\n"
        f"resident_id,{ID},0,北京科兴中维,{day(10)},x\n"
        f"resident_id,{ID},4,北京科兴中维,{day(-3)},x\n"
        f"resident_id,110105194912310021,1,北京科兴中维,{day(10)},x\n"))
    assert status == 0, err
    assert "imported 5 rows, 3 bad rows" in out
    assert "line 7: dose must be a whole number" in err and "line 8: date is in the future" in err
    assert "line 9: doc_no is not a valid resident_id number" in err

    own = await bot.say(user, "接种记录")
    assert "接种状态：已加强（全程 2 针，共 3 针）" in own
    assert "第 1 针｜" + day(400) in own and "第 3 针｜" + day(200) in own
    assert "回复「接种记录 1」查看 李*宝" in own
    child = await bot.say(user, "接种记录 1")
    assert "【李*宝的新冠病毒疫苗接种记录】" in child and "接种状态：已完成全程（2 针）" in child
    assert "第 3 针" not in child
    missing = await bot.say(user, "接种记录 2")
    assert missing.startswith("没有这个编号的亲属") and "请回复「接种记录 编号」" in missing
    await assert_nothing_plain(bot.services.redis, bot.services.settings.redis.prefix,
                               ["朝阳区社区卫生服务中心", "妇幼保健院", ID, AGE_6])
    index = bot.services.codes.profiles.doc_index("resident_id", ID)
    kept = await bot.services.redis.ttl(bot.services.keys.of_document(index, "vaccinations"))
    assert 3 * 365 * 86400 - 60 < kept <= 3 * 365 * 86400  # the retention docs/operations.md states


async def test_the_records_need_ones_own_code_first(bot: Bot) -> None:
    assert await bot.say("oVaccine_0002", "疫苗接种") == \
        "查询疫苗接种记录需要先领取本人的防疫健康信息码。请回复「防疫健康信息码」申领。"


async def test_records_from_the_immunisation_service_and_plain_words_when_it_is_down(
        make_bot: BotFactory, upstream: tuple[Upstream, str]) -> None:
    state, url = upstream
    bot = await make_bot(vaccination={"url": url, "timeout": 0.3, "token": "v4cc"})
    user = "oVaccine_0003"
    await full_claim(bot, user)
    state.answer = {"doses": [{"dose": 1, "vaccine": "康希诺腺病毒载体疫苗", "date": "2021-06-01",
                               "institution": "海淀区接种点"}]}
    reply = await bot.say(user, "接种记录")
    assert "接种状态：已完成全程（1 针）" in reply and "海淀区接种点" in reply
    assert state.requests[-1]["body"]["doc_number"] == ID and state.requests[-1]["auth"] == "Bearer v4cc"
    state.status = 503
    assert await bot.say(user, "接种记录") == "疫苗接种记录服务暂时无法连接，请稍后再试。"
    state.status, state.answer = 200, {"doses": "none"}
    assert await bot.say(user, "接种记录") == "疫苗接种记录服务暂时无法连接，请稍后再试。"
    assert isinstance(bot.services.plugin(VaccinationService), VaccinationService)


def test_the_state_follows_the_first_doses_vaccine() -> None:
    def doses(vaccine: str, n: int) -> list[Dose]:
        return [Dose(i, vaccine, "2021-01-01", "x") for i in range(1, n + 1)]

    assert [course_of(v) for v in ("北京科兴中维", "康希诺腺病毒载体疫苗", "智飞龙科马重组蛋白疫苗")] == [2, 1, 3]
    assert [state_of(doses("智飞龙科马", n)).kind for n in range(5)] == ["none", "partial", "partial", "full",
                                                                       "booster"]
    assert state_of(doses("康希诺", 2)).kind == "booster"
