"""The pipeline's work items (WORK stream): requests, drafts and guard decisions."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime, Field

from piyasa_contracts.envelope import Payload
from piyasa_contracts.events._common import (
    ChatLine,
    Emotion,
    HoldingView,
    Language,
    Member,
    OpaqueId,
    Persona,
    StanceView,
    Value,
)
from piyasa_contracts.topology import StreamRole


class WorkPayload(Payload):
    stream: ClassVar[StreamRole] = StreamRole.WORK
    stage: ClassVar[str]
    routed_by: ClassVar[str] = "chat_id"
    """The envelope key whose hash picks the partition: the chat, except for the
    dispatcher's work, which is partitioned by bot."""

    turn_id: OpaqueId
    deadline: AwareDatetime = Field(description="the turn expires at this instant")


class Relationship(Value):
    other_id: OpaqueId
    affinity: float = Field(ge=-1.0, le=1.0)
    note: str = Field("", max_length=200)


class Memory(Value):
    text: str = Field(max_length=1000)
    weight: float = Field(1.0, ge=0.0)


class StyleRules(Value):
    max_chars: int = Field(280, ge=1, le=4096)
    emoji: bool = True
    markdown: bool = False


class GenerationRequested(WorkPayload):
    """Everything the generator needs, so it keeps no state of its own."""

    event_type: ClassVar[str] = "generation.requested"
    version: ClassVar[int] = 1
    stage: ClassVar[str] = "request"

    bot_id: OpaqueId
    bot_name: str = Field(max_length=100)
    persona: Persona
    emotion: Emotion = Emotion()
    stances: list[StanceView] = Field(default_factory=list, max_length=50)
    holdings: list[HoldingView] = Field(default_factory=list, max_length=50)
    relationships: list[Relationship] = Field(default_factory=list, max_length=100)
    memories: list[Memory] = Field(default_factory=list, max_length=50)
    history: list[ChatLine] = Field(default_factory=list, max_length=200)
    reply_target: ChatLine | None = None
    mentionable: list[Member] = Field(default_factory=list, max_length=500)
    topic: str | None = Field(None, max_length=120)
    language: Language = "tr"
    priority: int = Field(0, ge=0, le=9)
    style: StyleRules = StyleRules()
    llm_provider: str | None = None
    llm_model: str | None = None


class RegenerationRequested(WorkPayload):
    event_type: ClassVar[str] = "regeneration.requested"
    version: ClassVar[int] = 1
    stage: ClassVar[str] = "regenerate"

    attempt: int = Field(ge=1)
    request: GenerationRequested
    rejected_text: str = Field(max_length=4096)
    feedback: list[str] = Field(default_factory=list, max_length=20)


class TokenUsage(Value):
    prompt: int = Field(0, ge=0)
    completion: int = Field(0, ge=0)
    cached_prompt: int = Field(0, ge=0)


class Drafted(WorkPayload):
    event_type: ClassVar[str] = "draft.created"
    version: ClassVar[int] = 1
    stage: ClassVar[str] = "draft"

    attempt: int = Field(0, ge=0)
    request: GenerationRequested
    text: str = Field(max_length=4096)
    provider: str = Field(max_length=40)
    model: str = Field(max_length=120)
    tokens: TokenUsage = TokenUsage()
    cost_usd: float = Field(0.0, ge=0.0)
    latency_ms: float = Field(0.0, ge=0.0)


class MentionEntity(Value):
    """A mention as Telegram entities count it: offsets in UTF-16 code units."""

    member_id: OpaqueId
    offset: int = Field(ge=0)
    length: int = Field(ge=1)


class Approved(WorkPayload):
    event_type: ClassVar[str] = "message.approved"
    version: ClassVar[int] = 1
    stage: ClassVar[str] = "approved"
    routed_by: ClassVar[str] = "bot_id"

    bot_id: OpaqueId
    text: str = Field(min_length=1, max_length=4096)
    reply_to: ChatLine | None = None
    quote: str | None = Field(None, max_length=1024)
    mentions: list[MentionEntity] = Field(default_factory=list, max_length=50)
    typing: bool = True


class ReactionApproved(WorkPayload):
    """A bot reacts to a message with one emoji (one reaction per bot per message).

    Routed by bot to the dispatcher like `Approved`; `target.telegram_message_id`
    may be None for a bot message still in flight, which the dispatcher resolves
    from sent events.
    """

    event_type: ClassVar[str] = "reaction.approved"
    version: ClassVar[int] = 1
    stage: ClassVar[str] = "approved"
    routed_by: ClassVar[str] = "bot_id"

    bot_id: OpaqueId
    target: ChatLine
    emoji: str = Field(min_length=1, max_length=16)


class RejectionReason(Value):
    code: str = Field(pattern=r"^[a-z_]{1,40}$")
    detail: str = Field("", max_length=500)


class Rejected(WorkPayload):
    event_type: ClassVar[str] = "draft.rejected"
    version: ClassVar[int] = 1
    stage: ClassVar[str] = "decision"

    attempt: int = Field(ge=0)
    reasons: list[RejectionReason] = Field(min_length=1, max_length=20)
    will_retry: bool


WORK_EVENTS: tuple[type[WorkPayload], ...] = (
    GenerationRequested,
    RegenerationRequested,
    Drafted,
    Approved,
    ReactionApproved,
    Rejected,
)
