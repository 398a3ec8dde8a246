"""Texts are kept for reuse only where that can never show a citizen the wrong words."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from bot.ops.templates import Templates


@pytest.fixture
def templates(tmp_path: Path) -> Templates:
    (tmp_path / "greet.txt").write_text("您好，{{ name }}{% if hmt %}（港澳台）{% endif %}")
    (tmp_path / "_footer.txt").write_text("客服电话：{{ hotline }}")
    (tmp_path / "with_footer.txt").write_text("{{ title }}\n{% include '_footer.txt' %}")
    (tmp_path / "dynamic.txt").write_text("{% include which %}")
    (tmp_path / "count.txt").write_text("共 {{ n }} 位亲属")
    return Templates(tmp_path)


def test_a_value_the_template_does_not_read_does_not_change_or_split_the_text(templates: Templates) -> None:
    first = templates.render("greet.txt", name="张*三", hmt=False, phone="138****0000")
    again = templates.render("greet.txt", name="张*三", hmt=False, phone="139****1111")
    assert first == again == "您好，张*三"
    assert templates.render("greet.txt", name="李*四", hmt=True) == "您好，李*四（港澳台）"


def test_values_read_by_an_included_template_count(templates: Templates) -> None:
    assert templates.render("with_footer.txt", title="亲属码", hotline="12345") == "亲属码\n客服电话：12345"
    assert templates.render("with_footer.txt", title="亲属码", hotline="12320") == "亲属码\n客服电话：12320"
    (Path(templates.env.loader.searchpath[0]) / "a.txt").write_text("A{{ x }}")  # type: ignore[union-attr]
    assert templates.render("dynamic.txt", which="a.txt", x=1) == "A1"
    assert templates.render("dynamic.txt", which="a.txt", x=2) == "A2"


def test_a_missing_value_fails_every_time_even_after_a_render_with_none(templates: Templates) -> None:
    assert templates.render("count.txt", n=None) == "共 None 位亲属"
    for _ in range(2):
        with pytest.raises(jinja2.UndefinedError):
            templates.render("count.txt")


def test_equal_values_of_different_types_are_not_confused(templates: Templates) -> None:
    assert templates.render("count.txt", n=True) == "共 True 位亲属"
    assert templates.render("count.txt", n=1) == "共 1 位亲属"
    assert templates.render("count.txt", n=1.0) == "共 1.0 位亲属"
