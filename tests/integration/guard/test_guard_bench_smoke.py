"""The guard benchmark's quick mode runs end to end against the session's NATS.

No timing thresholds: a benchmark is not a timed test. This proves every figure is
measured and the markdown section is placed without touching other sections.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.integration

BENCH = Path(__file__).resolve().parents[3] / "bench"


def load(name: str) -> ModuleType:
    module_name = f"piyasa_bench_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


async def test_quick_run_measures_every_size_and_writes_its_section(
    nats_url: str, tmp_path: Path
) -> None:
    bench = load("guard")
    output = tmp_path / "performance.md"
    other = "<!-- bench:other:start -->\nother figures\n<!-- bench:other:end -->\n"
    output.write_text(f"# Performance\n\n{other}")

    rows = await bench.run(nats_url=nats_url, quick=True, output=output, say=lambda _: None)

    assert [r.history for r in rows] == list(bench.QUICK.histories)
    assert all(r.decisions_per_s > 0 and r.check_p99_ms > 0 for r in rows)
    text = output.read_text()
    assert other in text
    assert text.count(bench.START_MARK) == 1 and text.count(bench.END_MARK) == 1


def test_quality_bench_writes_its_section(tmp_path: Path) -> None:
    bench = load("guard_quality")
    output = tmp_path / "performance.md"
    bench.main(["--output", str(output)])
    text = output.read_text()
    assert bench.START_MARK in text and "| near_duplicate |" in text
