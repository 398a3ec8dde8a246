"""The `healthbot` command: each group of subcommands lives in its own module here and only parses and
prints; what the commands do lives in the services (bot/engine, bot/admin, bot/usecases)."""

from __future__ import annotations

import argparse

from bot.cli import admin, devtools, serve, verify


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="healthbot", description="The `healthbot` command.")
    root.add_argument("--config", help="TOML config file (default: $HEALTHBOT_CONFIG, else dev mode)")
    sub = root.add_subparsers(dest="command", required=True)
    for group in (serve, devtools, verify, admin):
        group.add_commands(sub)
    _say_defaults(root)
    return root


def _say_defaults(parser: argparse.ArgumentParser) -> None:
    """Every option with a default says it in --help, even one added without a help text (ShowDefaults adds
    it to those with one)."""
    for action in parser._actions:  # argparse keeps no public list
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                _say_defaults(child)
        elif action.help is None and action.option_strings and action.default not in (None, False,
                                                                                        argparse.SUPPRESS):
            action.help = "default: %(default)s"


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    args.func(args)
