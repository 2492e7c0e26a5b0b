"""The command palette's provider: what ``AlgoTradeApp.palette_commands`` offers now (bot
actions only to an admin)."""

from __future__ import annotations

from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider


class AlgoTradeCommands(Provider):
    def _commands(self) -> list[tuple[str, str, Any]]:
        commands = getattr(self.app, "palette_commands", None)
        # self.screen: the screen the palette was opened on (its selected bot).
        return commands(self.screen) if commands is not None else []

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
