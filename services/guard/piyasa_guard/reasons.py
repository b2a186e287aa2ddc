"""Machine-readable rejection reasons: a closed set of codes (bounded metric labels)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ReasonCode(StrEnum):
    STANCE_CONTRADICTION = "stance_contradiction"
    HOLDING_CONTRADICTION = "holding_contradiction"
    NEAR_DUPLICATE = "near_duplicate"
    GUARANTEED_RETURN = "guaranteed_return"
    DIRECT_ORDER = "direct_order"
    PRICE_TARGET_PROMISE = "price_target_promise"
    SECRET_LEAK = "secret_leak"  # noqa: S105 - a reason code, not a secret
    TOO_LONG = "too_long"
    AI_TELL = "ai_tell"
    EMPTY = "empty"


COMPLIANCE: frozenset[ReasonCode] = frozenset(
    {
        ReasonCode.GUARANTEED_RETURN,
        ReasonCode.DIRECT_ORDER,
        ReasonCode.PRICE_TARGET_PROMISE,
        ReasonCode.SECRET_LEAK,
    }
)


def reason_class(code: ReasonCode) -> str:
    """The quality class a code belongs to (the fixtures' labels)."""
    if code in COMPLIANCE:
        return "compliance"
    if code in (ReasonCode.TOO_LONG, ReasonCode.AI_TELL, ReasonCode.EMPTY):
        return "hygiene"
    return code.value


@dataclass(frozen=True, slots=True)
class Reason:
    code: ReasonCode
    detail: str = ""

    def feedback(self) -> str:
        """One line the generator can put in its retry prompt."""
        return f"{self.code.value}: {self.detail}" if self.detail else self.code.value


__all__ = ["COMPLIANCE", "Reason", "ReasonCode", "reason_class"]
