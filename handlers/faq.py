"""常见问题: answers from templates, so operators can keep them current without touching code."""

from __future__ import annotations

from bot.engine.context import Context
from bot.engine.router import Handler, Router
from bot.wechat.replies import Reply

router = Router("faq")

ANSWERS = {
    "faq/index.txt": ("常见问题", "问题", "faq"),
    "faq/codes_compared.txt": ("健康码和行程码的区别", "健康码与行程码的区别", "健康码和行程码有什么区别"),
    "faq/offline.txt": ("什么是离线码", "离线码怎么下载"),  # 「离线码」 itself downloads one (the menu's key too)
    "faq/relatives_rules.txt": ("亲属码规则", "亲属码的规则", "亲属码问答"),
    "faq/privacy.txt": ("个人信息安全", "个人信息安全吗", "隐私"),
}


def answer(template: str) -> Handler:
    async def reply(ctx: Context) -> Reply:
        return ctx.text(template)

    reply.__name__ = f"faq_{template.split('/')[1].removesuffix('.txt')}"
    return reply


for template, words in ANSWERS.items():
    router.keywords(*words)(answer(template))
router.click("FAQ")(answer("faq/index.txt"))
