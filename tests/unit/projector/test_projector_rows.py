"""What each event does to the tables, without a database."""

from __future__ import annotations

import pytest

from piyasa_contracts import decode, encode
from piyasa_contracts.events.config import ControlState
from piyasa_projector.rows import rows_for
from piyasa_projector.schema import metadata
from tests.integration.projector import projector_events as ev
from tests.support.backbone import request_event

EVERY_PROJECTED_EVENT = [
    ev.bot("b1", llm={"provider": "offline"}),
    ev.chat("c1", -1001),
    ev.stance("s1", "b1"),
    ev.holding("h1", "b1"),
    ev.settings_changed({"a": 1}),
    ev.control("fleet", ControlState.RUNNING),
    ev.sent("c1", "t1", "b1", 10),
    ev.incoming("c1", "p1", 11),
    ev.reaction("c1", 10, "p1"),
    ev.failed("c1", "t2", "b1"),
    ev.expired("c1", "t3"),
    ev.dropped("c1", "t4"),
]


@pytest.mark.parametrize("envelope", EVERY_PROJECTED_EVENT, ids=lambda e: e.type)
def test_every_row_fills_exactly_its_tables_columns(envelope):
    rows = rows_for(decode(encode(envelope)), 42)

    assert rows
    for row in rows:
        assert set(row.values) == set(metadata.tables[row.table].columns.keys())
        assert row.sequence == 42


def test_a_config_event_is_the_aggregates_full_state_versioned_by_its_sequence():
    deleted = ev.bot("b1", "Ayşe", deleted=True, hourly_limit=3)

    (row,) = rows_for(decode(encode(deleted)), 17)

    assert row.table == "bots"
    assert row.values["version"] == 17
    assert row.values["deleted"] is True
    assert row.values["hourly_limit"] == 3
    assert row.values["updated_at"] == deleted.occurred_at
    assert row.values["persona"]["risk_appetite"] == 0.5


def test_a_sent_message_is_a_message_and_its_turns_outcome():
    sent = ev.sent("c1", "t1", "b1", 10, text="Merhaba")

    message, outcome = rows_for(decode(encode(sent)), 5)

    assert (message.table, message.values["kind"], message.values["text"]) == (
        "messages",
        "bot",
        "Merhaba",
    )
    assert (outcome.table, outcome.values["outcome"], outcome.values["turn_id"]) == (
        "turn_outcomes",
        "sent",
        "t1",
    )


def test_a_humans_message_is_kept_sealed():
    incoming = ev.incoming("c1", "p1", 11, ciphertext="gAAAAAB-secret")

    (row,) = rows_for(decode(encode(incoming)), 6)

    assert row.values["text"] is None
    assert row.values["sealed_text"] == {"key_id": "k-p1", "ciphertext": "gAAAAAB-secret"}


def test_work_events_are_not_projected():
    request = request_event("c1", "t1")
    assert rows_for(decode(encode(request)), 1) == []
