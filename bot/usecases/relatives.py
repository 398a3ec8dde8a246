"""What the relatives' routes and the pages share: picking relative N, listing relatives, a relative's code."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from functools import partial

from bot.domain.documents import birth_date
from bot.domain.masking import mask_name
from bot.engine.context import Context
from bot.engine.filters import Claimed
from bot.engine.router import Handler
from bot.usecases.cards import code_image, proxy_line
from bot.usecases.holders import relative_person
from bot.wechat.replies import Reply, Text
from storage.profiles import Profile
from storage.relatives import Relative

RelativeHandler = Callable[[Context, Profile, Relative], Awaitable[Reply]]


# The filter of every route about one relative: the user's own code claimed, their relatives listed.
ABOUT_A_RELATIVE = Claimed("relatives", relatives=True)


def pick(ctx: Context, command: str) -> Relative | Text:
    """The relative a command is about: number N (`… N`), or, with no number, the only relative; with several,
    the text asking which (each named, with the command to reply). The route's filter is ABOUT_A_RELATIVE."""
    relatives = ctx.relatives
    picked = ctx.match.group("n") if ctx.match else None
    if not relatives:
        return ctx.text("relatives/none_yet.txt", command=command)
    if picked is None and len(relatives) == 1:
        return relatives[0]
    if picked is None:
        return ctx.text("relatives/which.txt", command=command, relatives=numbered(relatives))
    found = next((r for r in relatives if r.number == int(picked)), None)
    if found is None:
        return ctx.text("relatives/no_such_relative.txt", command=command, relatives=numbered(relatives))
    return found


async def then_each_relative(ctx: Context, reply: Reply, hint: str) -> Reply:
    """One's own answer (「核酸」, 「接种记录」), then how to ask for each relative's (the `hint` template)."""
    relatives = await ctx.services.relatives.list(ctx.openid)
    if relatives and isinstance(reply, Text):
        return Text(reply.content + "\n" + ctx.render(hint, relatives=numbered(relatives)))
    return reply


def numbered(relatives: Sequence[Relative]) -> list[dict[str, object]]:
    """What a list of relatives shows: each one's fixed number, masked name, and what tells two alike apart
    without unmasking: the birth year, and the ID's last two characters where name, relationship and year are
    the same. Templates word them (`label` in _relatives.txt: 「张*（子女，2019 年生）」)."""
    rows = []
    for r in relatives:
        born = birth_date(r.doc_number)
        rows.append({"n": r.number, "name": mask_name(r.name), "relationship": r.relationship,
                     "born": born.year if born else 0, "tail": ""})
    alike = Counter((row["name"], row["relationship"], row["born"]) for row in rows)
    for r, row in zip(relatives, rows, strict=True):
        if alike[row["name"], row["relationship"], row["born"]] > 1:
            row["tail"] = r.doc_number[-2:]
    return rows


def for_relative(command: str) -> Callable[[RelativeHandler], Handler]:
    """A route about one relative (`command N`, or `command` alone), whose filter is ABOUT_A_RELATIVE: the
    handler gets the user's profile and that relative, or the user is told why there is none or asked which."""
    def decorate(handler: RelativeHandler) -> Handler:
        async def picked(ctx: Context) -> Reply:
            found = pick(ctx, command)
            return found if isinstance(found, Text) else await handler(ctx, ctx.claimed, found)

        picked.__name__ = handler.__name__
        return picked

    return decorate


async def relative_code(ctx: Context, profile: Profile | None, relative: Relative, stamp: str = "") -> Reply:
    """A relative's code (亲属码); with `stamp`, marked for the venue it was just registered at."""
    return await code_image(ctx, partial(relative_person, relative), relative.index, subject=relative.index[:24],
                            title=ctx.render("cards/relative_title.txt"), whose=mask_name(relative.name),
                            subtitle=proxy_line(ctx.templates, profile, relative), stamp=stamp,
                            elder=ctx.prefs.elder_for(relative.index))
