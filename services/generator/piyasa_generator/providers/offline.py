"""The offline writer: market chat from grammars, no key and no network.

A message is composed from moves (a reaction to the reply target, a claim on the
topic, a reason, a word on the bot's position, a question), each expanded from a
grammar whose symbols nest (`{hedge}`, `{time}`, `{driver}`...) and whose slots are
filled from the bot's state. What the bot says follows its state:

- the claim's direction and conviction follow the stance on the topic (strength
  < 0.4 weak, < 0.7 medium, else strong); a neutral stance stays undecided;
- a reply agrees when the target leans the bot's way, disagrees (sharply with a
  blunt tone or a disliked author) when it leans the other way;
- holdings of the topic's symbol are mentioned consistently with the stance;
- persona: register (formal or casual), sarcasm, verbosity (how many moves),
  emoji use, catchphrases, writing quirks; mood opens some messages;
- only members from `mentionable` are mentioned, never the bot itself.

The random source is seeded by (turn, attempt): the same request always gives the
same message, another request or a regeneration gives another one, and a
regeneration also follows the guard's feedback and steers away from the rejected
draft and the chat's recent lines.
"""

# ruff: noqa: RUF001, RUF003 -- Turkish text: ı, İ, ş, ğ are letters, not look-alikes.

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass

from piyasa_contracts.events._common import ChatLine, HoldingView, Member, Position, StanceView
from piyasa_contracts.events.work import GenerationRequested, RegenerationRequested
from piyasa_generator.cleaning import truncate
from piyasa_generator.providers import _offline_en, _offline_tr
from piyasa_generator.providers._offline_text import Grammar, quirks, render, similarity
from piyasa_generator.providers.base import Completion, Job

MODEL = "offline-grammar-1"


_BULL_WORDS = (
    "yüksel", "yukarı", "boğa", "ralli", "zirve", "toparlan", "uçu", "iyimser", "alım",
    "bull", "higher", "rally", "moon", "pump", "breakout", "uptrend", "optimistic", "rise",
)  # fmt: skip
_BEAR_WORDS = (
    "düşüş", "düşer", "düşecek", "aşağı", "ayı", "çakıl", "çök", "karamsar", "geri çekil",
    "bear", "lower", "crash", "dump", "drop", "downtrend", "pessimistic", "pullback", "sell-off",
)  # fmt: skip
_FORMAL = ("resmi", "ciddi", "formal", "professional", "profesyonel", "kurumsal", "serious")
_SARCASTIC = ("alaycı", "iğneleyici", "sarcastic", "ironic", "ironik", "sinik", "cynical")
_BLUNT = ("sert", "agresif", "blunt", "aggressive", "kavgacı", "direct", "dobra")


class OfflineProvider:
    """Implements `Provider`; costs nothing and never fails."""

    @property
    def name(self) -> str:
        return "offline"

    @property
    def model(self) -> str:
        return MODEL

    @property
    def key_id(self) -> str:
        return "offline"

    @property
    def governed(self) -> bool:
        return False

    @property
    def priced(self) -> bool:
        return False

    async def aclose(self) -> None:
        return None

    async def complete(self, job: Job) -> Completion:
        return Completion(text=write(job.request, job.regeneration, seed=job.seed), model=MODEL)


def seed_for(turn_id: str, attempt: int) -> int:
    digest = hashlib.blake2b(f"{turn_id}\x1f{attempt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def lean_of(text: str) -> str | None:
    """Which way a message leans: "bull", "bear" or None (undecided or off topic)."""
    lowered = text.lower()
    score = sum(lowered.count(w) for w in _BULL_WORDS) - sum(lowered.count(w) for w in _BEAR_WORDS)
    return "bull" if score > 0 else "bear" if score < 0 else None


def write(
    request: GenerationRequested,
    regeneration: RegenerationRequested | None = None,
    *,
    seed: int,
) -> str:
    """One message for this request; different drafts are tried until one is far
    enough from the rejected draft and the bot's recent lines."""
    rng = random.Random(seed)
    plan = Plan.of(request, regeneration)
    avoid = [line.text for line in request.history[-8:]]
    if regeneration is not None:
        avoid.append(regeneration.rejected_text)
    best, best_overlap = "", 2.0
    for _ in range(8):
        text = _compose(request, plan, rng)
        overlap = max((similarity(text, other) for other in avoid), default=0.0)
        if overlap < 0.5:
            return text
        if overlap < best_overlap:
            best, best_overlap = text, overlap
    return best


# --------------------------------------------------------------------- planning


@dataclass(frozen=True)
class Plan:
    rules: dict[str, list[str]]
    emoji: dict[str, list[str]]
    abbreviations: dict[str, str]
    language: str
    topic: str
    lean: str  # bull | bear | neutral
    level: str  # weak | medium | strong
    stance: StanceView | None
    holding: HoldingView | None
    register: str
    sarcastic: bool
    blunt: bool
    firm: bool  # feedback: the draft contradicted the stance or holdings
    careful: bool  # feedback: the draft sounded like advice or a promise

    @classmethod
    def of(cls, request: GenerationRequested, regeneration: RegenerationRequested | None) -> Plan:
        bank = _offline_tr if request.language == "tr" else _offline_en
        stance = _stance_for(request)
        topic = request.topic or (stance.topic if stance else None)
        if topic is None:
            topic = request.holdings[0].symbol if request.holdings else _default_topic(request)
        lean = {Position.BULLISH: "bull", Position.BEARISH: "bear"}.get(
            stance.position if stance else Position.NEUTRAL, "neutral"
        )
        strength = stance.strength if stance else 0.0
        feedback = " ".join(regeneration.feedback).lower() if regeneration else ""
        firm = any(w in feedback for w in ("stance", "contradict", "holding", "tutarsız", "çeliş"))
        careful = any(
            w in feedback for w in ("advice", "promise", "complian", "tavsiye", "garanti", "vaat")
        )
        level = "strong" if strength >= 0.7 or firm else "medium" if strength >= 0.4 else "weak"
        tone = request.persona.tone.lower()
        return cls(
            rules=bank.RULES,
            emoji=bank.EMOJI,
            abbreviations=bank.ABBREVIATIONS,
            language=request.language,
            topic=topic,
            lean=lean,
            level=level,
            stance=stance,
            holding=_holding_for(request, topic),
            register="formal" if any(w in tone for w in _FORMAL) else "casual",
            sarcastic=any(w in tone for w in _SARCASTIC),
            blunt=any(w in tone for w in _BLUNT),
            firm=firm,
            careful=careful,
        )


def _stance_for(request: GenerationRequested) -> StanceView | None:
    if request.topic:
        wanted = request.topic.casefold()
        for s in request.stances:
            if s.topic.casefold() == wanted:
                return s
        return None
    return max(request.stances, key=lambda s: s.strength, default=None)


def _holding_for(request: GenerationRequested, topic: str) -> HoldingView | None:
    tokens = {t.casefold() for t in re.split(r"[^\w]+", topic) if t}
    return next((h for h in request.holdings if h.symbol.casefold() in tokens), None)


def _default_topic(request: GenerationRequested) -> str:
    return "piyasa" if request.language == "tr" else "the market"


# --------------------------------------------------------------------- composing


def _compose(request: GenerationRequested, plan: Plan, rng: random.Random) -> str:
    persona = request.persona
    target = request.reply_target
    if target is not None and target.author_id == request.bot_id:
        target = None  # never answer oneself
    others = [m for m in request.mentionable if m.member_id != request.bot_id]
    slots = {
        "topic": plan.topic,
        "addr": _address(target, others, rng),
        "mention": "",
        "symbol": plan.holding.symbol if plan.holding else plan.topic,
        "qty": f"{plan.holding.quantity:g}" if plan.holding else "",
        "cost": f"{plan.holding.average_cost:g}"
        if plan.holding and plan.holding.average_cost
        else "",
        "rationale": " ".join(plan.stance.rationale.split()) if plan.stance else "",
    }
    askable = [m for m in others if target is None or m.member_id != target.author_id]
    if askable:
        slots["mention"] = _vocative(rng.choice(askable))
    grammar = Grammar(plan, rng, slots)

    opener: list[str] = []
    if target is not None:
        opener.append(grammar.expand(_reaction(plan, target, request)))
    elif plan.sarcastic and rng.random() < 0.35:
        opener.append(grammar.expand("sarcasm"))
    elif abs(request.emotion.mood) >= 0.4 and rng.random() < 0.5:
        opener.append(grammar.expand("mood.up" if request.emotion.mood > 0 else "mood.down"))

    claim_symbol = f"claim.{plan.lean}.{plan.level}" if plan.lean != "neutral" else "claim.neutral"
    claim = grammar.expand(claim_symbol)

    extras: list[tuple[int, str]] = []
    wanted = round(persona.verbosity * 3 + rng.uniform(-0.8, 0.8))
    if plan.firm:
        wanted = max(wanted, 1)
    pool = ["reason", "holding", "question"]
    rng.shuffle(pool)
    for move in pool[: max(0, min(3, wanted))]:
        if move == "reason":
            own = bool(slots["rationale"]) and (plan.firm or rng.random() < 0.4)
            extras.append((0, grammar.expand("reason.own" if own else "reason")))
        elif move == "holding" and not plan.careful:
            held = "holds" if plan.holding is not None else "none"
            extras.append((1, grammar.expand(f"holding.{plan.lean}.{held}")))
        elif move == "question":
            use_mention = bool(slots["mention"]) and rng.random() < 0.4
            extras.append((2, grammar.expand("question.mention" if use_mention else "question")))
    extras.sort(key=lambda pair: pair[0])

    if not opener and rng.random() < 0.4:
        claim = f"{grammar.expand('lead')}, {claim}"
    if rng.random() < 0.3:
        extras.append((3, grammar.expand("close")))
    sentences = [*opener, claim, *(text for _, text in extras)]
    if persona.catchphrases and rng.random() < 0.25:
        phrase = rng.choice(persona.catchphrases)
        if opener or rng.random() < 0.7:
            sentences.append(phrase)
        else:
            sentences.insert(0, phrase)
    emoji = _emoji(plan, request, rng)
    max_chars = request.style.max_chars
    text = render(sentences, plan, rng, emoji)
    while len(text) > max_chars and len(sentences) > 1:
        # Drop the least needed move: everything but the claim can go.
        droppable = [s for s in sentences if s != claim]
        sentences.remove(droppable[-1])
        text = render(sentences, plan, rng, emoji)
    return quirks(truncate(text, max_chars), persona.writing_quirks, plan)


def _reaction(plan: Plan, target: ChatLine, request: GenerationRequested) -> str:
    theirs = lean_of(target.text)
    if plan.lean == "neutral":
        return "react.hedged" if theirs else "react.open"
    if theirs is None:
        return "react.open"
    if theirs == plan.lean:
        return "react.agree"
    affinity = next(
        (r.affinity for r in request.relationships if r.other_id == target.author_id), 0.0
    )
    return "react.disagree.sharp" if plan.blunt or affinity <= -0.3 else "react.disagree"


def _address(target: ChatLine | None, members: list[Member], rng: random.Random) -> str:
    """How the reply names its target: only a member the bot may mention, else nobody."""
    if target is None:
        return ""
    member = next((m for m in members if m.member_id == target.author_id), None)
    if member is None or rng.random() < 0.25:
        return ""
    if member.username:
        return f"@{member.username} "
    return f"{member.display_name}, "


def _vocative(member: Member) -> str:
    return f"@{member.username}" if member.username else f"{member.display_name},"


def _emoji(plan: Plan, request: GenerationRequested, rng: random.Random) -> str:
    if not request.style.emoji or rng.random() >= request.persona.emoji_use:
        return ""
    bank = plan.emoji[plan.lean]
    count = 2 if request.persona.emoji_use > 0.7 and rng.random() < 0.4 else 1
    return "".join(rng.sample(bank, count))
