"""For trying and testing without WeChat: the stand-in API, the push simulator and `healthbot chat`.

Only the dev server's wiring (bot.app, bot.cli) imports this package."""
