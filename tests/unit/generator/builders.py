"""Generation requests as the scheduler sends them, for the generator's tests and benchmark."""

# ruff: noqa: RUF001 -- Turkish text: the dotless i is a letter, not a look-alike.

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from piyasa_contracts import Envelope, EventKeys, make_event
from piyasa_contracts.events._common import (
    ChatLine,
    Emotion,
    HoldingView,
    Member,
    Persona,
    StanceView,
)
from piyasa_contracts.events.work import (
    GenerationRequested,
    Memory,
    RegenerationRequested,
    Relationship,
    StyleRules,
)

TOPICS = ("BTC", "ETH", "THYAO", "ASELS", "altın", "dolar/TL", "BIST100", "SOL", "NVDA", "gümüş")

LINES_TR = (
    "Bitcoin 68 binin üstünde kapanırsa haftaya yeni zirve gelir bence.",
    "FED tutanakları öncesi temkinli olmakta fayda var.",
    "THYAO bilançosu beklentinin üstünde geldi, yabancı alıcı görünüyor.",
    "Altın yine rekor denemesinde, dolar endeksi zayıf.",
    "Bugün BIST'te hacim çok düşük, herkes kenarda bekliyor.",
    "ETH tarafında ETF haberi fiyatlanmadı bence.",
)
LINES_EN = (
    "BTC closing above 68k would open the way to new highs.",
    "Careful ahead of the Fed minutes, volatility incoming.",
    "NVDA earnings beat again, but guidance matters more.",
    "Gold is testing the record again while the dollar weakens.",
    "Volume is very thin today, everyone is waiting.",
    "ETH ETF flows are not priced in yet imo.",
)


def members(n: int = 6) -> list[Member]:
    out = [
        Member(member_id=f"m{i:03d}", display_name=f"Üye {i}", username=f"uye_{i}")
        for i in range(n)
    ]
    out.append(Member(member_id="h900", display_name="Zeynep"))  # a human without a username
    return out


def generation_request(
    *,
    bot_id: str = "bot001",
    bot_name: str = "Ayşe",
    topic: str | None = "BTC",
    position: str = "bullish",
    strength: float = 0.8,
    language: str = "tr",
    history: int = 12,
    reply: bool = True,
    deadline_s: float = 120.0,
    persona: Persona | None = None,
    rng: random.Random | None = None,
    now: datetime | None = None,
    **overrides: Any,
) -> GenerationRequested:
    """A realistic request: persona, stances, holdings, relationships, memories, history."""
    rng = rng or random.Random(0)
    now = now or datetime.now(UTC)
    people = members()
    lines = LINES_TR if language == "tr" else LINES_EN
    chat = [
        ChatLine(
            ref=uuid.uuid4().hex,
            author_id=bot_id if i % 5 == 4 else people[i % len(people)].member_id,
            author_kind="human" if i % 3 == 0 else "bot",
            author_name=bot_name if i % 5 == 4 else people[i % len(people)].display_name,
            text=lines[(i + rng.randrange(len(lines))) % len(lines)],
            telegram_message_id=1000 + i,
            sent_at=now - timedelta(minutes=history - i),
        )
        for i in range(history)
    ]
    others = [line for line in chat if line.author_id != bot_id]
    values: dict[str, Any] = {
        "turn_id": uuid.uuid4().hex,
        "deadline": now + timedelta(seconds=deadline_s),
        "bot_id": bot_id,
        "bot_name": bot_name,
        "persona": persona
        or Persona(
            tone="samimi, biraz alaycı" if language == "tr" else "friendly, a bit sarcastic",
            background="İstanbul'da yaşayan, on yıldır kripto ve BIST takip eden bir yatırımcı.",
            expertise=["kripto", "teknik analiz", "makro"],
            risk_appetite=0.7,
            verbosity=0.5,
            emoji_use=0.3,
            catchphrases=["sabır kazandırır"] if language == "tr" else ["patience pays"],
        ),
        "emotion": Emotion(mood=round(rng.uniform(-1, 1), 2), label="iyimser"),
        "stances": [
            StanceView(
                topic=topic or "BTC",
                position=position,
                strength=strength,
                rationale="ETF girişleri" if language == "tr" else "ETF inflows",
            ),
            StanceView(topic="THYAO", position="neutral", strength=0.4),
        ],
        "holdings": [HoldingView(symbol="BTC", quantity=0.35, average_cost=51_200.0)],
        "relationships": [Relationship(other_id="m001", affinity=0.4, note="sık tartışırlar")],
        "memories": [Memory(text="Geçen hafta ETH tahmini tuttu.", weight=0.6)],
        "history": chat,
        "reply_target": others[-1] if reply and others else None,
        "mentionable": people,
        "topic": topic,
        "language": language,
        "style": StyleRules(max_chars=280),
    }
    values.update(overrides)
    return GenerationRequested(**values)


def request_envelope(request: GenerationRequested, chat_id: str = "chat001") -> Envelope:
    return make_event(
        request,
        occurred_at=datetime.now(UTC),
        keys=EventKeys(bot_id=request.bot_id, chat_id=chat_id, turn_id=request.turn_id),
        actor="scheduler",
    )


def regeneration_envelope(
    request: GenerationRequested,
    *,
    attempt: int = 1,
    rejected: str = "BTC kesin uçar, herkes hemen alsın!",
    feedback: tuple[str, ...] = ("compliance: promises returns",),
    chat_id: str = "chat001",
) -> Envelope:
    payload = RegenerationRequested(
        turn_id=request.turn_id,
        deadline=request.deadline,
        attempt=attempt,
        request=request,
        rejected_text=rejected,
        feedback=list(feedback),
    )
    return make_event(
        payload,
        occurred_at=datetime.now(UTC),
        keys=EventKeys(bot_id=request.bot_id, chat_id=chat_id, turn_id=request.turn_id),
        actor="guard",
    )
