"""Write deploy/k8s/base/monitoring/prometheusrule.yaml from alerts.yml.

The compose Prometheus loads alerts.yml; the Prometheus Operator loads the same groups from a
PrometheusRule. Run this after editing alerts.yml
(`python deploy/prometheus/sync_prometheusrule.py`); tests/unit/deploy fails while the two
differ. `--check` exits 1 instead of writing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ALERTS = HERE / "alerts.yml"
TARGET = HERE.parent / "k8s" / "base" / "monitoring" / "prometheusrule.yaml"

HEADER = """\
# GENERATED from deploy/prometheus/alerts.yml by deploy/prometheus/sync_prometheusrule.py:
# edit alerts.yml and run the script. The same rules the compose Prometheus loads.
"""


class _Dumper(yaml.SafeDumper):
    """Block scalars for multi-line strings (PromQL), so the output stays readable."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render() -> str:
    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "piyasa",
            "labels": {"app.kubernetes.io/part-of": "piyasa", "release": "prometheus"},
        },
        "spec": {"groups": groups},
    }
    body = yaml.dump(rule, Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True)
    return HEADER + body


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET} is out of date: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
