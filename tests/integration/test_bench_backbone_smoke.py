"""The backbone benchmark's quick mode runs end to end against the session's NATS.

No timing thresholds: a benchmark is not a timed unit test. This only proves that every
figure is measured and that the markdown section is produced and placed.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.integration

BENCH = Path(__file__).resolve().parents[2] / "bench" / "backbone.py"


def load_bench() -> ModuleType:
    name = "piyasa_bench_backbone"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve their module while the class is built
    spec.loader.exec_module(module)
    return module


async def test_quick_run_measures_every_figure_and_writes_its_section(
    nats_url: str, prefix: str, tmp_path: Path
) -> None:
    bench = load_bench()
    output = tmp_path / "performance.md"
    other = "<!-- bench:other:start -->\nanother benchmark's figures\n<!-- bench:other:end -->\n"
    output.write_text(f"# Performance\n\n{other}")

    report = await bench.run(
        nats_url=nats_url, quick=True, output=output, prefix=prefix, say=lambda line: None
    )

    sections = {rate.section for rate in report.rates}
    assert {"publish-each", "publish-async"} <= sections
    assert {s for s in sections if s.startswith("consume:")} == {
        "consume:generation.requested",
        "consume:message.sent",
    }
    assert all(rate.n > 0 and rate.seconds > 0 and rate.per_s > 0 for rate in report.rates)
    for section in sections:
        tracing = {rate.tracing for rate in report.rates if rate.section == section}
        assert {"-", "off", "100%"} <= tracing, section
    assert [s.label.split(",")[0] for s in report.startups] == [
        "window",
        "window",
        "snapshot + catch-up of 1 h",
    ]
    assert all(s.seconds > 0 and s.conv_applied > 0 for s in report.startups)
    assert report.startups[0].conv_applied == report.startups[1].conv_applied
    assert report.startups[1].conv_stream_msgs > report.startups[0].conv_stream_msgs
    assert report.payloads[0][1] > 0 and report.snapshot_bytes > 0

    text = output.read_text()
    assert text.startswith("# Performance") and other in text
    assert text.count(bench.START_MARK) == 1 and text.count(bench.END_MARK) == 1
    section = text[text.index(bench.START_MARK) : text.index(bench.END_MARK)]
    assert section.strip() == report.markdown.strip().removesuffix(bench.END_MARK).strip()
    for heading in ("### Publish", "### Consume + ack", "### Start-to-ready"):
        assert heading in section
    assert "bytes" in section and "nats-server v" in section

    # A later run replaces its own section and leaves the others alone.
    bench.write_section(output, report.markdown.replace("Payloads:", "Payloads (again):"))
    again = output.read_text()
    assert again.count(bench.START_MARK) == 1 and "Payloads (again):" in again
    assert other in again
