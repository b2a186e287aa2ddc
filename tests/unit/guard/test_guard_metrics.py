"""The guard's metrics render on the process registry with bounded labels."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from piyasa_common import metrics
from piyasa_guard import metrics as guard_metrics
from piyasa_guard.reasons import ReasonCode


def test_guard_metrics_render_with_every_outcome_and_reason() -> None:
    assert guard_metrics.DECISIONS is not None
    body, _ = metrics.render_latest()
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    outcomes = {s.labels["outcome"] for s in families["piyasa_guard_decisions"].samples}
    reasons = {s.labels["reason"] for s in families["piyasa_guard_rejections"].samples}
    assert outcomes >= {"approved", "rejected", "dropped", "expired"}
    assert reasons == {c.value for c in ReasonCode}
