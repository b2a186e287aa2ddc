"""GitHub workflows: valid against the workflow schema, and running what `.ci/run` runs."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.unit.deploy.tools import BUILT_IMAGES, ROOT, WORKFLOWS, check_jsonschema, dockerfile

CI_RUN = ROOT / ".ci" / "run"


def workflow(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return job["steps"]  # type: ignore[no-any-return]


def test_workflows_match_the_github_workflow_schema() -> None:
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert [p.rsplit("/", 1)[1] for p in files] == ["ci.yml", "images.yml", "release.yml"]
    result = check_jsonschema("--builtin-schema", "vendor.github-workflows", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path: Any) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  test:\n    runs-on: ubuntu-24.04\n    step:\n      - run: true\n",
        encoding="utf-8",
    )
    result = check_jsonschema("--builtin-schema", "vendor.github-workflows", str(broken))
    assert result.returncode == 1


def test_ci_runs_the_same_script_as_a_developer() -> None:
    ci = workflow("ci.yml")
    # PyYAML reads the bare key `on` as True.
    assert {"push", "pull_request"} <= set(ci[True])
    runs = [s.get("run", "") for s in steps(ci["jobs"]["check"])]
    assert ".ci/run" in runs
    audit = " ".join(s.get("run", "") for s in steps(ci["jobs"]["audit"]))
    assert "pip-audit" in audit and "--strict" in audit


@pytest.mark.parametrize("name", ["images.yml", "release.yml"])
def test_every_image_is_built_from_its_dockerfile(name: str) -> None:
    jobs = workflow(name)["jobs"]
    job = jobs["build"] if name == "images.yml" else jobs["images"]
    matrix = {entry["image"]: entry["dockerfile"] for entry in job["strategy"]["matrix"]["include"]}
    assert matrix == {
        image: dockerfile(image).relative_to(ROOT).as_posix() for image in BUILT_IMAGES
    }
    build = next(s for s in steps(job) if s.get("uses", "").startswith("docker/build-push-action"))
    assert build["with"]["context"] == "."
    assert build["with"]["file"] == "${{ matrix.dockerfile }}"


def test_a_version_tag_releases_checked_images() -> None:
    release = workflow("release.yml")
    assert release[True]["push"]["tags"] == ["v*.*.*"]
    jobs = release["jobs"]
    assert [s.get("run") for s in steps(jobs["check"]) if "run" in s] == [".ci/run"]
    assert jobs["images"]["needs"] == "check"
    meta = next(s for s in steps(jobs["images"]) if s.get("id") == "meta")
    assert "type=semver,pattern={{version}}" in meta["with"]["tags"]
    assert jobs["manifests"]["needs"] == "images"


def test_ci_script_installs_the_validators_and_ends_with_the_readme_test_command() -> None:
    script = CI_RUN.read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    test_command = re.search(
        r"```sh\n(python3 -m pip install uv && uv run --frozen pytest)\n```", readme
    )
    assert test_command is not None
    commands = [
        line for line in script.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]
    # The README's command, quieter (pip's own flags), comes last.
    last = re.sub(r"pip install (--[\w-]+ )+", "pip install ", commands[-1])
    assert last.startswith(test_command[1]), "the README's test command comes last"
    assert commands[-1].endswith('pytest "${COVERAGE[@]}"')
    coverage = script[script.index("COVERAGE=(") : script.index(")", script.index("COVERAGE=("))]
    assert re.search(r"--cov-fail-under=\d+", coverage)
    for package in ("piyasa_contracts", "piyasa_common", "piyasa_dispatcher", "piyasa_sandbox"):
        assert f"--cov={package}" in coverage
    assert "apt-get download prometheus" in script and "PROMTOOL" in script
    assert "bandit -q -r" in script and "--severity-level medium" in script
    assert "PIYASA_REQUIRE_TOOLS=1" in script
