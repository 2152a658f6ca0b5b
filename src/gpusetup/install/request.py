"""install's options, checked before any work, and the resolver Request they make."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from gpusetup.errors import UsageError
from gpusetup.facts.pyenv import PythonEnv
from gpusetup.install.plan import FORMATS
from gpusetup.install.resolve import FAMILY, Request
from gpusetup.plumbing.codec import TextEnum
from gpusetup.plumbing.output_path import check_writable
from gpusetup.profiles.model import Profiles


class InstallerChoice(TextEnum):
    """--installer: a closed choice, so --help and its error list the values."""

    AUTO = "auto"
    PIP = "pip"
    UV = "uv"
    CONDA = "conda"


INSTALLERS = tuple(c.value for c in InstallerChoice)


@dataclass(frozen=True)
class InstallOptions:
    """Everything `gpusetup install` was asked, as given on the command line."""

    torch: Optional[str] = None
    cuda: str = "auto"
    packages: Optional[str] = None
    python: Optional[str] = None
    installer: str = "auto"
    dry_run: bool = False
    print_only: bool = False
    json_out: bool = False
    fmt: Optional[str] = None
    explain: bool = False
    driver: Optional[str] = None
    arch: Tuple[str, ...] = ()
    python_version: Optional[str] = None
    platform: Optional[str] = None
    constraints: Optional[str] = None
    profile: Optional[str] = None
    profiles_dir: Tuple[str, ...] = ()

    @property
    def prints_text(self) -> bool:
        """--print or any --format (command included): the command or file is printed, never run."""
        return self.print_only or self.fmt is not None


def check_options(o: InstallOptions) -> None:
    """Every usage error before any work: nothing is probed, resolved or installed on bad options."""
    if o.installer not in INSTALLERS:
        raise UsageError(
            f"--installer {o.installer}: unknown installer", "one of " + ", ".join(INSTALLERS)
        )
    if o.fmt is not None and o.fmt not in FORMATS:
        raise UsageError(f"--format {o.fmt}: unknown format", "one of " + ", ".join(FORMATS))
    if o.torch is not None and not o.torch.strip():
        raise UsageError("--torch: empty version", "examples: 2.4.1, 2.1, '>=2.3'; or leave it out")
    printing = "--print" if o.print_only else ("--format" if o.fmt is not None else "")
    if o.json_out and printing:
        raise UsageError(
            f"--json cannot be combined with {printing}: {printing} prints the command or file itself",
            f"drop {printing} (the JSON plan holds the command), or drop --json",
        )
    if o.constraints is not None:
        check_writable(o.constraints, "--constraints")
        if o.dry_run or printing:
            raise UsageError(
                f"--constraints cannot be combined with {'--dry-run' if o.dry_run else printing}: "
                "it is written only from a verified install",
                "drop --dry-run to install and write it (nothing is written by a dry run)",
            )


def check_stack_python(o: InstallOptions, profiles: Profiles, env: PythonEnv) -> None:
    """A stack that pins a Python must be installed into that Python (or planned for it)."""
    pinned = profiles.stacks[o.profile].python if o.profile else ""
    if pinned and not o.python_version and env.version != pinned:
        raise UsageError(
            f"--profile {o.profile} pins Python {pinned}, the target is {env.version}",
            "pass --python with a matching interpreter",
        )


def build_request(o: InstallOptions, profiles: Profiles) -> Request:
    """The resolver's request: the options, filled in from --profile's stack where not given."""
    names = (
        tuple(p.strip() for p in o.packages.split(",") if p.strip())
        if o.packages is not None
        else None
    )
    for name in names or ():
        if name not in FAMILY:
            raise UsageError(
                f"--packages: unknown package {name!r}",
                "choose from torch, torchvision, torchaudio",
            )
    if o.profile is None:
        return Request(o.torch, o.cuda, names, o.installer)
    if o.profile not in profiles.stacks:
        known = (
            ", ".join(sorted(profiles.stacks)) or "none (add a profile directory with --profiles)"
        )
        raise UsageError(f"--profile {o.profile}: no such stack", f"stacks: {known}")
    stack = profiles.stacks[o.profile]
    return Request(
        o.torch or stack.torch,
        o.cuda if o.cuda != "auto" else str(stack.cuda),
        names or (tuple(stack.packages) or None),
        o.installer,
        stack.index_url or None,
    )
