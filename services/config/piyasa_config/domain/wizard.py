# ruff: noqa: RUF001  (Turkish text on purpose)
"""The example fleet the wizard creates: four bots with distinct personas, their stances
and holdings, and one chat they all take part in.

Every id is derived from the wizard id, so a retried call computes the same
fleet and the store skips what an earlier, partial run stored already.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from piyasa_config.domain.ids import holding_id, stance_id, wizard_aggregate_id
from piyasa_contracts.events._common import ActiveHours, EmotionProfile, Persona, Position
from piyasa_contracts.events.config import (
    BotChanged,
    ChatChanged,
    ConfigChanged,
    HoldingChanged,
    StanceChanged,
)


@dataclass(frozen=True)
class ExampleFleet:
    bots: list[BotChanged]
    stances: list[StanceChanged]
    holdings: list[HoldingChanged]
    chat: ChatChanged

    def in_order(self) -> list[ConfigChanged]:
        """Bots first (the chat and stances name them), the chat last."""
        return [*self.bots, *self.stances, *self.holdings, self.chat]


_PERSONAS: list[tuple[str, Persona, EmotionProfile, str]] = [
    (
        "Kemal Bey",
        Persona(
            tone="ağırbaşlı, biraz alaycı",
            background="Emekli bankacı; 2001 krizini masanın öbür tarafından görmüş.",
            expertise=["BIST", "TCMB faiz kararları", "tahvil"],
            risk_appetite=0.25,
            verbosity=0.6,
            emoji_use=0.05,
            catchphrases=["Piyasa her zaman haklıdır.", "Sabır kazandırır."],
            writing_quirks=["cümle sonlarında üç nokta kullanır"],
        ),
        EmotionProfile(baseline_mood=0.1, volatility=0.2, triggers=["faiz", "enflasyon"]),
        "08:00",
    ),
    (
        "Zeynep",
        Persona(
            tone="enerjik, meraklı",
            background="Yazılımcı; kripto paraya 2017'de girmiş, zincir üstü verileri izler.",
            expertise=["BTC", "ETH", "zincir üstü veri"],
            risk_appetite=0.8,
            verbosity=0.4,
            emoji_use=0.6,
            catchphrases=["HODL!", "Grafik yalan söylemez."],
            writing_quirks=["kısaltma kullanır (bence -> bnc)"],
        ),
        EmotionProfile(baseline_mood=0.4, volatility=0.7, triggers=["ETF", "halving"]),
        "10:00",
    ),
    (
        "Hasan Usta",
        Persona(
            tone="samimi, temkinli",
            background="Kuyumcu; altını ve dövizi tezgâhtan bilir.",
            expertise=["altın", "USD/TRY", "gram altın"],
            risk_appetite=0.35,
            verbosity=0.5,
            emoji_use=0.15,
            catchphrases=["Altın güvenli limandır."],
            writing_quirks=["atasözü kullanmayı sever"],
        ),
        EmotionProfile(baseline_mood=0.0, volatility=0.3, triggers=["kur", "savaş"]),
        "09:00",
    ),
    (
        "Deniz",
        Persona(
            tone="hızlı, kısa ve net",
            background="Günlük al-sat yapan genç trader; teknik analizci.",
            expertise=["teknik analiz", "VİOP", "THYAO"],
            risk_appetite=0.7,
            verbosity=0.25,
            emoji_use=0.3,
            catchphrases=["Stop-loss'suz işlem olmaz."],
            writing_quirks=["destek/direnç seviyelerini rakamla yazar"],
        ),
        EmotionProfile(baseline_mood=0.2, volatility=0.6, triggers=["hacim", "kırılım"]),
        "09:30",
    ),
]

_STANCES: list[list[tuple[str, Position, float, str]]] = [
    [
        ("BIST 100", Position.BULLISH, 0.6, "Değerlemeler tarihsel ortalamanın altında."),
        ("faiz", Position.BEARISH, 0.5, "Faiz indirimi için erken."),
    ],
    [
        ("BTC/USD", Position.BULLISH, 0.9, "Arz azalırken kurumsal talep artıyor."),
        ("altın", Position.NEUTRAL, 0.3, "Dijital altın varken fiziki altına gerek yok."),
    ],
    [
        ("altın", Position.BULLISH, 0.8, "Belirsizlikte altın kazanır."),
        ("USD/TRY", Position.BULLISH, 0.5, "Kur yavaş ama istikrarlı yükselir."),
    ],
    [
        ("THYAO", Position.BULLISH, 0.6, "Yolcu sayıları güçlü."),
        ("BTC/USD", Position.BEARISH, 0.4, "Kısa vadede düzeltme bekliyorum."),
    ],
]

_HOLDINGS: list[list[tuple[str, float, float]]] = [
    [("THYAO", 500.0, 281.5), ("TUPRS", 200.0, 162.0)],
    [("BTC", 0.35, 58_200.0), ("ETH", 4.0, 2_950.0)],
    [("XAU-GRAM", 150.0, 2_410.0)],
    [("THYAO", 120.0, 298.0)],
]


def example_fleet(
    wizard_id: str, *, telegram_chat_id: int, title: str, language: str, now: datetime
) -> ExampleFleet:
    """The fleet for `wizard_id`; the same inputs give the same fleet (ids included).

    `now` only dates the holdings and the stances' cooldowns.
    """
    bots: list[BotChanged] = []
    stances: list[StanceChanged] = []
    holdings: list[HoldingChanged] = []
    for index, (name, persona, emotion, start) in enumerate(_PERSONAS):
        bot_id = wizard_aggregate_id(wizard_id, "bot", index)
        bots.append(
            BotChanged(
                id=bot_id,
                name=name,
                language=language,
                active_hours=ActiveHours(start=start, end="23:30"),
                persona=persona,
                emotion=emotion,
                hourly_limit=6,
            )
        )
        for topic, position, strength, rationale in _STANCES[index]:
            stances.append(
                StanceChanged(
                    id=stance_id(bot_id, topic),
                    bot_id=bot_id,
                    topic=topic,
                    position=position,
                    strength=strength,
                    rationale=rationale,
                    cooldown_until=now.replace(microsecond=0) + timedelta(hours=24),
                )
            )
        for symbol, quantity, cost in _HOLDINGS[index]:
            holdings.append(
                HoldingChanged(
                    id=holding_id(bot_id, symbol),
                    bot_id=bot_id,
                    symbol=symbol,
                    quantity=quantity,
                    average_cost=cost,
                    opened_at=now.replace(microsecond=0) - timedelta(days=30),
                )
            )
    chat = ChatChanged(
        id=wizard_aggregate_id(wizard_id, "chat"),
        telegram_chat_id=telegram_chat_id,
        title=title,
        topics=["BIST 100", "BTC/USD", "altın", "USD/TRY", "faiz"],
        language=language,
        target_per_hour=12.0,
        bot_ids=[b.id for b in bots],
        listener_bot_id=bots[0].id,
    )
    return ExampleFleet(bots, stances, holdings, chat)


_SANDBOX_BOT_IDS = (7_000_000_000, 1_000_000_000)
"""Sandbox bot ids: ten digits, like recent real ones, from 7,000,000,000 up."""


def sandbox_token(wizard_id: str, bot_id: str) -> str:
    """A token the Telegram sandbox accepts for the wizard's bot (`<bot id>:<35 chars>`).

    Derived, so a retried run reserves the same token for the same bot. Only for the
    sandbox (it takes the number before the colon as the bot's id): anyone who knows
    the wizard id can compute it, which is no secret worth keeping there.
    """
    digest = hashlib.blake2b(
        f"{wizard_id}/{bot_id}".encode(), digest_size=40, person=b"piyasa-sandbox"
    ).digest()
    base, span = _SANDBOX_BOT_IDS
    number = base + int.from_bytes(digest[:8], "big") % span
    secret = base64.urlsafe_b64encode(digest[8:]).decode().rstrip("=")[:35]
    return f"{number}:{secret}"
