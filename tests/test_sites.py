"""核酸采样点 near me: import sites, send a location, get the nearest in order; a district by name; none yet."""

from __future__ import annotations

import math
import re
from pathlib import Path

from tests.conftest import Bot
from tests.helpers import config_for, healthbot

HOME = (116.4074, 39.9042)  # lng, lat: central Beijing


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    (lng1, lat1), (lng2, lat2) = (tuple(map(math.radians, p)) for p in (a, b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    return 2 * 6372.7976 * math.asin(math.sqrt(h))  # Redis's own Earth radius


def sites_csv(tmp_path: Path) -> tuple[Path, dict[str, tuple[float, float]]]:
    places = {}
    lines = ["name,address,lng,lat,hours,notes"]
    for n in range(20):  # scattered around HOME, 0.5 to 20 km away, in two districts
        angle, reach = n * 2.4, 0.005 + n * 0.009
        lng, lat = round(HOME[0] + reach * math.cos(angle), 6), round(HOME[1] + reach * math.sin(angle), 6)
        district = "朝阳区" if n % 2 else "东城区"
        places[f"采样点{n:02d}"] = (lng, lat)
        lines.append(f"采样点{n:02d},北京市{district}测试路{n}号,{lng},{lat},08:00-20:00,{'免费' if n % 3 else ''}")
    path = tmp_path / "sites.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, places


async def import_sites(bot: Bot, tmp_path: Path) -> dict[str, tuple[float, float]]:
    path, places = sites_csv(tmp_path)
    done = await healthbot("admin", "sites", "import", "--config", str(config_for(bot, tmp_path)), str(path))
    assert done.returncode == 0, done.stderr
    return places


async def test_a_location_gets_the_five_nearest_sites_in_order_of_distance(bot: Bot, tmp_path: Path) -> None:
    places = await import_sites(bot, tmp_path)
    reply = await bot.say_xml(bot.sim.location("oSites_0001", HOME[1], HOME[0]))
    names = re.findall(r"^\d\. (采样点\d\d)（([\d.]+) 公里）", reply, re.M)
    expected = sorted(places, key=lambda name: haversine_km(HOME, places[name]))[:5]
    assert [name for name, _ in names] == expected, reply
    for name, shown in names:
        assert abs(float(shown) - haversine_km(HOME, places[name])) < 0.1
    assert "uri.amap.com/marker?position=" in reply and "不会保存" in reply
    picked = await bot.say_xml(bot.sim.location_select("oSites_0002", HOME[1], HOME[0]))  # the menu's picker
    assert re.findall(r"^\d\. (采样点\d\d)", picked, re.M) == expected, picked


async def test_a_district_lists_its_sites_and_the_keyword_asks_for_a_location(bot: Bot, tmp_path: Path) -> None:
    await import_sites(bot, tmp_path)
    assert "请发送您的位置" in await bot.say("oSites_0002", "采样点")
    listed = await bot.say("oSites_0002", "采样点 朝阳区")
    assert "「朝阳区」的核酸采样点" in listed and "东城区" not in listed
    assert listed.count("朝阳区测试路") == 10  # ten of the twenty, and [sites] listed = 10
    assert "未找到「海淀区」" in await bot.say("oSites_0002", "采样点 海淀区")


async def test_with_no_sites_every_path_says_so_and_what_to_do(bot: Bot) -> None:
    for answer in (await bot.say("oSites_0003", "采样点"), await bot.say("oSites_0003", "采样点 朝阳区"),
                   await bot.say_xml(bot.sim.location("oSites_0003", HOME[1], HOME[0]))):
        assert "暂无核酸采样点信息" in answer and "热线" in answer


async def test_a_bad_sites_file_is_refused_row_by_row(bot: Bot, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("name,address,lng,lat,hours,notes\n甲,北京市朝阳区,200,39.9,全天,\n乙,北京市朝阳区,116.4,x,全天,\n",
                    encoding="utf-8")
    done = await healthbot("admin", "sites", "import", "--config", str(config_for(bot, tmp_path)), str(path))
    assert done.returncode == 0 and "imported 0 rows, 2 bad rows reported above" in done.stdout  # as every import
    assert "line 2: lng must be between -180 and 180" in done.stderr and "line 3: lat must be a number" in done.stderr
    assert "暂无核酸采样点信息" in await bot.say("oSites_0004", "采样点")  # nothing half-imported
