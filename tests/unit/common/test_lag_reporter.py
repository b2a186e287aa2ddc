"""The lag reporter: JetStream's consumer info to gauges, failures logged and retried."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from nats.js.api import ConsumerConfig, ConsumerInfo

from piyasa_common import metrics
from piyasa_common.lag import ConsumerLagReporter, Durable
from tests.support.waiting import eventually

STREAM = "unit_WORK"


def info(durable: str, *, pending: int, ack_pending: int, redelivered: int = 0) -> ConsumerInfo:
    return ConsumerInfo(
        name=durable,
        stream_name=STREAM,
        config=ConsumerConfig(durable_name=durable),
        created=datetime.now(UTC),
        num_pending=pending,
        num_ack_pending=ack_pending,
        num_redelivered=redelivered,
    )


class FakeJetStream:
    """Answers consumer info from a table; `failures` makes the next calls raise."""

    def __init__(self) -> None:
        self.infos: dict[str, ConsumerInfo] = {}
        self.failures = 0
        self.calls = 0

    async def consumer_info(
        self, stream: str, consumer: str, timeout: float | None = None
    ) -> ConsumerInfo:
        assert stream == STREAM and timeout is not None
        self.calls += 1
        if self.failures:
            self.failures -= 1
            raise TimeoutError("nats: timeout")
        return self.infos[consumer]


def gauge(name: str, durable: str) -> float | None:
    return metrics.REGISTRY.get_sample_value(name, {"consumer": durable})


@pytest.fixture(autouse=True)
def no_leftover_series() -> Iterator[None]:
    yield
    for g in (metrics.CONSUMER_LAG, metrics.CONSUMER_ACK_PENDING, metrics.CONSUMER_REDELIVERED):
        g.clear()


async def test_lag_is_pending_plus_ack_pending_per_durable_with_redeliveries() -> None:
    js = FakeJetStream()
    js.infos["unit-guard"] = info("unit-guard", pending=40, ack_pending=8, redelivered=3)
    reporter = ConsumerLagReporter(js, lambda: [(STREAM, "unit-guard")], interval_s=60)

    await reporter.refresh()

    assert gauge("piyasa_consumer_lag", "unit-guard") == 48
    assert gauge("piyasa_consumer_ack_pending", "unit-guard") == 8
    assert gauge("piyasa_consumer_redelivered", "unit-guard") == 3


async def test_a_failing_consumer_info_is_logged_once_retried_and_never_stops_the_refreshes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    js = FakeJetStream()
    js.infos["unit-gen"] = info("unit-gen", pending=5, ack_pending=2)
    js.failures = 3
    reporter = ConsumerLagReporter(js, lambda: [(STREAM, "unit-gen")], interval_s=0.01)

    with caplog.at_level(logging.INFO, logger="piyasa_common.lag"):
        reporter.start()
        try:
            await eventually(lambda: gauge("piyasa_consumer_lag", "unit-gen") == 7, timeout=5)
        finally:
            await reporter.stop()

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "retrying" in warnings[0].getMessage()
    assert any(r.getMessage() == "consumer info available again" for r in caplog.records)
    assert js.calls >= 4


async def test_a_partition_given_up_has_its_series_removed_and_stop_withdraws_the_rest() -> None:
    js = FakeJetStream()
    for durable in ("unit-d-p000", "unit-d-p001"):
        js.infos[durable] = info(durable, pending=1, ack_pending=0)
    held: list[Durable] = [(STREAM, "unit-d-p000"), (STREAM, "unit-d-p001")]
    reporter = ConsumerLagReporter(js, lambda: list(held), interval_s=60)
    await reporter.refresh()
    assert gauge("piyasa_consumer_lag", "unit-d-p001") == 1

    held.pop()  # the lease of partition 1 went to another replica
    await reporter.refresh()

    assert gauge("piyasa_consumer_lag", "unit-d-p001") is None
    assert gauge("piyasa_consumer_redelivered", "unit-d-p001") is None
    assert gauge("piyasa_consumer_lag", "unit-d-p000") == 1
    await reporter.stop()
    assert gauge("piyasa_consumer_lag", "unit-d-p000") is None
