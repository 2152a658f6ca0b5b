"""The list of checks, the ids each may report, and run_checks()."""

from __future__ import annotations

from typing import AbstractSet, Callable, Dict, Iterable, List, Sequence

from gpusetup.doctor.context import Context
from gpusetup.doctor.finding import Finding
from gpusetup.errors import UsageError

CheckFn = Callable[[Context], Iterable[Finding]]
# A check that reads which ids the others fired (what a paste left unchecked): it runs after them all.
LastCheckFn = Callable[[Context, AbstractSet[str]], Iterable[Finding]]

_CHECKS: List[CheckFn] = []
_LAST: List[LastCheckFn] = []
KNOWN_IDS: Dict[str, str] = {}  # id -> what it means, for --ignore validation and the docs


def check(**ids: str) -> Callable[[CheckFn], CheckFn]:
    """Register a check and the finding ids it may report (keyword: underscores for dashes)."""

    def register(fn: CheckFn) -> CheckFn:
        _know(ids)
        _CHECKS.append(fn)
        return fn

    return register


def check_last(**ids: str) -> Callable[[LastCheckFn], LastCheckFn]:
    """Register a check that runs after every other and is given the ids they fired."""

    def register(fn: LastCheckFn) -> LastCheckFn:
        _know(ids)
        _LAST.append(fn)
        return fn

    return register


def _know(ids: Dict[str, str]) -> None:
    """Keyword ids use underscores where the finding ids have dashes."""
    for key, meaning in ids.items():
        KNOWN_IDS[key.replace("_", "-")] = meaning


def validate_ignores(ignore: Sequence[str]) -> None:
    _load_all()
    unknown = [i for i in ignore if i not in KNOWN_IDS]
    if unknown:
        raise UsageError(
            f"--ignore {unknown[0]}: no such check id",
            "gpusetup doctor --list-checks shows the ids",
        )


def run_checks(ctx: Context, ignore: Sequence[str] = ()) -> List[Finding]:
    """Every finding, errors first; a check that reports an unregistered id is a bug."""
    _load_all()
    fired: List[Finding] = [finding for fn in _CHECKS for finding in fn(ctx)]
    ids = frozenset(f.id for f in fired)  # ignored ones too: they ran, so they are not unchecked
    fired += [finding for last in _LAST for finding in last(ctx, ids)]
    for finding in fired:
        assert finding.id in KNOWN_IDS, f"a check reported unregistered id {finding.id}"
    findings = [f for f in fired if f.id not in ignore]
    return sorted(findings, key=lambda f: (f.severity.rank, f.id))


def all_ids() -> Dict[str, str]:
    _load_all()
    return dict(sorted(KNOWN_IDS.items()))


def _load_all() -> None:
    """Import the check modules so their @check decorators run."""
    from gpusetup.doctor.checks import (  # noqa: F401
        build_defects,
        build_support,
        container_caps,
        cuda_devices,
        driver,
        fabric_manager,
        gpu_count,
        health,
        libraries,
        pairing,
        pytorch2,
        toolkit,
        torch_install,
        unstated,
    )
