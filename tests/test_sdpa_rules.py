"""torch's SDPA backend rules (rules/sdpa.py): the cases read from sdp_utils.cpp/.h. verify judges its
attention rows with the same table (tests/test_verify_attention.py); there is no other copy."""

from __future__ import annotations

from typing import List, Tuple

import pytest

from gpusetup.rules.sdpa import (
    ERAS,
    SdpaBackend,
    SdpaDtype,
    era_for,
    flash_range_text,
    usable_backends,
    why_not,
)
from gpusetup.versions import ComputeCapability

# Every compute capability NVIDIA has shipped a CUDA GPU with, Jetson and Blackwell parts included.
CAPABILITIES = [
    "3.7", "5.0", "5.2", "5.3", "6.0", "6.1", "6.2", "7.0", "7.2", "7.5", "8.0", "8.6", "8.7",
    "8.9", "9.0", "10.0", "10.1", "10.3", "11.0", "12.0", "12.1",
]  # fmt: skip
FLASH, MEM, CUDNN, MATH = (
    SdpaBackend.FLASH,
    SdpaBackend.MEM_EFFICIENT,
    SdpaBackend.CUDNN,
    SdpaBackend.MATH,
)
FP16, BF16, FP32 = SdpaDtype.FP16, SdpaDtype.BF16, SdpaDtype.FP32

# (torch, capability, dtype, backend, head_dim, runs): each from the check named beside it.
READ_FROM_SOURCE: List[Tuple[str, str, SdpaDtype, SdpaBackend, int, bool]] = [
    ("2.0.1", "7.5", FP16, FLASH, 64, True),  # check_gpu_sm75_or_greater: is_sm75 || is_sm8x
    ("2.0.1", "8.9", BF16, FLASH, 64, True),
    ("2.0.1", "9.0", BF16, FLASH, 64, False),  # sm90 only from #97051 (2.1)
    ("2.0.1", "7.5", BF16, FLASH, 64, False),  # default_flash_dtypes{kHalf} below sm80
    ("2.0.1", "8.0", FP16, FLASH, 256, False),  # check_head_dim_size: <= 128, multiple of 8
    ("2.0.1", "10.0", FP16, MEM, 64, True),  # check_gpu_sm50_or_greater: no upper bound
    ("2.0.1", "3.7", FP16, MEM, 64, False),
    ("2.1.2", "9.0", BF16, FLASH, 128, True),  # check_sm_version<sm75, sm90>
    ("2.1.2", "7.5", FP16, FLASH, 64, True),
    ("2.1.2", "8.6", FP16, FLASH, 68, False),  # head_dim % 8
    ("2.1.2", "10.0", FP16, MEM, 64, False),  # [sm50, sm90]
    ("2.1.2", "7.0", BF16, MEM, 64, True),  # sm50_mem_efficient_dtypes only on major 5
    ("2.1.2", "5.2", BF16, MEM, 64, False),
    ("2.2.0", "7.5", FP16, FLASH, 64, False),  # FlashAttention 2: [sm80, sm90]
    ("2.2.0", "8.0", BF16, FLASH, 256, True),  # check_head_dim_size_flash: <= 256
    ("2.2.0", "8.0", BF16, FLASH, 68, True),  # no multiple-of-8 rule for dense inputs
    ("2.5.1", "7.5", BF16, MEM, 64, False),  # less_than_sm80_mem_efficient_dtypes
    ("2.5.1", "8.6", FP32, MEM, 64, True),
    ("2.5.1", "8.6", FP32, MEM, 66, False),  # minimum_gemm_alignment: 4 for fp32 from sm80
    ("2.5.1", "7.0", FP16, MEM, 60, False),  # 8 for half on tensor cores
    ("2.5.1", "6.1", FP32, MEM, 33, True),  # 1 without tensor cores
    ("2.6.0", "10.0", BF16, FLASH, 64, False),  # [sm80, sm90] until #145602
    ("2.6.0", "12.0", FP16, MEM, 64, False),
    ("2.7.0", "12.0", BF16, FLASH, 64, True),  # #145602: sm_100 and sm_120
    ("2.7.0", "10.0", BF16, MEM, 64, True),
    ("2.7.1", "12.1", BF16, FLASH, 64, False),  # sm_121 only from #152314 (2.8)
    ("2.8.0", "12.1", BF16, FLASH, 64, True),  # check_sm_version<sm80, sm121>
    ("2.15.0", "10.3", BF16, FLASH, 128, True),
    ("2.15.0", "12.1", FP16, MEM, 64, True),  # [sm50, sm121]
    ("2.15.0", "8.0", FP32, FLASH, 64, False),  # check_dtypes_low_precision: fp16/bf16
    ("2.15.0", "8.0", FP32, CUDNN, 64, False),
    ("2.15.0", "12.1", BF16, CUDNN, 64, True),  # check_cudnn_hardware_support [sm80, sm121]
    ("2.15.0", "7.5", FP16, CUDNN, 64, False),
    ("2.15.0", "3.7", FP32, MATH, 64, True),
]


@pytest.mark.parametrize(("torch", "cap", "dtype", "backend", "head_dim", "runs"), READ_FROM_SOURCE)
def test_rules_read_from_sdp_utils(
    torch: str, cap: str, dtype: SdpaDtype, backend: SdpaBackend, head_dim: int, runs: bool
) -> None:
    reason = why_not(backend, era_for(torch), ComputeCapability.parse(cap), dtype, head_dim)
    assert (reason == "") is runs, reason
    if not runs:
        assert backend.value in reason  # the reason names the kernel it refuses


@pytest.mark.parametrize("dtype", [FP16, BF16, FP32])
@pytest.mark.parametrize("cap", CAPABILITIES)
def test_math_always_and_flash_only_when_built(cap: str, dtype: SdpaDtype) -> None:
    for era in ERAS:
        found = usable_backends(era, ComputeCapability.parse(cap), dtype, flash_built=False)
        assert found[-1] is MATH and FLASH not in found
        assert CUDNN not in usable_backends(era, ComputeCapability.parse(cap), dtype, True)


def test_unknown_torch_gets_the_newest_rules_and_eras_are_ordered() -> None:
    assert era_for(None) is ERAS[-1] and era_for("junk") is ERAS[-1]
    assert era_for("1.13.1") is ERAS[0]
    # a pre-release takes its own release's rules (it is built after the previous branch cut)
    assert era_for("2.8.0.dev20250601+cu128") is ERAS[-1] is era_for("2.8.0")
    assert era_for("2.1.0a0+32f93b1") is era_for("2.1.0") is not era_for("2.0.1")
    assert flash_range_text(era_for("2.0.1")) == "sm_75..sm_75 and sm_80..sm_89"
    assert flash_range_text(era_for("2.13.0")) == "sm_80..sm_121"
    assert all(era.source for era in ERAS)
