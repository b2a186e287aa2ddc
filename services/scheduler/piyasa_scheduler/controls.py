"""Operators' pause and stop switches, for the fleet, a chat or a bot; the worst one wins."""

from __future__ import annotations

from piyasa_contracts.events.config import ControlChanged, ControlScope, ControlState

_SEVERITY = {ControlState.RUNNING: 0, ControlState.PAUSED: 1, ControlState.STOPPED: 2}


class Controls:
    """Every control aggregate in force, by id; a deleted one no longer applies."""

    def __init__(self) -> None:
        self._by_id: dict[str, ControlChanged] = {}

    def apply(self, p: ControlChanged) -> None:
        if p.deleted:
            self._by_id.pop(p.id, None)
        else:
            self._by_id[p.id] = p

    def of_chat(self, chat_id: str) -> ControlState:
        return self._worst(ControlScope.CHAT, chat_id)

    def of_bot(self, bot_id: str) -> ControlState:
        return self._worst(ControlScope.BOT, bot_id)

    def _worst(self, scope: ControlScope, target: str) -> ControlState:
        worst = ControlState.RUNNING
        for c in self._by_id.values():
            applies = c.scope is ControlScope.FLEET or (c.scope is scope and c.target_id == target)
            if applies and _SEVERITY[c.state] > _SEVERITY[worst]:
                worst = c.state
        return worst


__all__ = ["Controls"]
