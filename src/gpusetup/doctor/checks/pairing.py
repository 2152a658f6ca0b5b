"""Whether torchvision and torchaudio pair with the installed torch, by their own requirements."""

from __future__ import annotations

from typing import Iterator, List, Optional

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion

from gpusetup.doctor.checks.fix_commands import REINSTALL, quoted_python
from gpusetup.doctor.context import Context
from gpusetup.doctor.finding import Finding, Severity
from gpusetup.doctor.registry import check

ERROR = Severity.ERROR


def _local(version: Optional[str]) -> str:
    return version.split("+", 1)[1] if version and "+" in version else ""


def _base(version: Optional[str]) -> str:
    return (version or "").split("+", 1)[0]


def _pairing(ctx: Context, name: str, have: str, declared: Optional[str]) -> Optional[str]:
    """What torch the installed companion needs: its own Requires-Dist, else companion_releases.

    None when nothing is known (a companion the profiles do not list and that declares nothing).
    """
    if declared is not None:
        return declared
    entry = ctx.profiles.companion(name, _base(have))
    return entry.torch if entry is not None else None


def _pair_problem(ctx: Context, name: str, have: Optional[str], declared: Optional[str]) -> str:
    torch = ctx.facts.torch.version or ""
    spec = _pairing(ctx, name, have, declared) if have else None
    if not spec:
        return ""
    try:
        ok = SpecifierSet(spec).contains(torch, prereleases=True)
    except (InvalidSpecifier, InvalidVersion, ValueError):  # ValueError: a part of 4300+ digits
        return ""
    return "" if ok else f"{name} {have} requires torch{spec}, not {torch}"


@check(
    torchvision_mismatch="torchvision does not pair with the installed torch",
    torchaudio_mismatch="torchaudio does not pair with the installed torch",
)
def companions(ctx: Context) -> Iterator[Finding]:
    torch = ctx.facts.torch
    if not ctx.torch_ok or not torch.version:
        return
    problems: List[str] = []
    if torch.torchvision_error:
        problems.append(torch.torchvision_error.splitlines()[0][:160])
    vision = _pair_problem(
        ctx, "torchvision", torch.torchvision_version, torch.torchvision_requires_torch
    )
    if vision:
        problems.append(vision)
    if torch.torchvision_version and _local(torch.torchvision_version) != _local(torch.version):
        problems.append(
            f"build tags differ: torch +{_local(torch.version) or 'none'}, "
            f"torchvision +{_local(torch.torchvision_version) or 'none'}"
        )
    if problems:
        yield Finding(
            "torchvision-mismatch",
            ERROR,
            "torchvision does not match torch: " + problems[0],
            f"Reinstall torch, torchvision and torchaudio together from one index: {REINSTALL} --python {quoted_python(ctx)}",
            {
                "torch": torch.version,
                "torchvision": torch.torchvision_version,
                "problems": problems,
            },
        )
    audio = torch.torchaudio_version
    detail = (
        torch.torchaudio_error.splitlines()[0][:160]
        if torch.torchaudio_error
        else _pair_problem(ctx, "torchaudio", audio, torch.torchaudio_requires_torch)
    )
    if detail:
        yield Finding(
            "torchaudio-mismatch",
            ERROR,
            "torchaudio does not match torch: " + detail,
            f"Reinstall the family together: {REINSTALL} --python {quoted_python(ctx)}",
            {"torch": torch.version, "torchaudio": audio},
        )
