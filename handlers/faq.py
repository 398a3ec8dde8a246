"""常见问题: answers from templates, so operators can keep them current without touching code.

The index is numbered and a number answers (「常见问题 2」, or 「2」 on its own outside a dialog); a question
typed in one's own words is answered when it holds a topic's key terms (「亲属码能在机场用吗」); other
unrecognised text gets the services and this index (basics.fallback)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.engine.context import Context
from bot.engine.router import Handler, Router
from bot.wechat.replies import Reply

router = Router("faq")
# 长辈模式's numbered menu, in the order templates/*/elder/_menu.txt lists it.
ELDER_MENU = ("防疫健康信息码", "亲属码", "核酸", "采样点", "常见问题")
by_number = Router("faq_numbers", interrupts=False)  # 「2」 inside a dialog is that dialog's answer


@dataclass(frozen=True)
class Topic:
    template: str
    keywords: tuple[str, ...]  # exact, as typed
    terms: tuple[tuple[str, ...], ...]  # a question holding every term of one group is about this topic

    @property
    def key(self) -> str:
        """The topic's name in templates: faq/_titles.txt words each one's title."""
        return self.template.split("/")[1].removesuffix(".txt")


TOPICS = (
    Topic("faq/codes_compared.txt", ("健康码和行程码的区别", "健康码与行程码的区别"),
          (("健康码", "行程"), ("行程码", "区别"))),
    Topic("faq/offline.txt", ("什么是离线码", "离线码怎么下载"),
          (("离线码", "什么"), ("离线码", "怎么"), ("离线码", "打印"))),
    Topic("faq/relatives_rules.txt", ("亲属码规则", "亲属码的规则", "亲属码问答"),
          (("亲属码", "机场"), ("亲属码", "车站"), ("一场两站",), ("亲属码", "几"), ("亲属码", "规则"))),
    Topic("faq/privacy.txt", ("个人信息安全", "个人信息安全吗", "隐私"),
          (("个人信息",), ("隐私",), ("信息", "安全"))),
)


def topic_of(text: str) -> Topic | None:
    """The topic whose key terms a question holds, if one does."""
    return next((t for t in TOPICS if any(all(term in text for term in group) for group in t.terms)), None)


def answer(template: str) -> Handler:
    async def reply(ctx: Context) -> Reply:
        return ctx.text(template, topics=TOPICS)

    reply.__name__ = f"faq_{template.split('/')[1].removesuffix('.txt')}"
    return reply


for topic in TOPICS:
    router.keywords(*topic.keywords, glance=True)(answer(topic.template))
router.keywords("常见问题", "问题", "faq", "questions", glance=True)(answer("faq/index.txt"))
router.click("FAQ", glance=True)(answer("faq/index.txt"))


@router.regex(r"(常见问题|faq)\s*(?P<n>\d{1,2})")
@by_number.regex(r"(?P<n>\d)")
async def faq_by_number(ctx: Context) -> Reply:
    n = int(ctx.match.group("n")) if ctx.match else 0
    if ctx.prefs.elder and ctx.run_text is not None and ctx.message.normalized.isdigit():
        # 长辈模式 answers a number alone from its menu (templates/*/elder/_menu.txt); 「常见问题 2」 stays the FAQ's
        return await ctx.run_text(ELDER_MENU[n - 1]) if 1 <= n <= len(ELDER_MENU) else ctx.text("help.txt")
    if not 1 <= n <= len(TOPICS):
        return ctx.text("faq/index.txt", topics=TOPICS)
    return ctx.text(TOPICS[n - 1].template, topics=TOPICS)
