"""What torch's own cuDNN check said: the error text names the versions and often the cause."""

from __future__ import annotations

import re
from typing import Iterator, List

from gpusetup.doctor.context import Context
from gpusetup.doctor.finding import Finding, Severity
from gpusetup.doctor.registry import check

_INCOMPATIBLE = re.compile(
    r"compiled\s+against\s+(\(?[\d, ]+\)?)\s+but\s+(?:found runtime version|linked against)\s+(\(?[\d, ]+\)?)"
)
_MISSING_DEP = re.compile(r"Could not load library (libcudnn\S*?)\.? Error: (\S+?): cannot open")


def _cudnn_dirs(ctx: Context) -> List[str]:
    return [
        d.path
        for d in ctx.facts.toolkit.ld_library_path
        if any(n.startswith("libcudnn") for n in d.libraries)
    ]


@check(cudnn_load_failed="torch's cuDNN failed to load or is not the version torch was built with")
def cudnn_error(ctx: Context) -> Iterator[Finding]:
    text = ctx.facts.torch.cudnn_error
    if not text:
        return
    evidence = {"cudnn_error": text[:300], "cudnn_dirs_on_path": _cudnn_dirs(ctx) or None}
    mismatch, missing = _INCOMPATIBLE.search(text), _MISSING_DEP.search(text)
    if mismatch:
        dirs = _cudnn_dirs(ctx)
        where = ":".join(dirs) if dirs else "the directory holding it (ldconfig -p | grep libcudnn)"
        title = (
            f"torch was built with cuDNN {mismatch.group(1)} but loads cuDNN {mismatch.group(2)}"
        )
        fix = (
            f"Let torch load its own cuDNN: drop {where} from LD_LIBRARY_PATH for this program "
            "(unset LD_LIBRARY_PATH, or set it without that directory)"
        )
    elif missing:
        title = f"{missing.group(1)} cannot load because {missing.group(2)} is missing"
        fix = (
            f"Make {missing.group(2)} loadable: install the wheel that ships it (libnvrtc: "
            "nvidia-cuda-nvrtc-cu<major>) or the CUDA toolkit's copy; for torch 2.0.0+cu118 move to 2.0.1 "
            "(see known-broken-build)"
        )
    else:
        title = "torch.backends.cudnn fails: " + text.splitlines()[0][:160]
        fix = "Reinstall torch with its bundled cuDNN and keep foreign libcudnn directories off LD_LIBRARY_PATH"
    yield Finding("cudnn-load-failed", Severity.ERROR, title, fix, evidence)
