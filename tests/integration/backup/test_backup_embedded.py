"""A laptop's flow, and the drill's: restore a production backup into a new state directory
(its embedded servers started for the restore, the streams down to the one replica a single
server allows), then back that directory up again while nothing runs on it."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from piyasa_cli.backup import locate, read_manifest
from piyasa_common.connection import connect, jetstream
from piyasa_common.provisioning import provision
from piyasa_common.publisher import Publisher
from piyasa_config.schema import migrate as migrate_config
from piyasa_projector.schema import migrate as migrate_projections
from tests.integration.backup.rig import piyasa
from tests.integration.projector.projector_events import bot
from tests.support.backbone import settings_for

pytestmark = pytest.mark.integration

NO_URLS = {"NATS_URL": "", "PIYASA_NATS_URL": "", "DATABASE_URL": "", "PIYASA_DATABASE_URL": ""}


@pytest.fixture
def state_dir() -> Iterator[Path]:
    # Under the system temp dir, as the session's servers: embedded PostgreSQL run as root
    # opens every parent of its data directory to its own user.
    root = Path(tempfile.mkdtemp(prefix="piyasa-drill-"))
    try:
        yield root / "state"
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def test_restore_into_a_new_state_directory_then_back_it_up_again(
    nats_url: str, prefix: str, fresh_database: str, state_dir: Path, tmp_path: Path
) -> None:
    settings = settings_for(nats_url, prefix)
    nc = await connect(nats_url, "backup-tests-embedded")
    try:
        js = jetstream(nc)
        await provision(js, settings)
        publisher = Publisher(js, settings.topology())
        for n in range(5):
            await publisher.publish(bot(f"b{n}", f"Bot {n}"))
    finally:
        await nc.close()
    await migrate_projections(fresh_database)
    await migrate_config(fresh_database)
    first = await piyasa(
        "backup",
        "--to",
        str(tmp_path / "first"),
        NATS_URL=nats_url,
        DATABASE_URL=fresh_database,
        PIYASA_NAME_PREFIX=prefix,
    )
    assert first.exit_code == 0, first.output

    # As a production backup: streams with three replicas, which one server refuses.
    manifest_file = locate(tmp_path / "first") / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    for stream in manifest["streams"]:
        stream["config"]["num_replicas"] = 3
    manifest_file.write_text(json.dumps(manifest))

    restored = await piyasa(
        "restore", str(tmp_path / "first"), PIYASA_STATE_DIR=str(state_dir), **NO_URLS
    )
    assert restored.exit_code == 0, restored.output
    again = await piyasa(
        "backup",
        "--to",
        str(tmp_path / "again"),
        PIYASA_STATE_DIR=str(state_dir),
        PIYASA_NAME_PREFIX=prefix,
        **NO_URLS,
    )
    assert again.exit_code == 0, again.output

    before = read_manifest(locate(tmp_path / "first"))
    after = read_manifest(locate(tmp_path / "again"))
    assert [(s.name, s.last_seq, s.messages) for s in after.streams] == [
        (s.name, s.last_seq, s.messages) for s in before.streams
    ]
    config = next(s for s in after.streams if s.name == f"{prefix}_CONFIG")
    assert (config.messages, config.last_seq) == (5, 5)
    assert {s.config["num_replicas"] for s in after.streams} == {1}
    assert (state_dir / "postgres" / "data" / "PG_VERSION").is_file()
    assert not (state_dir / "run.json").exists(), "nothing runs there now"
