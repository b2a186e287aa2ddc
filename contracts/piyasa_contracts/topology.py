"""Streams, subjects, key-value buckets and durable consumers, as data.

Every name carries a configurable prefix so that tests and tenants can run
side by side on one server. Subjects use opaque ids only: free text (a topic,
Turkish words, `BTC/USD`) never becomes a subject token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from piyasa_contracts.ids import partition_of

_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")

DAY = 24 * 3600


class StreamRole(StrEnum):
    CONFIG = "CONFIG"
    CONVERSATION = "CONVERSATION"
    WORK = "WORK"
    DEADLETTER = "DEADLETTER"


@dataclass(frozen=True)
class StreamSpec:
    role: StreamRole
    subject_root: str
    max_age_s: int | None
    """None keeps messages forever."""
    description: str
    max_msgs_per_subject: int | None = None
    duplicate_window_s: int = 120


STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec(
        StreamRole.CONFIG,
        "config",
        max_age_s=None,
        description="Config aggregates; every event carries the aggregate's full state.",
    ),
    StreamSpec(
        StreamRole.CONVERSATION,
        "conv",
        max_age_s=None,
        description="Sent, incoming, reactions and turn outcomes: the chats' shared history.",
    ),
    StreamSpec(
        StreamRole.WORK,
        "work",
        max_age_s=7 * DAY,
        description="Generation requests, drafts and guard decisions; kept days, not forever.",
    ),
    StreamSpec(
        StreamRole.DEADLETTER,
        "dlq",
        max_age_s=30 * DAY,
        description="Parked poison messages, with the reason, until replayed or purged.",
    ),
)


class Bucket(StrEnum):
    LEASES = "leases"
    HEARTBEATS = "heartbeats"
    SNAPSHOTS = "snapshots"
    SECRETS = "secrets"
    RESERVATIONS = "reservations"
    OFFSETS = "offsets"
    BUDGETS = "budgets"
    DATAKEYS = "datakeys"
    SENDS = "sends"
    UPDATES = "updates"


@dataclass(frozen=True)
class BucketSpec:
    bucket: Bucket
    description: str
    history: int = 1
    ttl_markers: bool = False
    """Per-message TTLs (leases, heartbeats): needs `limit_marker_ttl` on the bucket."""


BUCKETS: tuple[BucketSpec, ...] = (
    BucketSpec(Bucket.LEASES, "Partition leases with a TTL; the revision is the epoch.", 1, True),
    BucketSpec(Bucket.HEARTBEATS, "Each replica's readiness, lag and version.", 1, True),
    BucketSpec(Bucket.SNAPSHOTS, "Stateful services' snapshots with the stream sequence covered."),
    BucketSpec(Bucket.SECRETS, "Encrypted bot tokens; readable by config and dispatcher only."),
    BucketSpec(Bucket.RESERVATIONS, "Natural-key reservations (chat id, bot token) via create."),
    BucketSpec(Bucket.OFFSETS, "Telegram getUpdates offsets per token, beside its lease."),
    BucketSpec(
        Bucket.BUDGETS,
        "LLM providers' request, token and cost budgets per API key and per bot, "
        "shared by every generator replica (compare-and-set on the revision).",
    ),
    BucketSpec(
        Bucket.DATAKEYS,
        "Per-person data keys that seal humans' names and messages; erasing a person "
        "purges their key.",
    ),
    BucketSpec(
        Bucket.SENDS,
        "The dispatcher's turn ledger and scheduled sends: one key per turn "
        "(scheduled, intent, sent), compare-and-set on the revision, expiring after the "
        "turn's deadline.",
        1,
        True,
    ),
    BucketSpec(
        Bucket.UPDATES,
        "Telegram updates already turned into events, by (bot, update_id) and by "
        "(chat, message, kind, edit); kept a day, as Telegram keeps updates.",
        1,
        True,
    ),
)


@dataclass(frozen=True)
class ConsumerSpec:
    """A durable pull consumer.

    A partitioned consumer exists once per partition (`name-p007`), filtered on
    that partition's subjects, so that the replica holding a partition's lease
    is the only one pulling its messages.
    """

    name: str
    stream: StreamRole
    filters: tuple[str, ...]
    """Subject templates below the stream's root; `{p}` is the partition."""
    partitioned: bool = False
    description: str = ""


# The projector is not here: it keeps its cursor in PostgreSQL, in the same
# transaction as its rows, and reads with ephemeral ordered consumers (READERS).
CONSUMERS: tuple[ConsumerSpec, ...] = (
    ConsumerSpec(
        "scheduler",
        StreamRole.CONVERSATION,
        ("{p}.>",),
        partitioned=True,
        description="Humans' messages and turn outcomes that move a chat's schedule.",
    ),
    ConsumerSpec(
        "generator",
        StreamRole.WORK,
        ("request.>", "regenerate.>"),
        description="Generation and regeneration requests; replicas share the consumer.",
    ),
    ConsumerSpec(
        "guard", StreamRole.WORK, ("draft.>",), description="Drafts to approve or reject."
    ),
    ConsumerSpec(
        "dispatcher",
        StreamRole.WORK,
        ("approved.{p}.>",),
        partitioned=True,
        description="Approved messages, partitioned by bot.",
    ),
)


@dataclass(frozen=True)
class ReaderSpec:
    """A service that folds a whole stream with ordered (non-durable) consumers.

    Per-replica state is rebuilt from the log, bounded (`start`), instead of
    sharing a durable cursor; the projector keeps its cursor in PostgreSQL.
    """

    service: str
    stream: StreamRole
    start: str
    description: str


READERS: tuple[ReaderSpec, ...] = (
    ReaderSpec("projector", StreamRole.CONFIG, "position in PostgreSQL", "Config projections."),
    ReaderSpec(
        "projector",
        StreamRole.CONVERSATION,
        "position in PostgreSQL",
        "Message, reaction and turn-outcome projections.",
    ),
    ReaderSpec("projector", StreamRole.DEADLETTER, "position in PostgreSQL", "Dead-letter list."),
    ReaderSpec("scheduler", StreamRole.CONFIG, "last per subject", "Bots, chats, stances."),
    ReaderSpec("scheduler", StreamRole.CONVERSATION, "time window", "The chats' history."),
    ReaderSpec("guard", StreamRole.CONFIG, "last per subject", "Stances, holdings, settings."),
    ReaderSpec("guard", StreamRole.CONVERSATION, "time window", "Recent messages for dedup."),
    ReaderSpec("dispatcher", StreamRole.CONFIG, "last per subject", "Bots, chats, tokens."),
    ReaderSpec(
        "dispatcher", StreamRole.CONVERSATION, "time window", "Sent messages for reply targets."
    ),
)


@dataclass(frozen=True)
class Topology:
    """Concrete names for one prefix and partition count."""

    prefix: str = "piyasa"
    partitions: int = 32
    _consumers: dict[str, ConsumerSpec] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _TOKEN.match(self.prefix):
            raise ValueError(f"prefix {self.prefix!r} must match {_TOKEN.pattern}")
        if not 1 <= self.partitions <= 1024:
            raise ValueError("partitions must be between 1 and 1024")
        self._consumers.update({c.name: c for c in CONSUMERS})

    # streams ---------------------------------------------------------------
    def stream(self, role: StreamRole) -> str:
        return f"{self.prefix}_{role.value}"

    def stream_spec(self, role: StreamRole) -> StreamSpec:
        return next(s for s in STREAMS if s.role is role)

    def stream_subjects(self, role: StreamRole) -> str:
        return f"{self.prefix}.{self.stream_spec(role).subject_root}.>"

    def bucket(self, bucket: Bucket) -> str:
        return f"{self.prefix}_{bucket.value}"

    # subjects --------------------------------------------------------------
    def partition(self, key: str) -> int:
        return partition_of(key, self.partitions)

    def config_subject(self, aggregate: str, aggregate_id: str) -> str:
        return f"{self.prefix}.config.{_token(aggregate)}.{_token(aggregate_id)}"

    def conversation_subject(self, chat_id: str, kind: str) -> str:
        return f"{self.prefix}.conv.{self.partition(chat_id)}.{_token(chat_id)}.{_token(kind)}"

    def work_subject(self, stage: str, partition_key: str) -> str:
        p = self.partition(partition_key)
        return f"{self.prefix}.work.{_token(stage)}.{p}.{_token(partition_key)}"

    def deadletter_subject(self, consumer: str) -> str:
        return f"{self.prefix}.dlq.{_token(consumer)}"

    # consumers -------------------------------------------------------------
    def consumer_spec(self, name: str) -> ConsumerSpec:
        return self._consumers[name]

    def durable_name(self, spec: ConsumerSpec, partition: int | None = None) -> str:
        if spec.partitioned:
            if partition is None:
                raise ValueError(f"consumer {spec.name} is partitioned: give a partition")
            return f"{spec.name}-p{partition:03d}"
        return spec.name

    def consumer_filters(self, spec: ConsumerSpec, partition: int | None = None) -> list[str]:
        root = f"{self.prefix}.{self.stream_spec(spec.stream).subject_root}"
        return [f"{root}.{f.format(p=partition)}" for f in spec.filters]

    def durable_consumers(self) -> list[tuple[ConsumerSpec, int | None]]:
        """Every durable consumer to provision, partitioned ones once per partition."""
        out: list[tuple[ConsumerSpec, int | None]] = []
        for spec in CONSUMERS:
            if spec.partitioned:
                out.extend((spec, p) for p in range(self.partitions))
            else:
                out.append((spec, None))
        return out


def _token(value: str) -> str:
    if not _TOKEN.match(value):
        raise ValueError(f"{value!r} is not an opaque subject token")
    return value
