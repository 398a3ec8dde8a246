"""Dialogs declared as data: ordered steps, each with a prompt template, a validator and an optional condition.

At any step `取消` cancels and `返回` goes back one step. The engine keeps the step, the history and the
collected data in the user's DialogState; the dispatcher persists it as one Redis value with one sliding TTL
(bot/engine/state.py).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.engine.context import Context
from bot.wechat.replies import Reply, Text

CANCEL_WORDS = frozenset({"取消", "退出", "cancel", "quit"})
BACK_WORDS = frozenset({"返回", "上一步", "back"})

Validator = Callable[[str, Context], Any]
Condition = Callable[[Context, Mapping[str, Any]], bool]
Completion = Callable[[Context, dict[str, Any]], Awaitable[Reply]]
Entry = Callable[[Context], Awaitable[None]]
View = Callable[[Context, Mapping[str, Any]], Mapping[str, Any]]


class Invalid(Exception):
    """A validator's refusal: the reply is the named template, and the step stays where it is."""

    def __init__(self, template: str, /, **values: Any) -> None:
        super().__init__(template)
        self.template = template
        self.values = values


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    prompt: str
    validate: Validator
    when: Condition | None = None
    enter: Entry | None = None  # runs each time the dialog arrives at this step, e.g. to mint a fresh link
    accepts: frozenset[str] = frozenset({"text"})  # message types it answers: an image step adds "image"

    def applies(self, ctx: Context) -> bool:
        return self.when is None or self.when(ctx, ctx.state.data)


def _no_view(ctx: Context, data: Mapping[str, Any]) -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True)
class Dialog:
    name: str
    restart_keyword: str
    steps: tuple[Step, ...]
    on_complete: Completion
    view: View = _no_view
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {step.name: i for i, step in enumerate(self.steps)})

    async def start(self, ctx: Context, data: Mapping[str, Any] | None = None) -> Reply:
        ctx.state.start(self.name, "", dict(data or {}))
        ctx.services.metrics.inc("healthbot_dialogs_total", dialog=self.name, event="started")
        step = self._next_from(0, ctx)
        if step is None:
            return await self._complete(ctx)
        return await self._arrive(ctx, step)

    def resume(self, ctx: Context, data: Mapping[str, Any], step: str) -> None:
        """Put the user back at `step` with `data` kept, e.g. after an upstream refused the answers."""
        ctx.state.start(self.name, step, dict(data))
        ctx.state.history = [s.name for s in self.steps[: self._index[step]] if s.name in data]

    async def reenter(self, ctx: Context, data: Mapping[str, Any], step: str) -> Text:
        """Put the user at `step` with `data`, as if arriving there (its `enter` runs): e.g. a step that has come
        to apply since it was passed over."""
        self.resume(ctx, data, step)
        return await self._arrive(ctx, self.steps[self._index[step]])

    def prompt(self, ctx: Context, step: Step) -> Text:
        return ctx.text(step.prompt, **self.view(ctx, ctx.state.data))

    def ask_again(self, ctx: Context) -> str:
        """The current step's prompt, as it reads now (after a change of language, say); "" if there is none."""
        step = self.current(ctx)
        return self.prompt(ctx, step).content if step is not None else ""

    def current(self, ctx: Context) -> Step | None:
        index = self._index.get(ctx.state.step)
        return None if index is None else self.steps[index]

    async def handle(self, ctx: Context) -> Reply:
        step = self.current(ctx)
        if step is None:  # the dialog changed shape since this state was written
            ctx.state.clear()
            return ctx.text("dialog/restart.txt")
        if ctx.message.msg_type not in step.accepts:
            return Text(ctx.render("dialog/text_only.txt") + "\n\n" + self.prompt(ctx, step).content)
        if ctx.message.msg_type != "text":  # an image: the validator reads it from ctx.message
            return await self._answer(ctx, step)
        word = ctx.message.normalized
        if word in CANCEL_WORDS:
            ctx.services.metrics.inc("healthbot_dialogs_total", dialog=self.name, event="abandoned")
            ctx.state.clear()
            return ctx.text("dialog/cancelled.txt", dialog=self.name)
        if word in BACK_WORDS:
            return await self._back(ctx, step)
        return await self._answer(ctx, step)

    async def _answer(self, ctx: Context, step: Step) -> Reply:
        try:
            value = step.validate(ctx.message.content.strip(), ctx)
            if inspect.iscoroutine(value):  # an async validator (isawaitable's ABC check costs more)
                value = await value
        except Invalid as refusal:
            if (service := ctx.service_named()) is not None:  # not an answer here, but a service's keyword:
                return await self._leave_for(ctx, service)     # leave, say so, and run that service
            return ctx.text(refusal.template, **refusal.values)
        return await self.accept(ctx, value)

    async def _leave_for(self, ctx: Context, service: Awaitable[Reply]) -> Reply:
        ctx.services.metrics.inc("healthbot_dialogs_total", dialog=self.name, event="left")
        ctx.state.clear()
        notice = ctx.render("dialog/left.txt", dialog=self.name)
        reply = await service
        if isinstance(reply, Text):
            return Text(notice + "\n\n" + reply.content)
        ctx.follow_up(reply)  # one passive reply: the notice, so that it comes first; the image follows
        return Text(notice)

    async def accept(self, ctx: Context, value: Any) -> Reply:
        """Record the current step's answer and move on; also used when the answer comes from elsewhere."""
        step = self.steps[self._index[ctx.state.step]]
        ctx.state.data[step.name] = value
        ctx.state.history.append(step.name)
        following = self._next_from(self._index[step.name] + 1, ctx)
        if following is None:
            return await self._complete(ctx)
        return await self._arrive(ctx, following)

    async def _arrive(self, ctx: Context, step: Step) -> Text:
        ctx.state.step = step.name
        if step.enter is not None:
            await step.enter(ctx)
        return self.prompt(ctx, step)

    async def _back(self, ctx: Context, step: Step) -> Reply:
        """To the last answered step that still applies (a phone proved once is not proved again)."""
        while ctx.state.history:
            previous = ctx.state.history.pop()
            ctx.state.data.pop(previous, None)
            if self.steps[self._index[previous]].applies(ctx):
                return await self._arrive(ctx, self.steps[self._index[previous]])
        return Text(ctx.render("dialog/first_step.txt") + "\n\n" + self.prompt(ctx, step).content)

    def _next_from(self, index: int, ctx: Context) -> Step | None:
        # A loop, not next() over a generator: one left unfinished is closed when freed, which costs.
        for step in self.steps[index:]:
            if step.applies(ctx):
                return step
        return None

    async def _complete(self, ctx: Context) -> Reply:
        data = dict(ctx.state.data)
        ctx.state.clear()
        ctx.services.metrics.inc("healthbot_dialogs_total", dialog=self.name, event="completed")
        return await self.on_complete(ctx, data)
