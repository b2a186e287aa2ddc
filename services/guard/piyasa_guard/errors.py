"""The guard's errors.

GuardError
 └── JudgeUnavailable   the LLM judge failed or answered nonsense: use the offline classifier

A draft that cannot be routed or is not a draft is `piyasa_common.errors.Poison`
(dead-lettered by the consumer runner), not a GuardError.
"""

from __future__ import annotations

from piyasa_common.errors import PiyasaError


class GuardError(PiyasaError):
    pass


class JudgeUnavailable(GuardError):
    pass


__all__ = ["GuardError", "JudgeUnavailable"]
