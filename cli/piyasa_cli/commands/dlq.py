"""`piyasa dlq list|show|replay|purge` over piyasa_common.deadletters."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from piyasa_cli.commands._common import run, state_dir_option, target_for
from piyasa_cli.target import Target, jetstream
from piyasa_common import deadletters
from piyasa_common.deadletters import DeadLetterRecord


def record_summary(record: DeadLetterRecord) -> dict[str, Any]:
    """One dead letter as plain data (for --json and the table)."""
    parked = record.parked_at.isoformat() if record.parked_at else None
    dead = record.dead_letter
    if dead is None:
        return {"seq": record.seq, "parked_at": parked, "problem": record.problem}
    return {
        "seq": record.seq,
        "parked_at": parked,
        "consumer": dead.consumer,
        "reason": dead.reason,
        "type": dead.original_type,
        "original_id": dead.original_id,
        "subject": dead.subject,
        "origin": f"{dead.stream_name}:{dead.stream_sequence}",
        "deliveries": dead.deliveries,
        "error": dead.error,
    }


def _one_line(record: DeadLetterRecord, now: datetime) -> str:
    age = "?"
    if record.parked_at is not None:
        age = _ago((now - record.parked_at).total_seconds())
    dead = record.dead_letter
    if dead is None:
        return f"{record.seq:>8}  {age:>6}  (unreadable: {record.problem})"
    error = dead.error.replace("\n", " ")
    error = error if len(error) <= 60 else error[:57] + "..."
    return (
        f"{record.seq:>8}  {age:>6}  {dead.consumer:<24}  {dead.reason:<12}  "
        f"{dead.original_type or '?':<22}  {error}"
    )


def _ago(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


@click.group()
def dlq() -> None:
    """List, inspect, replay and purge dead letters (messages consumers parked)."""


@dlq.command("list")
@click.option(
    "--limit", default=50, show_default=True, type=click.IntRange(1, deadletters.MAX_PAGE)
)
@click.option("--after", "after_seq", type=click.IntRange(min=0), help="Page on after this SEQ.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@state_dir_option
def list_(limit: int, after_seq: int | None, as_json: bool, state_dir: Path | None) -> None:
    """List dead letters, oldest first."""
    target = target_for(state_dir)

    async def fetch() -> tuple[list[DeadLetterRecord], int]:
        async with jetstream(target) as js:
            topology = target.topology()
            records = await deadletters.list_dead_letters(
                js, topology, limit=limit, after_seq=after_seq
            )
            return records, await deadletters.count_dead_letters(js, topology)

    records, total = run(fetch())
    if as_json:
        for record in records:
            click.echo(json.dumps(record_summary(record), ensure_ascii=False))
        return
    if not records:
        click.echo("no dead letters" if total == 0 else f"none after {after_seq} ({total} parked)")
        return
    click.echo(f"{'SEQ':>8}  {'AGE':>6}  {'CONSUMER':<24}  {'REASON':<12}  {'TYPE':<22}  ERROR")
    now = datetime.now(UTC)
    for record in records:
        click.echo(_one_line(record, now))
    footer = f"{len(records)} shown, {total} parked"
    if len(records) == limit:
        footer += f"; next page: piyasa dlq list --after {records[-1].seq}"
    click.echo(footer)


@dlq.command()
@click.argument("seq", type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="The whole record as JSON.")
@state_dir_option
def show(seq: int, as_json: bool, state_dir: Path | None) -> None:
    """Show dead letter SEQ: why it was parked, its headers and its original body."""
    target = target_for(state_dir)
    record = run(_get(target, seq))
    summary = record_summary(record)
    body: Any = None
    if record.dead_letter is not None:
        summary["headers"] = record.dead_letter.headers
        raw = record.original_data()
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
    if as_json:
        click.echo(json.dumps({**summary, "body": body}, ensure_ascii=False, indent=2))
        return
    for key, value in summary.items():
        if key == "headers":
            click.echo("headers:")
            for name, header in sorted(value.items()):
                click.echo(f"  {name}: {header}")
        else:
            click.echo(f"{key}: {value}")
    if body is not None:
        click.echo("body:")
        text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False, indent=2)
        click.echo(text)


async def _get(target: Target, seq: int) -> DeadLetterRecord:
    async with jetstream(target) as js:
        return await deadletters.get_dead_letter(js, target.topology(), seq)


@dlq.command()
@click.argument("seq", type=click.IntRange(min=1))
@state_dir_option
def replay(seq: int, state_dir: Path | None) -> None:
    """Publish dead letter SEQ again on its original subject, then delete it."""
    target = target_for(state_dir)

    async def go() -> deadletters.ReplayResult:
        async with jetstream(target) as js:
            return await deadletters.replay(js, target.topology(), seq)

    result = run(go())
    note = " (an earlier replay had stored it already)" if result.duplicate else ""
    click.echo(
        f"replayed dead letter {seq} to {result.subject} as {result.msg_id} "
        f"({result.stream} seq {result.stream_seq}){note}"
    )


@dlq.command()
@click.argument("seq", type=click.IntRange(min=1), required=False)
@click.option("--all", "all_", is_flag=True, help="Purge every dead letter parked so far.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before purging all.")
@state_dir_option
def purge(seq: int | None, all_: bool, yes: bool, state_dir: Path | None) -> None:
    """Delete dead letter SEQ, or every one with --all."""
    if (seq is None) == (not all_):
        raise click.UsageError("give either SEQ or --all")
    target = target_for(state_dir)
    if all_ and not yes:
        click.confirm(f"purge every dead letter of prefix {target.prefix}?", abort=True)

    async def go() -> int:
        async with jetstream(target) as js:
            return await deadletters.purge(js, target.topology(), seq)

    count = run(go())
    click.echo(f"purged {count} dead letter{'s' if count != 1 else ''}")
