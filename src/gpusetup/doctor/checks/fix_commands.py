"""What the torch checks' fixes say alike: the reinstall command and the interpreter it acts on."""

from __future__ import annotations

import shlex

from gpusetup.doctor.context import Context

REINSTALL = "gpusetup install --cuda auto"


def quoted_python(ctx: Context) -> str:
    """The target interpreter, shell-quoted: it goes into copy-paste commands."""
    return shlex.quote(ctx.facts.torch.python or "python")
