"""The fleet view: many nodes' doctor and verify reports, read together (pure: data in, report out).

It names version skew (driver, CUDA, torch builds that differ between nodes) and GPUs slower than the
fleet median for the same model and operation by more than a threshold.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from gpusetup.errors import ExitCode, UsageError
from gpusetup.facts.serial import read_json_file

REPORT_SCHEMA = "gpusetup.report/1"
KNOWN = ("gpusetup.doctor/1", "gpusetup.verify/1")


@dataclass
class Node:
    name: str
    driver: Optional[str] = None
    cuda: Optional[str] = None
    torch: Optional[str] = None
    gpus: List[str] = field(default_factory=list)
    doctor_errors: List[str] = field(default_factory=list)
    verify_passed: Optional[bool] = None
    verify_failures: List[str] = field(default_factory=list)
    results: List[Dict[str, Any]] = field(default_factory=list)


@dataclass
class FleetReport:
    nodes: List[Node]
    skew: List[str]
    slow: List[str]
    problems: List[str]
    threshold: float

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.PROBLEMS if (self.skew or self.slow or self.problems) else ExitCode.OK

    def to_dict(self) -> Dict[str, Any]:
        return {
            "schema": REPORT_SCHEMA,
            "threshold": self.threshold,
            "exit_code": int(self.exit_code),
            "nodes": [
                {
                    "name": n.name,
                    "driver": n.driver,
                    "cuda": n.cuda,
                    "torch": n.torch,
                    "gpus": n.gpus,
                    "doctor_errors": n.doctor_errors,
                    "verify_passed": n.verify_passed,
                }
                for n in self.nodes
            ],
            "skew": self.skew,
            "slow": self.slow,
            "problems": self.problems,
        }


def read_reports(paths: Sequence[str]) -> List[Tuple[str, Dict[str, Any]]]:
    """Each file's JSON, checked to be a doctor or verify report this version understands."""
    if not paths:
        raise UsageError(
            "no report files given",
            "gpusetup report node1.json node2.json ... (doctor --json or verify --json)",
        )
    reports = []
    for path in paths:
        data = read_json_file(path)
        schema = data.get("schema") if isinstance(data, dict) else None
        if schema not in KNOWN:
            raise UsageError(
                f"{path}: schema {schema!r} is not one gpusetup report reads",
                "give the output of gpusetup doctor --json or verify --json ("
                + ", ".join(KNOWN)
                + ")",
            )
        reports.append((path, data))
    return reports


def build_fleet(
    reports: Sequence[Tuple[str, Dict[str, Any]]], threshold: float = 0.10
) -> FleetReport:
    nodes: Dict[str, Node] = {}
    for path, data in reports:
        if data["schema"] == "gpusetup.doctor/1":
            _add_doctor(nodes, path, data)
        else:
            _add_verify(nodes, path, data)
    ordered = sorted(nodes.values(), key=lambda n: n.name)
    problems = [
        f"{n.name}: doctor errors: {', '.join(n.doctor_errors)}" for n in ordered if n.doctor_errors
    ]
    problems += [
        f"{n.name}: verify failed: {'; '.join(n.verify_failures[:3])}"
        for n in ordered
        if n.verify_passed is False
    ]
    return FleetReport(ordered, _skew(ordered), _slow(ordered, threshold), problems, threshold)


def _node_name(path: str, given: str) -> str:
    return given or Path(path).stem


def _add_doctor(nodes: Dict[str, Node], path: str, data: Dict[str, Any]) -> None:
    facts = data.get("facts") or {}
    host = facts.get("host") or {}
    node = nodes.setdefault(
        _node_name(path, str(host.get("hostname") or "")),
        Node(_node_name(path, str(host.get("hostname") or ""))),
    )
    driver = facts.get("driver") or {}
    torch = facts.get("torch") or {}
    node.driver, node.cuda = driver.get("version"), driver.get("cuda_version")
    node.torch = torch.get("version") if torch.get("status") == "ok" else torch.get("status")
    node.gpus = [str(g.get("name", "")) for g in facts.get("gpus") or []]
    node.doctor_errors = _doctor_errors(data)


def _doctor_errors(data: Dict[str, Any]) -> List[str]:
    """Error ids from re-running today's checks on the recorded facts (as doctor --facts does);
    the file's own findings when its facts cannot be read by this version."""
    from gpusetup.checks.context import Context
    from gpusetup.checks.registry import run_checks
    from gpusetup.facts.model import Facts
    from gpusetup.facts.serial import from_jsonable
    from gpusetup.profiles.load import load_profiles

    try:
        facts = from_jsonable(Facts, data.get("facts"), "facts")
    except UsageError:
        return [f["id"] for f in data.get("findings") or [] if f.get("severity") == "error"]
    return [
        f.id for f in run_checks(Context(facts, load_profiles())) if f.severity.value == "error"
    ]


def _add_verify(nodes: Dict[str, Node], path: str, data: Dict[str, Any]) -> None:
    name = _node_name(path, str(data.get("host") or ""))
    node = nodes.setdefault(name, Node(name))
    node.verify_passed = bool(data.get("passed"))
    node.results = [r for r in data.get("results") or [] if isinstance(r, dict)]
    node.verify_failures = [
        f"gpu{r.get('gpu')} {r.get('benchmark')} {r.get('dtype')}: {r.get('reason')}"
        for r in node.results
        if not r.get("ok")
    ]
    if not node.gpus:
        node.gpus = sorted(
            {str(d.get("name")) for d in data.get("devices") or [] if d.get("gpu", -1) >= 0}
        )
    if node.torch is None:
        node.torch = next((d.get("torch") for d in data.get("devices") or []), None)


def _skew(nodes: Sequence[Node]) -> List[str]:
    lines = []
    for label, attribute in (("driver", "driver"), ("driver CUDA", "cuda"), ("torch", "torch")):
        values: Dict[str, List[str]] = {}
        for node in nodes:
            value = getattr(node, attribute)
            if value:
                values.setdefault(str(value), []).append(node.name)
        if len(values) > 1:
            parts = sorted(values.items(), key=lambda kv: -len(kv[1]))
            lines.append(
                f"{label}: "
                + "; ".join(
                    f"{v} on {len(ns)} node(s) ({', '.join(ns[:4])}{', ...' if len(ns) > 4 else ''})"
                    for v, ns in parts
                )
            )
    return lines


def _slow(nodes: Sequence[Node], threshold: float) -> List[str]:
    groups: Dict[Tuple[str, str, str], List[Tuple[str, Any, float]]] = {}
    for node in nodes:
        for r in node.results:
            if isinstance(r.get("value"), (int, float)) and r.get("gpu", -1) >= 0:
                backend = (r.get("size") or {}).get("backend")  # attention: per SDPA backend
                label = f"{r.get('benchmark')} {backend}" if backend else str(r.get("benchmark"))
                key = (str(r.get("name")), label, str(r.get("dtype")))
                groups.setdefault(key, []).append((node.name, r.get("gpu"), float(r["value"])))
    lines = []
    for (model, benchmark, dtype), values in sorted(groups.items()):
        if len(values) < 2:
            continue
        median = statistics.median(v for _, _, v in values)
        for host, gpu, value in values:
            if value < median * (1 - threshold):
                lines.append(
                    f"{host} gpu{gpu} ({model}) {benchmark} {dtype}: {value:g}, "
                    f"{1 - value / median:.0%} below the fleet median {median:g}"
                )
    return lines
