"""The fleet view: many nodes' doctor and verify reports, read together (pure: data in, report out).

It names version skew (driver, CUDA, torch builds that differ between nodes) and GPUs slower than the
fleet median for the same model and operation by more than a threshold.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from gpusetup.errors import ExitCode, UsageError
from gpusetup.fleet.inputs import KNOWN, read_reports
from gpusetup.profiles.model import Profiles

REPORT_SCHEMA = "gpusetup.report/1"
__all__ = ["KNOWN", "FleetReport", "Node", "build_fleet", "read_reports"]


@dataclass
class Node:
    name: str
    driver: Optional[str] = None
    cuda: Optional[str] = None
    torch: Optional[str] = None
    gpus: List[str] = field(default_factory=list)
    doctor_errors: List[str] = field(default_factory=list)
    verify_passed: Optional[bool] = None
    failed_runs: List[str] = field(default_factory=list)  # "doctor did not finish (exit 4): ..."
    verify_failures: List[str] = field(default_factory=list)
    results: List[Dict[str, Any]] = field(default_factory=list)
    sources: Dict[str, List[Tuple[str, Dict[str, Any]]]] = field(default_factory=dict)


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
                    "failed_runs": n.failed_runs,
                }
                for n in self.nodes
            ],
            "skew": self.skew,
            "slow": self.slow,
            "problems": self.problems,
        }


def build_fleet(
    reports: Sequence[Tuple[str, Dict[str, Any]]],
    threshold: float = 0.10,
    profiles: Optional[Profiles] = None,
) -> FleetReport:
    """The fleet view; the profiles are loaded once (when a doctor report needs them), not per file."""
    nodes: Dict[str, Node] = {}
    conflicts: List[str] = []
    for path, data in reports:
        if data["schema"] == "gpusetup.doctor/1":
            if profiles is None:
                from gpusetup.profiles.load import load_profiles

                profiles = load_profiles()
            node, summary = _add_doctor(nodes, path, data, profiles)
        else:
            node, summary = _add_verify(nodes, path, data)
        conflicts += _conflict(node, data["schema"].split(".")[1].split("/")[0], path, summary)
    ordered = sorted(nodes.values(), key=lambda n: n.name)
    problems = conflicts + [f"{n.name}: {run}" for n in ordered for run in n.failed_runs]
    problems += [
        f"{n.name}: doctor errors: {', '.join(n.doctor_errors)}" for n in ordered if n.doctor_errors
    ]
    problems += [
        f"{n.name}: verify failed: {'; '.join(n.verify_failures[:3])}"
        for n in ordered
        if n.verify_passed is False
    ]
    problems += _broken_values(ordered)
    return FleetReport(ordered, _skew(ordered), _slow(ordered, threshold), problems, threshold)


def _node_name(path: str, given: Any) -> str:
    return given if isinstance(given, str) and given else Path(path).stem


def _conflict(node: Node, kind: str, path: str, summary: Dict[str, Any]) -> List[str]:
    """A host named by two reports of one kind that disagree: two machines with one name, or
    two runs on one machine; report says so instead of merging them silently."""
    seen = node.sources.setdefault(kind, [])
    earlier = [(p, s) for p, s in seen if s != summary]
    seen.append((path, summary))
    if not earlier:
        return []
    other_path, other = earlier[0]
    fields = sorted(k for k in summary if summary[k] != other.get(k))
    return [
        (
            f"{node.name}: two {kind} reports disagree on {', '.join(fields)} "
            f"({other_path}, {path}): one host name for two machines, or two runs? "
            "give one report per node"
        )
    ]


def _add_doctor(
    nodes: Dict[str, Node], path: str, data: Dict[str, Any], profiles: Profiles
) -> Tuple[Node, Dict[str, Any]]:
    from gpusetup.doctor.context import Context
    from gpusetup.doctor.registry import run_checks
    from gpusetup.facts.model import Facts
    from gpusetup.facts.status import ProbeStatus
    from gpusetup.plumbing.codec import from_jsonable

    failed = _failed_run("doctor", data)
    if failed is not None:
        node = nodes.setdefault(_node_name(path, None), Node(_node_name(path, None)))
        node.failed_runs.append(failed)
        return node, {"failed": failed}
    try:
        facts: Optional[Facts] = from_jsonable(Facts, data.get("facts"), "facts")
    except UsageError:  # facts from another gpusetup version: its own findings are used
        facts = None
    if facts is None:
        raw = _dict(data.get("facts"))
        driver, torch = _dict(raw.get("driver")), _dict(raw.get("torch"))
        hostname = _dict(raw.get("host")).get("hostname")
        version = _text(
            torch.get("version") if torch.get("status") == ProbeStatus.OK else torch.get("status")
        )
        fields = (_text(driver.get("version")), _text(driver.get("cuda_version")), version)
        gpus = [_text(_dict(g).get("name")) or "" for g in _list(raw.get("gpus"))]
        findings = data.get("findings") or []
        errors = [f["id"] for f in findings if f.get("severity") == "error" and f.get("id")]
    else:
        hostname = facts.host.hostname
        torch_version = (
            facts.torch.version if facts.torch.status == ProbeStatus.OK else facts.torch.status
        )
        fields = (facts.driver.version, facts.driver.cuda_version, torch_version)
        gpus = [g.name for g in facts.gpus]
        try:
            found = run_checks(Context(facts, profiles))
        except UsageError as err:
            raise UsageError(f"{path}: {err.message}", err.hint) from None
        errors = [f.id for f in found if f.severity.value == "error"]
    name = _node_name(path, hostname)
    node = nodes.setdefault(name, Node(name))
    node.driver, node.cuda, node.torch = fields
    node.gpus, node.doctor_errors = gpus, errors
    summary = {"driver": node.driver, "CUDA": node.cuda, "torch": node.torch, "GPUs": gpus}
    return node, {**summary, "doctor errors": sorted(errors)}


def _add_verify(
    nodes: Dict[str, Node], path: str, data: Dict[str, Any]
) -> Tuple[Node, Dict[str, Any]]:
    name = _node_name(path, data.get("host"))
    node = nodes.setdefault(name, Node(name))
    failed = _failed_run("verify", data)
    if failed is not None:
        node.failed_runs.append(failed)
        return node, {"failed": failed}
    node.verify_passed = bool(data.get("passed"))
    node.results = list(data.get("results") or [])
    node.verify_failures = [
        f"gpu{r.get('gpu')} {r.get('benchmark')} {r.get('dtype')}: {r.get('reason')}"
        for r in node.results
        if not r.get("ok")
    ]
    devices = list(data.get("devices") or [])
    gpus = sorted({str(d.get("name")) for d in devices if (d.get("gpu") or 0) >= 0})
    if not node.gpus:
        node.gpus = gpus
    if node.torch is None:
        node.torch = next((d.get("torch") for d in devices), None)
    summary = {"GPUs": gpus, "torch": next((d.get("torch") for d in devices), None)}
    return node, {**summary, "verify result": node.verify_passed}


def _failed_run(kind: str, data: Dict[str, Any]) -> Optional[str]:
    """A --json run that ended in an error (its envelope holds "error", not a report): never "ok"."""
    error = data.get("error")
    if not isinstance(error, dict):
        return None
    message = error.get("message")
    text = message[:200] if isinstance(message, str) and message else "no message"
    return f"{kind} did not finish (exit {data.get('exit_code', '?')}): {text}"


def _broken_values(nodes: Sequence[Node]) -> List[str]:
    """Measurements that ran but say NaN, infinity, zero or less: a broken run, never a speed."""
    lines = []
    for node in nodes:
        for r in node.results:
            value = r.get("value")
            if r.get("skipped") or not isinstance(value, (int, float)):
                continue
            if not math.isfinite(value) or value <= 0:
                lines.append(
                    f"{node.name} gpu{r.get('gpu')} {r.get('benchmark')} {r.get('dtype')}: "
                    f"{value:g} {r.get('unit') or ''}".rstrip()
                    + ": a benchmark that ran cannot measure that: the run is broken"
                )
    return lines


def _dict(value: Any) -> Dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> List[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None


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
            value = r.get("value")
            usable = isinstance(value, (int, float)) and math.isfinite(value) and value > 0
            if usable and (r.get("gpu") or 0) >= 0 and not r.get("skipped"):
                size = r.get("size")
                backend = size.get("backend") if isinstance(size, dict) else None  # attention
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
