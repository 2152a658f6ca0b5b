"""What the torch checks' fixes say alike: the reinstall command and the interpreter it acts on."""

from __future__ import annotations

import shlex

from gpusetup.doctor.context import Context

REINSTALL = "gpusetup install --cuda auto"

# The nvidia-* wheel (without its -cuNN suffix) that ships each CUDA library torch loads; its files
# are under site-packages/nvidia/<the name with "_" for "-">/lib.
WHEEL_OF_LIBRARY = {
    "libcudart": "cuda-runtime", "libcublas": "cublas", "libcublasLt": "cublas", "libnvrtc": "cuda-nvrtc", "libcudnn": "cudnn",
    "libcufft": "cufft", "libcurand": "curand", "libcusolver": "cusolver", "libcusparse": "cusparse",
    "libnccl": "nccl", "libnvJitLink": "nvjitlink", "libcupti": "cuda-cupti", "libnvToolsExt": "nvtx",
}  # fmt: skip


def quoted_python(ctx: Context) -> str:
    """The target interpreter, shell-quoted: it goes into copy-paste commands."""
    return shlex.quote(ctx.facts.torch.python or "python")
