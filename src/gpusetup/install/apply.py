"""The only module that changes the machine: it runs the installer the plan names."""

from __future__ import annotations

import os
import tempfile
from typing import Mapping, Optional, Sequence

from gpusetup.errors import CommandFailed
from gpusetup.facts.installer_config import NetSettings
from gpusetup.install.installers import Conda, Installer
from gpusetup.plumbing import process


def run_installer(
    strategy: Installer,
    argv: Sequence[str],
    settings: NetSettings,
    to_stderr: bool = False,
    environ: Optional[Mapping[str, str]] = None,
) -> None:
    """Run argv (a list, never a shell line) in the strategy's allow-listed environment.

    It runs in an empty directory that is removed afterwards (nothing in the user's cwd is imported by
    `python -m pip`, and conda's CONDARC file lives there).
    """
    with tempfile.TemporaryDirectory(prefix="gpusetup-install-") as scratch:
        env = strategy.env(os.environ if environ is None else environ, settings, scratch)
        if isinstance(strategy, Conda):
            with open(env["CONDARC"], "w", encoding="utf-8") as handle:
                handle.write(Conda.condarc_text(settings))
        try:
            code = process.run_streaming(argv, env=env, to_stderr=to_stderr, cwd=scratch)
        except FileNotFoundError as err:
            raise CommandFailed(str(err), "is the installer on PATH?") from None
    if code != 0:
        raise CommandFailed(
            f"{argv[0]} {' '.join(argv[1:4])} ... exited with code {code}", "see its output above"
        )
