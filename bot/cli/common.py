"""What every command shares: settings that end in one line on a slip, Redis checked up front, operator
commands on the one set of services, and argument types."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from bot.ops.config import ConfigError, Settings, load_settings, redact

if TYPE_CHECKING:
    from bot.engine.services import Services

Result = TypeVar("Result")


def settings_of(args: argparse.Namespace, **server: Any) -> Settings:
    from bot.rendering import FontMissing, find_cjk_font

    try:
        settings = load_settings(args.config, overrides={"server": server})
        find_cjk_font(settings.render.font)
        return settings
    except (ConfigError, FontMissing) as exc:
        print(f"healthbot: config error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def redis_problem(settings: Settings) -> str:
    """Why Redis cannot be reached, or "" when it answers."""
    if settings.redis.url.startswith("memory://"):
        return ""
    from storage import connect

    async def ping() -> None:
        client = connect(settings.redis.url)
        try:
            await asyncio.wait_for(client.ping(), timeout=2)
        finally:
            await client.aclose()

    try:
        asyncio.run(ping())
    except Exception as exc:
        return redact(f"redis.url: cannot reach {settings.redis.url} ({exc})", settings.redis.url)
    return ""


def check_redis(settings: Settings) -> None:
    if problem := redis_problem(settings):
        print(f"healthbot: config error: {problem}", file=sys.stderr)
        raise SystemExit(2)


def setup_logging(settings: Settings) -> None:
    from bot.ops.logs import JsonFormatter

    handler = logging.StreamHandler()
    if settings.server.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def operator_settings(args: argparse.Namespace, check: bool = True) -> Settings:
    """The settings of an operator command; in dev mode, those of the running dev server's store. With
    `check`, Redis must answer (else one line and status 2)."""
    settings = settings_of(args)
    if settings.dev_mode:
        from bot.devkit.devstore import attach_dev_store

        try:
            attach_dev_store(settings)
        except ConfigError as exc:
            print(f"healthbot: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
    if check:
        check_redis(settings)
    return settings


def operate(work: Coroutine[Any, Any, Result]) -> Result:
    """An operator command's async part. Redis was reachable at the start (`check_redis`); if it fails
    later, the operator gets one line, not a traceback."""
    from storage import RedisError

    try:
        return asyncio.run(work)
    except RedisError as exc:
        print(f"healthbot: Redis failed during the command ({exc}); what was written before that stays written, "
              "and what was not is not", file=sys.stderr)
        raise SystemExit(1) from None


def run_with_services(settings: Settings, work: Callable[[Services], Awaitable[Result]]) -> Result:
    """`work` on the services the server runs with (bot.engine.services.build_services), closed after."""
    from bot.engine.services import build_services

    async def run() -> Result:
        services = build_services(settings)
        try:
            return await work(services)
        finally:
            await services.close()

    return operate(run())


def with_services(args: argparse.Namespace, work: Callable[[Services], Awaitable[int]]) -> None:
    """An operator command: exits with what `work` returns."""
    raise SystemExit(run_with_services(operator_settings(args), work))


def fail(message: str, status: int = 2) -> int:
    """One line on stderr; the status for the command to return."""
    print(f"healthbot: {message}", file=sys.stderr)
    return status


class ShowDefaults(argparse.HelpFormatter):
    """Help that names each option's default, where it has one worth saying (not None, not a flag's False)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "default" not in text and \
                action.option_strings:
            text += " (default: %(default)s)"
        return text


def command(subparsers: Any, name: str, func: Callable[[argparse.Namespace], None], help_text: str,
            config: bool = True) -> argparse.ArgumentParser:
    """A subcommand; each takes --config after its name too (`healthbot serve --config x.toml`)."""
    parser = subparsers.add_parser(name, help=help_text, formatter_class=ShowDefaults)
    if config:
        parser.add_argument("--config", default=argparse.SUPPRESS)
    parser.set_defaults(func=func)
    return parser


def whole(low: int, high: int) -> Callable[[str], int]:
    """An option's type: a whole number from `low` to `high`. argparse turns the refusal into one line and
    exit status 2, where a negative --count was a traceback and --workers 10**20 would fork without end."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {value}")
        return value
    return parse


def moment(text: str, what: str, *, end: bool = False) -> float:
    """`--from`/`--to` as a timestamp; with `end`, a date alone means the end of that day."""
    from bot.domain.clock import parse_local

    try:
        return parse_local(text, end=end)
    except ValueError:
        print(f"healthbot: {what} must be YYYY-MM-DD[ HH:MM[:SS]], got {text!r}", file=sys.stderr)
        raise SystemExit(2) from None
