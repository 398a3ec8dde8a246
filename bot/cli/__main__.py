"""`python -m bot.cli`: what `serve --workers N` starts each worker with."""

from bot.cli import main

main()
