"""The fleet's settings as the generator applies them, folded from the CONFIG stream.

The generator keeps no state but this: the fleet's last `settings.changed`
(`SETTINGS_ID`), followed on its one subject. Until the fleet's settings are
first written, the process settings (`GeneratorSettings`) stand for them.

    context_messages               chat lines the prompt includes (of those the request carries)
    max_message_chars              caps the request's `style.max_chars`: the length the prompt
                                   asks for, the tokens a call may produce, what cleaning keeps
    daily_budget_usd_per_provider  a provider's daily budget (one it does not name keeps
                                   `PIYASA_PROVIDER_DAILY_BUDGET_USD` and its overrides)
    daily_budget_usd_per_bot       each bot's daily budget across priced providers

Readers call these at use time, so a change applies from the next request on.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from piyasa_contracts.events.config import SettingsChanged
from piyasa_contracts.fleet_settings import SETTINGS_ID, FleetSettings
from piyasa_contracts.registry import Event
from piyasa_generator.budget import Limits
from piyasa_generator.settings import GeneratorSettings

log = logging.getLogger(__name__)


class FleetKnobs:
    def __init__(self, settings: GeneratorSettings) -> None:
        self._settings = settings
        self.fleet: FleetSettings | None = None
        """The fleet's knobs; None until its settings are first written."""

    def apply_config(self, event: Event, sequence: int) -> None:
        """Fold one CONFIG event: only the fleet's settings, a delete changes nothing, and an
        invalid one is ignored as a whole."""
        del sequence
        p = event.payload
        if not isinstance(p, SettingsChanged) or p.id != SETTINGS_ID or p.deleted:
            return
        try:
            self.fleet = FleetSettings.model_validate(p.values)
        except ValidationError:
            log.warning("ignoring invalid fleet settings", extra={"event_id": event.envelope.id})

    def history_lines(self) -> int:
        return self.fleet.context_messages if self.fleet else self._settings.history_lines

    def max_message_chars(self) -> int | None:
        """The longest message a bot may post; None: the request's own style decides."""
        return self.fleet.max_message_chars if self.fleet else None

    def limits(self, provider: str) -> Limits:
        """The budgets a call to `provider` is under: its rates, its daily budget, the bot's."""
        s, fleet = self._settings, self.fleet
        daily, bot = s.daily_budget(provider), s.bot_daily_budget_usd
        if fleet is not None:
            daily = fleet.daily_budget_usd_per_provider.get(provider, daily)
            bot = fleet.daily_budget_usd_per_bot
        return Limits(
            rpm=s.llm_rpm.get(provider),
            tpm=s.llm_tpm.get(provider),
            daily_usd=daily,
            bot_daily_usd=bot,
        )


__all__ = ["FleetKnobs"]
