"""Operators: colours from the CLI (one, or a CSV import) show on the citizen's next image; the menu."""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image

from bot.domain.colours import INKS
from bot.wechat.menu import validate_menu
from tests.conftest import Bot
from tests.helpers import RedisCutter, config_for, healthbot
from tests.journeys import ID, elder, full_claim


def title_bar(bot: Bot, reply: dict[str, object]) -> tuple[int, int, int]:
    media_id = reply["Image"]["MediaId"]  # type: ignore[index]
    return Image.open(io.BytesIO(bot.standin.media[media_id])).convert("RGB").getpixel((5, 5))


async def test_status_set_from_the_cli_shows_on_the_next_image(bot: Bot, tmp_path: Path) -> None:
    user = "oOperator_0001"
    assert title_bar(bot, await full_claim(bot, user)) == (26, 173, 25)
    config = config_for(bot, tmp_path)
    done = await healthbot("admin", "status", "set", "--config", str(config), "--doc-type", "resident_id",
                     "--doc-no", ID.lower(), "yellow", "--reason-code", "manual", "--reason", "测温异常")
    assert done.returncode == 0, done.stderr
    assert title_bar(bot, await bot.push(bot.sim.text(user, "防疫健康信息码"))) == (255, 159, 0)
    refused = await healthbot("admin", "status", "set", "--config", str(config), "--doc-type", "resident_id",
                        "--doc-no", "110105194912310021", "red", "--reason-code", "contact")
    assert refused.returncode == 2 and "not a valid resident_id number" in refused.stderr


async def test_status_import_reports_bad_rows_and_keeps_going(bot: Bot, tmp_path: Path) -> None:
    user = "oOperator_0002"
    await full_claim(bot, user)
    csv_file = tmp_path / "status.csv"
    csv_file.write_text(
        "doc_type,doc_no,colour,reason_code,reason\n"
        "resident_id,110101200806160139,yellow,contact,密接\n"
        "resident_id,110105194912310021,red,contact,bad checksum\n"
        "passport,E12345678,purple,contact,\n"
        "visa,123,red,contact,\n"
        f"resident_id,{ID},red,,确诊\n"
        f"resident_id,{ID},red,quarantined,确诊\n"
        f"resident_id,{ID},red,positive,确诊\n", encoding="utf-8")
    done = await healthbot("admin", "status", "import", "--config", str(config_for(bot, tmp_path)), str(csv_file))
    assert done.returncode == 0, done.stderr
    assert "imported 2 rows, 5 bad rows" in done.stdout
    for line in ("line 3: doc_no is not a valid resident_id", "line 4: colour 'purple'", "line 5: doc_type 'visa'",
                 "line 6: a red code needs a reason code from the catalogue ([reasons]: contact,",
                 "line 7: reason code 'quarantined' is not in the catalogue ([reasons]: contact,"):
        assert line in done.stderr
    assert "(100%)" in done.stderr
    assert title_bar(bot, await bot.push(bot.sim.text(user, "防疫健康信息码"))) == INKS["red"]


async def test_an_import_file_that_cannot_be_read_is_one_line_and_imports_nothing(bot: Bot, tmp_path: Path) -> None:
    config = str(config_for(bot, tmp_path))
    latin = tmp_path / "status.csv"  # a spreadsheet saved as GBK: the first good row must not be stored
    latin.write_bytes(f"doc_type,doc_no,colour,reason_code,reason\nresident_id,{ID},red,contact,\n".encode()
                      + "密接".encode("gbk"))
    for command, file, says in (("status", latin, "is not UTF-8 text"), ("travel", tmp_path / "gone.csv",
                                                                         "cannot read")):
        done = await healthbot("admin", command, "import", "--config", config, str(file))
        assert done.returncode == 2 and says in done.stderr and "nothing was imported" in done.stderr
        assert "Traceback" not in done.stderr
    user = "oOperator_0003"
    assert title_bar(bot, await full_claim(bot, user)) == (26, 173, 25)  # still green


async def test_redis_failing_mid_import_is_one_line_keeps_what_was_written_and_a_rerun_finishes(
        bot: Bot, tmp_path: Path) -> None:
    rows = 600  # more than one batch of 500
    csv_file = tmp_path / "status.csv"
    csv_file.write_text("doc_type,doc_no,colour,reason_code,reason\n" + "".join(
        f"resident_id,{elder(n)},red,contact,密接\n" for n in range(rows)), encoding="utf-8")
    redis, glob = bot.services.redis, bot.services.keys.status("*")

    async def stored() -> int:
        return len([key async for key in redis.scan_iter(match=glob, count=1000)])

    async with RedisCutter(b"EVALSHA", times=501) as cutter:  # the first row of the second batch
        done = await healthbot("admin", "status", "import", "--config",
                               str(config_for(bot, tmp_path, redis_url=cutter.url)), str(csv_file))
    assert done.returncode == 1, done.stderr
    assert "Redis failed during the command" in done.stderr and "Traceback" not in done.stderr
    assert await stored() == 500
    done = await healthbot("admin", "status", "import", "--config", str(config_for(bot, tmp_path)), str(csv_file))
    assert done.returncode == 0 and f"imported {rows} rows, 0 bad rows" in done.stdout
    assert await stored() == rows


async def test_menu_show_follows_the_seed_path_and_push_creates_it(bot: Bot, tmp_path: Path) -> None:
    config = config_for(bot, tmp_path)
    shown = await healthbot("menu", "show", "--config", str(config))
    menu = json.loads(shown.stdout)
    assert menu["button"][0]["name"] == "热门服务"
    assert menu["button"][0]["sub_button"][0]["name"] == "疫情防控"
    names = {b["name"] for top in menu["button"] for b in top["sub_button"]}
    assert {"防疫健康信息码", "亲属码", "行程码", "核酸检测结果", "离线码", "常见问题"} <= names
    assert validate_menu(menu) is None
    pushed = await healthbot("menu", "push", "--config", str(config))
    assert pushed.returncode == 0, pushed.stderr
    assert bot.standin.menus == [menu]


def test_menu_limits_are_checked_before_sending() -> None:
    too_wide = {"button": [{"type": "click", "name": "a", "key": "A"}] * 4}
    long_name = {"button": [{"type": "click", "name": "疫情防控服务大厅", "key": "A"}]}  # 24 bytes > 16
    long_key = {"button": [{"type": "click", "name": "a", "key": "K" * 129}]}
    six_subs = {"button": [{"name": "more", "sub_button": [{"type": "click", "name": "x", "key": "X"}] * 6}]}
    assert validate_menu(too_wide).startswith("40016")
    assert validate_menu(long_name).startswith("40018")
    assert validate_menu(long_key).startswith("40019")
    assert validate_menu(six_subs).startswith("40023")


async def test_an_import_is_read_in_bounded_pieces_and_quotes_no_personal_data(bot: Bot, tmp_path: Path) -> None:
    """A field past the csv module's limit, a line of 30 MB, or /dev/zero is one line and status 2 with nothing
    stored, never a traceback or memory without end; a row with its columns swapped is refused without
    printing the ID number it holds."""
    config = str(config_for(bot, tmp_path))
    huge_field, huge_line = tmp_path / "field.csv", tmp_path / "line.csv"
    huge_field.write_text(f"doc_type,doc_no,colour,reason_code,reason\nresident_id,{ID},red,contact,{'x' * 200_000}\n",
                          "utf-8")
    huge_line.write_text("doc_type,doc_no,colour,reason_code,reason\n" + "y" * 30_000_000, "utf-8")
    for file, says in ((huge_field, "line 2 of"), (huge_line, "line 2 of"), (Path("/dev/zero"), "not a regular file")):
        done = await healthbot("admin", "status", "import", "--config", config, str(file))
        assert done.returncode == 2 and says in done.stderr and "nothing was imported" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    swapped = tmp_path / "swapped.csv"
    swapped.write_text(f"doc_type,doc_no,colour,reason_code,reason\n{ID},resident_id,red,contact,\n"
                       f"resident_id,red,{ID},contact,\n", "utf-8")
    done = await healthbot("admin", "status", "import", "--config", config, str(swapped))
    assert done.returncode == 0 and "imported 0 rows, 2 bad rows" in done.stdout
    assert "line 2: doc_type '11'…'2X' (18 characters)" in done.stderr and ID not in done.stderr
    assert title_bar(bot, await full_claim(bot, "oOperator_0004")) == (26, 173, 25)  # nothing was set
