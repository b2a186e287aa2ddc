"""Injected failures: the next N calls of a method by a bot answer a chosen error."""

from __future__ import annotations

from pydantic import BaseModel, Field

from . import errors

__all__ = ["Fault", "FaultInjector"]

_DEFAULT_TEXT = {
    400: "Bad Request: injected fault",
    401: "Unauthorized",
    403: "Forbidden: bot was kicked from the supergroup chat",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; make sure that only one bot "
    "instance is running",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


class Fault(BaseModel):
    """One injected failure rule (the admin API's body for `POST /sandbox/api/faults`)."""

    bot_id: int | None = Field(None, description="None: any bot.")
    method: str = Field("*", description="Bot API method name, case-insensitive; * for any.")
    count: int = Field(1, ge=1, le=1_000_000, description="How many calls it answers.")
    error_code: int = Field(500, ge=400, le=599)
    description: str | None = Field(None, description="Default: Telegram's text for the code.")
    retry_after: int | None = Field(None, ge=1, le=86_400)
    migrate_to_chat_id: int | None = None
    delay_s: float = Field(0.0, ge=0, le=600, description="Wait this long before answering.")

    def error(self) -> errors.TelegramError:
        parameters: dict[str, int] = {}
        if self.error_code == 429:
            seconds = self.retry_after or 1
            parameters["retry_after"] = seconds
            text = self.description or f"Too Many Requests: retry after {seconds}"
        else:
            if self.retry_after is not None:
                parameters["retry_after"] = self.retry_after
            text = self.description or _DEFAULT_TEXT.get(self.error_code, "Bad Request")
        if self.migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = self.migrate_to_chat_id
        return errors.TelegramError(self.error_code, text, parameters)


class FaultInjector:
    """Rules in the order added; the first that matches a call answers it and counts down."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self._faults.append(fault.model_copy(update={"method": fault.method.lower()}))

    def clear(self) -> None:
        self._faults.clear()

    def listing(self) -> list[Fault]:
        return list(self._faults)

    def take(self, bot_id: int, method: str) -> Fault | None:
        """The fault that answers this call, if any (used up after `count` calls)."""
        method = method.lower()
        for index, fault in enumerate(self._faults):
            if fault.bot_id not in (None, bot_id) or fault.method not in ("*", method):
                continue
            if fault.count <= 1:
                del self._faults[index]
            else:
                self._faults[index] = fault.model_copy(update={"count": fault.count - 1})
            return fault
        return None
