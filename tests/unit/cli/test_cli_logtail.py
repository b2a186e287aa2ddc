"""Reading log files from their end, and following what is appended."""

from __future__ import annotations

from pathlib import Path

from piyasa_cli.logtail import follow, last_lines


def test_last_lines_reads_only_the_end(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    path.write_text("".join(f"line {i:06d} {'x' * 80}\n" for i in range(5000)))
    assert [line.split()[1] for line in last_lines(path, 3)] == ["004997", "004998", "004999"]
    assert last_lines(path, 0) == []
    short = tmp_path / "short.log"
    short.write_text("only\n")
    assert last_lines(short, 10) == ["only"]


def test_follow_yields_appended_lines_and_survives_rotation(tmp_path: Path) -> None:
    path = tmp_path / "guard.log"
    path.write_text("old\n")
    seen: list[tuple[str, str]] = []
    steps = iter(
        [
            lambda: _append(path, "new 1\nnew 2 partial"),
            lambda: _append(path, " done\n"),
            lambda: (path.rename(tmp_path / "guard.log.1"), path.write_text("after rotation\n")),
        ]
    )

    def stop() -> bool:
        step = next(steps, None)
        if step is None:
            return True
        step()
        return False

    seen.extend(follow({"guard": path}, stop=stop, poll_s=0))

    assert [line for _, line in seen] == ["new 1", "new 2 partial done", "after rotation"]


def _append(path: Path, text: str) -> None:
    with path.open("a") as handle:
        handle.write(text)
