"""Consistency with the bot's own stances and holdings."""

from __future__ import annotations

from piyasa_domain import BEARISH, BULLISH, BY_ID, detect_holding_claims, resolve, topic_key
from piyasa_guard.model import CheckContext, DraftView, StanceFact, Verdict
from piyasa_guard.reasons import Reason, ReasonCode


def stance_is_binding(stance: StanceFact, ctx: CheckContext) -> bool:
    """A stance binds while its cooldown runs, or always when it is firm."""
    if stance.position not in (BULLISH, BEARISH):
        return False
    if stance.cooldown_until is not None and stance.cooldown_until > ctx.now:
        return True
    return stance.strength >= ctx.policy.firm_stance_strength


class StanceConsistency:
    name = "stance"

    def __call__(self, text: str, draft: DraftView, ctx: CheckContext) -> Verdict:
        binding = [s for s in ctx.stances if stance_is_binding(s, ctx)]
        if not binding:
            return Verdict()
        readings = ctx.readings
        if readings is None:
            readings = ctx.classifier.classify(
                text, topics=[s.topic for s in binding], default_topic=draft.topic
            )
        by_topic = {r.topic: r for r in readings}
        reasons: list[Reason] = []
        for stance in binding:
            reading = by_topic.get(topic_key(stance.topic))
            if reading is None or reading.position == stance.position:
                continue
            if reading.position not in (BULLISH, BEARISH):
                continue
            if reading.confidence < ctx.policy.stance_confidence:
                continue
            why = ", ".join(reading.reasons[:3])
            until = (
                f" until {stance.cooldown_until:%Y-%m-%d %H:%M}"
                if stance.cooldown_until and stance.cooldown_until > ctx.now
                else ""
            )
            reasons.append(
                Reason(
                    ReasonCode.STANCE_CONTRADICTION,
                    f"you are {stance.position} on {stance.topic}{until}; the draft reads "
                    f"{reading.position} ({reading.confidence:.2f}: {why})"[:500],
                )
            )
        return Verdict(tuple(reasons))


class HoldingConsistency:
    name = "holdings"

    def __call__(self, text: str, draft: DraftView, ctx: CheckContext) -> Verdict:
        if not ctx.holdings:
            return Verdict()
        quantities: dict[str, float] = {}
        for holding in ctx.holdings:
            asset = resolve(holding.symbol) or holding.symbol.upper()
            quantities[asset] = quantities.get(asset, 0.0) + holding.quantity
        held = {a for a, q in quantities.items() if q > 0}
        closed = {a for a, q in quantities.items() if q == 0}
        reasons: list[Reason] = []
        for claim in detect_holding_claims(text):
            if claim.confidence < ctx.policy.holding_confidence:
                continue
            if not claim.holds:
                hit = _held_under(claim.asset, held)
                if hit:
                    reasons.append(
                        Reason(
                            ReasonCode.HOLDING_CONTRADICTION,
                            f"you hold {hit}; the draft says you hold none ({claim.reasons[0]})",
                        )
                    )
            elif claim.asset in closed:
                reasons.append(
                    Reason(
                        ReasonCode.HOLDING_CONTRADICTION,
                        f"your {claim.asset} position is closed; the draft says you hold it "
                        f"({claim.reasons[0]})",
                    )
                )
        return Verdict(tuple(dict.fromkeys(reasons)))


def _held_under(asset: str, held: set[str]) -> str | None:
    """The held asset a "none of `asset`" claim contradicts (CRYPTO covers every coin)."""
    if asset in held:
        return asset
    if asset == "CRYPTO":
        coins = sorted(a for a in held if a in BY_ID and BY_ID[a].kind == "crypto")
        return coins[0] if coins else None
    return None


__all__ = ["HoldingConsistency", "StanceConsistency", "stance_is_binding"]
