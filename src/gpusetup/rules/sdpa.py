"""torch's rules for which scaled_dot_product_attention kernel a GPU can run, restated per release.

Read from pytorch/pytorch `aten/src/ATen/native/transformers/cuda/sdp_utils.cpp` (`sdp_utils.h` before
it held the checks): `check_flash_attention_hardware_support` (`check_gpu_sm75_or_greater` in 2.0/2.1),
`check_mem_efficient_hardware_support` (`check_gpu_sm50_or_greater` in 2.0),
`check_cudnn_hardware_support`, `check_head_dim_size_flash`, `check_dtypes_low_precision` and the dtype
lists of `can_use_mem_efficient_attention`. `check_sm_version<lower, upper>` is inclusive at both ends
and compares (major, minor). The eras and the stored versions each was read from are in ERAS; where a
boundary between releases comes from a pull request's date and RELEASE.md's branch-cut table rather
than from the file at the tag, its `source` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

from packaging.version import Version

from gpusetup.plumbing.codec import TextEnum
from gpusetup.versions import ComputeCapability, public_version


class SdpaBackend(TextEnum):
    """The four kernels behind torch.nn.functional.scaled_dot_product_attention (verify's row names)."""

    FLASH = "flash"
    MEM_EFFICIENT = "mem-efficient"
    CUDNN = "cudnn"
    MATH = "math"


class SdpaDtype(TextEnum):
    """The input dtypes verify's attention workload and fine-tuning recipes use."""

    FP16 = "fp16"
    BF16 = "bf16"
    FP32 = "fp32"


@dataclass(frozen=True)
class CapRange:
    """check_sm_version<low, high>: inclusive at both ends; high None is no upper bound."""

    low: Tuple[int, int]
    high: Optional[Tuple[int, int]]

    def holds(self, cap: ComputeCapability) -> bool:
        here = (cap.major, cap.minor)
        return self.low <= here and (self.high is None or here <= self.high)

    def text(self) -> str:
        low = f"sm_{self.low[0]}{self.low[1]}"
        return f"{low}+" if self.high is None else f"{low}..sm_{self.high[0]}{self.high[1]}"


@dataclass(frozen=True)
class SdpaEra:
    """The hardware, dtype and head-dim rules of one run of torch releases (from `since` on)."""

    since: str
    flash: Tuple[CapRange, ...]
    flash_head_dim_max: int
    flash_head_dim_multiple: int
    mem_efficient: CapRange
    mem_efficient_bf16_from: Tuple[int, int]  # below it: fp16 and fp32 only
    cudnn: Optional[CapRange]  # None: no cuDNN backend read for this era
    source: str


_SM75_AND_8X = (CapRange((7, 5), (7, 5)), CapRange((8, 0), (8, 9)))
ERAS: Tuple[SdpaEra, ...] = (
    SdpaEra(
        "2.0.0",
        _SM75_AND_8X,  # "Flash attention only supports sm75 and sm8x gpu architectures"
        128,
        8,
        CapRange((5, 0), None),  # check_gpu_sm50_or_greater: major >= 5, no upper bound
        (0, 0),  # {kHalf, kFloat, kBFloat16} on every GPU
        None,
        "a stored early-2023 cuda/sdp_utils.h (check_gpu_sm75_or_greater: is_sm75 || is_sm8x; "
        "check_head_dim_size: % 8 and <= 128; check_gpu_sm50_or_greater; mem-efficient dtypes "
        "{kHalf, kFloat, kBFloat16}), not read at v2.0.0; sm90 came with pytorch/pytorch#97051 "
        "(merge requested 2023-03-19), after 2.0.0 (2023-03-15)",
    ),
    SdpaEra(
        "2.1.0",
        (CapRange((7, 5), (9, 0)),),
        128,
        8,
        CapRange((5, 0), (9, 0)),
        (6, 0),  # sm5x: {kHalf, kFloat}; otherwise bf16 too
        None,
        "a stored 2023 cuda/sdp_utils.cpp (FlashAttention 1: check_sm_version<sm75, sm90>, head_dim "
        "% 8 and <= 128; mem-efficient [sm50, sm90], {kHalf, kFloat} on major 5), not read at v2.1.0",
    ),
    SdpaEra(
        "2.2.0",
        (CapRange((8, 0), (9, 0)),),
        256,
        1,
        CapRange((5, 0), (9, 0)),
        (8, 0),
        CapRange((8, 0), (9, 0)),
        "cuda/sdp_utils.cpp at pytorch/pytorch 21c3369e (FlashAttention 2: [sm80, sm90], head_dim <= 256; "
        "mem-efficient [sm50, sm90], bf16 from sm80; cuDNN [sm80, sm90]); FlashAttention 2 arrived in "
        "2.2 (PyTorch 2.2 release blog). The bf16-from-sm80 and cuDNN rules were read at that 2024 commit, "
        "not at v2.2.0",
    ),
    SdpaEra(
        "2.7.0",
        (CapRange((8, 0), (12, 0)),),
        256,
        1,
        CapRange((5, 0), (12, 0)),
        (8, 0),
        CapRange((8, 0), (9, 0)),
        "pytorch/pytorch#145602 'Add Blackwell support to SDPA' (sm_100 and sm_120 for flash and "
        "mem-efficient; merge requested 2025-01-24): after the 2.6 branch cut (Dec 2024), before 2.7's "
        "(Mar 2025, RELEASE.md). Not read at v2.7.0; cuDNN's bound for 2.7 was not read (kept at "
        "[sm80, sm90])",
    ),
    SdpaEra(
        "2.8.0",
        (CapRange((8, 0), (12, 1)),),
        256,
        1,
        CapRange((5, 0), (12, 1)),
        (8, 0),
        CapRange((8, 0), (12, 1)),
        "cuda/sdp_utils.cpp at pytorch/pytorch 001f694a (main, 2026): flash, cuDNN [sm80, sm121], "
        "mem-efficient [sm50, sm121]; sm_121 came with pytorch/pytorch#152314 (opened 2025-04-28), after "
        "the 2.7 branch cut (Mar 2025), before 2.8's (Jun 2025)",
    ),
)


def era_for(torch_version: Optional[str]) -> SdpaEra:
    """The rules of this torch release (unknown or unparsable: the newest). A pre-release or nightly
    (2.8.0.dev..., an NGC 2.1.0a0+...) is built from main after the previous branch cut, so it takes
    its own release's rules: the release, not the full version, is compared.
    """
    version = public_version(torch_version)
    if version is None:
        return ERAS[-1]
    release = Version(version.base_version)
    found = ERAS[0]
    for era in ERAS:
        if release >= Version(era.since):
            found = era
    return found


def flash_range_text(era: SdpaEra) -> str:
    """'sm_80..sm_121', or 'sm_75 and sm_80..sm_89' for 2.0: what a finding quotes."""
    return " and ".join(r.text() for r in era.flash)


def why_not(
    backend: SdpaBackend,
    era: SdpaEra,
    cap: ComputeCapability,
    dtype: SdpaDtype,
    head_dim: int = 64,
) -> str:
    """Why torch will not run this backend for these inputs on this GPU ('' when it will).

    The build's own flags (USE_FLASH_ATTENTION, cuDNN >= 9) and per-call shape checks beyond the head
    dim are the caller's to add.
    """
    here = f"sm_{cap.code}"
    if backend is SdpaBackend.MATH:
        return ""
    if backend is SdpaBackend.FLASH:
        if not any(r.holds(cap) for r in era.flash):
            return f"flash needs {flash_range_text(era)}, this is {here}"
        if dtype is SdpaDtype.FP32 or (dtype is SdpaDtype.BF16 and cap.major < 8):
            return f"flash takes fp16{' or bf16' if cap.major >= 8 else ''} on {here}, not {dtype.value}"
        if head_dim > era.flash_head_dim_max or head_dim % era.flash_head_dim_multiple:
            return f"flash needs head_dim <= {era.flash_head_dim_max} here, got {head_dim}"
        return ""
    span = era.mem_efficient if backend is SdpaBackend.MEM_EFFICIENT else era.cudnn
    if span is None:
        return f"no cuDNN attention rule read for torch {era.since}'s line"
    if not span.holds(cap):
        return f"{backend.value} needs {span.text()}, this is {here}"
    if backend is SdpaBackend.CUDNN:
        return "cudnn takes fp16 or bf16, not fp32" if dtype is SdpaDtype.FP32 else ""
    if dtype is SdpaDtype.BF16 and (cap.major, cap.minor) < era.mem_efficient_bf16_from:
        return f"mem-efficient takes fp16 or fp32 on {here}, not bf16"
    alignment = _gemm_alignment(cap, dtype)
    if head_dim % alignment:
        return f"mem-efficient needs head_dim divisible by {alignment} on {here}, got {head_dim}"
    return ""


def _gemm_alignment(cap: ComputeCapability, dtype: SdpaDtype) -> int:
    """minimum_gemm_alignment: 8 for half types on tensor cores (sm_70+), 4 for fp32 from sm_80."""
    half = dtype is not SdpaDtype.FP32
    if cap.major >= 8:
        return 8 if half else 4
    return 8 if cap.major >= 7 and half else 1


def usable_backends(
    era: SdpaEra,
    cap: ComputeCapability,
    dtype: SdpaDtype,
    flash_built: Optional[bool],
    head_dim: int = 64,
) -> List[SdpaBackend]:
    """Flash, memory-efficient and math as torch allows them here, in torch's default priority order
    (doctor's advice, and the backends verify fails when torch refuses them: verify/attention.py).

    cuDNN is left out: whether it runs depends on the build's cuDNN (>= 9.0), which the facts do not
    record, so it is never promised. flash_built None (a torch that cannot say) is taken as built.
    """
    usable = []
    if flash_built is not False and not why_not(SdpaBackend.FLASH, era, cap, dtype, head_dim):
        usable.append(SdpaBackend.FLASH)
    if not why_not(SdpaBackend.MEM_EFFICIENT, era, cap, dtype, head_dim):
        usable.append(SdpaBackend.MEM_EFFICIENT)
    usable.append(SdpaBackend.MATH)
    return usable
