"""The backbone's Prometheus metrics render with help text and bounded labels."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from piyasa_common import metrics

BACKBONE_METRICS = {
    # family name (as the parser reports it) -> label names
    "piyasa_events_consumed": {"consumer", "type", "outcome"},
    "piyasa_events_published": {"type", "outcome"},
    "piyasa_handler_seconds": {"consumer"},
    "piyasa_consumer_lag": {"consumer"},
    "piyasa_consumer_ack_pending": {"consumer"},
    "piyasa_consumer_redelivered": {"consumer"},
    "piyasa_dead_letters": {"consumer", "reason"},
    "piyasa_newer_version": {"type"},
    "piyasa_upcast": {"type", "from_version"},
    "piyasa_lease_partitions_owned": {"service"},
    "piyasa_lease_changes": {"service", "change"},
    "piyasa_stale_epoch_rejected": {"consumer"},
    "piyasa_partition_not_owner": {"consumer"},
    "piyasa_service_ready": {"service"},
    "piyasa_startup_seconds": {"service"},
    "piyasa_publish_retries": set(),
}


def test_every_backbone_metric_renders_with_help_text() -> None:
    body, content_type = metrics.render_latest()

    assert content_type.startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    for name in BACKBONE_METRICS:
        assert name in families, name
        assert len(families[name].documentation) > 20, name


def test_recorded_samples_carry_only_the_declared_labels() -> None:
    metrics.EVENTS_CONSUMED.labels("guard-drafts", "draft.created", "ack").inc()
    metrics.EVENTS_PUBLISHED.labels("message.approved", "duplicate").inc()
    metrics.HANDLER_SECONDS.labels("guard-drafts").observe(0.02)
    metrics.CONSUMER_LAG.labels("guard-drafts").set(7)
    metrics.CONSUMER_ACK_PENDING.labels("guard-drafts").set(2)
    metrics.CONSUMER_REDELIVERED.labels("guard-drafts").set(1)
    metrics.DEAD_LETTERS.labels("guard-drafts", "max_deliveries").inc()
    metrics.NEWER_VERSION.labels("draft.created").inc()
    metrics.UPCAST.labels("draft.created", "1").inc()
    metrics.LEASE_PARTITIONS_OWNED.labels("scheduler").set(16)
    metrics.LEASE_CHANGES.labels("scheduler", "acquired").inc()
    metrics.STALE_EPOCH_REJECTED.labels("dispatcher-approved").inc()
    metrics.NOT_OWNER.labels("dispatcher-approved").inc()
    metrics.SERVICE_READY.labels("guard").set(1)
    metrics.STARTUP_SECONDS.labels("guard").set(1.5)
    metrics.PUBLISH_RETRIES.inc()

    body, _ = metrics.render_latest()

    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    for name, labels in BACKBONE_METRICS.items():
        samples = families[name].samples
        assert samples, name
        for sample in samples:
            assert set(sample.labels) - {"le"} == labels, (name, sample.labels)
    consumed = {
        (s.labels["consumer"], s.labels["type"], s.labels["outcome"]): s.value
        for s in families["piyasa_events_consumed"].samples
        if s.name == "piyasa_events_consumed_total"
    }
    assert consumed[("guard-drafts", "draft.created", "ack")] >= 1


def test_outcome_vocabularies_are_the_documented_ones() -> None:
    assert set(metrics.CONSUME_OUTCOMES) == {
        "ack",
        "nak",
        "deadletter",
        "newer_version",
        "skipped",
    }
    assert set(metrics.PUBLISH_OUTCOMES) == {"ok", "duplicate", "error"}
    assert set(metrics.LEASE_CHANGE_KINDS) == {"acquired", "lost", "released"}
