"""PyTorch's own compatibility rules, restated so gpusetup never disagrees with torch.

Each rule follows the named function in pytorch/pytorch (torch/cuda/__init__.py and
torch/utils/cpp_extension.py); the behaviour, not the code, is carried over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence, Union

from packaging.version import Version

from gpusetup.errors import UsageError
from gpusetup.versions import ComputeCapability, CudaVersion, public_version

# Jetson/iGPU parts are their own islands: code for 8.0 does not run on 8.7 (torch DEVICE_REQUIREMENT).
_ISOLATED = {53, 62, 72, 87}
# sm_101 was renamed sm_110; torch treats the two as one set.
_SAME_AS = {101: {101, 110}}


@dataclass(frozen=True)
class DeviceRules:
    """Which version of torch's DEVICE_REQUIREMENT table applies to a build.

    torch >= 2.14.0 maps code 110 to devices {10.1, 11.0} (before: 11.x); its builds for
    CUDA >= 13.2 use DEVICE_REQUIREMENT_POST_JETSON_SBSA_UNIFICATION, where sm_70/80/86 code also runs
    on the Jetson parts 7.2 and 8.7 (torch/cuda/__init__.py of the 2.14.0, 2.14.1, 2.15.0 wheels).
    """

    sm110_is_101: bool = False
    jetson_unified: bool = False


OLD_RULES = DeviceRules()
_JETSON_UNIFIED_CODES = {70, 80, 86}


def rules_for(torch_version: Optional[str], cuda: Optional[CudaVersion]) -> DeviceRules:
    """The rule set of this torch release's build for this CUDA (None: unknown, the older rule)."""
    release = public_version(torch_version)
    newer = release is not None and release >= Version("2.14.0")
    unified = newer and cuda is not None and (cuda.major, cuda.minor) >= (13, 2)
    return DeviceRules(sm110_is_101=newer, jetson_unified=unified)


def code_runs_on_device(code_cc: int, device_cc: int, rules: DeviceRules = OLD_RULES) -> bool:
    """Whether kernels built for code_cc run on a device of device_cc (torch._code_compatible_with_device).

    Code for X.Y runs on devices X.Z with Z >= Y, except on the isolated iGPU parts, which run only
    their own code.
    """
    if code_cc in _SAME_AS or (rules.sm110_is_101 and code_cc == 110):
        return device_cc in _SAME_AS[101]
    if code_cc in _ISOLATED:
        return device_cc == code_cc
    unified = rules.jetson_unified and code_cc in _JETSON_UNIFIED_CODES
    if device_cc in _ISOLATED and device_cc != code_cc and not unified:
        return False
    if code_cc == 100 and device_cc == 101:
        return False
    return device_cc // 10 == code_cc // 10 and device_cc % 10 >= code_cc % 10


def arch_codes(arch_list: Iterable[str]) -> List[int]:
    """torch.cuda.get_arch_list() entries (sm_86, compute_90, sm_90a) as torch's integer codes."""
    codes = []
    for arch in arch_list:
        try:
            codes.append(ComputeCapability.parse(arch).code)
        except UsageError:
            continue
    return codes


def build_supports_device(
    arch_list: Sequence[str], capability: ComputeCapability, rules: DeviceRules = OLD_RULES
) -> bool:
    """Whether a torch build with this arch list has kernels for the device (torch._check_capability)."""
    return any(code_runs_on_device(code, capability.code, rules) for code in arch_codes(arch_list))


# ---- CUDA_VISIBLE_DEVICES (torch.cuda._parse_visible_devices) -----------------------------------


def _strtoul(text: str) -> int:
    """The leading integer of text like C's strtoul: '1gpu' -> 1; '' or 'x' -> -1."""
    end = 0
    for pos, char in enumerate(text):
        if char in "0123456789" or (pos == 0 and char in "+-"):
            end = pos + 1
        else:
            break
    digits = text[:end]
    if not digits or digits in "+-":
        return -1
    if len(digits) > 20:  # C saturates at ULONG_MAX; int() of 4300+ digits would raise
        return 2**64 - 1
    return int(digits)


def parse_visible_devices(value: Optional[str]) -> Union[List[int], List[str], None]:
    """Parse CUDA_VISIBLE_DEVICES the way torch and the CUDA runtime do.

    None means unset (every device visible). A repeated entry gives an empty list; a negative
    ordinal ends the list; GPU-/MIG- UUID prefixes give a list of strings.
    """
    if value is None:
        return None
    for prefix in ("GPU-", "MIG-"):
        if value.startswith(prefix):
            uuids: List[str] = []
            for elem in value.split(","):
                if elem in uuids:
                    return []
                if not elem.startswith(prefix):
                    break
                uuids.append(elem)
            return uuids
    ordinals: List[int] = []
    for elem in value.split(","):
        number = _strtoul(elem.strip())
        if number in ordinals:
            return []
        if number < 0:
            break
        ordinals.append(number)
    return ordinals


@dataclass(frozen=True)
class Visibility:
    """Which NVML devices (by index) CUDA will see, and why some are hidden."""

    visible: List[int]
    problem: str  # empty when the value is well formed


def visible_nvml_indices(value: Optional[str], uuids: Sequence[str]) -> Visibility:
    """Map CUDA_VISIBLE_DEVICES onto NVML devices (torch._device_count_nvml + UUID matching)."""
    parsed = parse_visible_devices(value)
    count = len(uuids)
    if parsed is None:
        return Visibility(list(range(count)), "")
    if not parsed:
        if value is not None and value.strip() == "":
            return Visibility([], "CUDA_VISIBLE_DEVICES is set to an empty string")
        return Visibility([], f"CUDA_VISIBLE_DEVICES={value!r} hides every device")
    if isinstance(parsed[0], str):
        return _visible_by_uuid([str(p) for p in parsed], uuids, value or "")
    visible: List[int] = []
    for ordinal in parsed:
        assert isinstance(ordinal, int)
        if ordinal >= count:
            return Visibility(
                visible, f"ordinal {ordinal} in CUDA_VISIBLE_DEVICES but only {count} GPU(s) exist"
            )
        visible.append(ordinal)
    return Visibility(visible, "")


def _visible_by_uuid(prefixes: List[str], uuids: Sequence[str], value: str) -> Visibility:
    if prefixes[0].startswith("MIG-"):
        # MIG instances are not NVML devices; torch gives up counting them the same way.
        return Visibility(list(range(len(uuids))), "")
    visible: List[int] = []
    for prefix in prefixes:
        matches = [i for i, uuid in enumerate(uuids) if uuid.startswith(prefix)]
        if len(matches) != 1:
            reason = "matches no GPU" if not matches else "matches several GPUs"
            return Visibility(visible, f"{prefix} in CUDA_VISIBLE_DEVICES {reason}")
        if matches[0] in visible:
            return Visibility([], f"CUDA_VISIBLE_DEVICES={value!r} names a GPU twice")
        visible.append(matches[0])
    return Visibility(visible, "")


# ---- toolkit vs build (torch.utils.cpp_extension._check_cuda_version) ---------------------------


def toolkit_mismatch(toolkit: CudaVersion, build: CudaVersion) -> str:
    """'major' when extension builds fail, 'minor' when torch only warns, '' when they agree."""
    if toolkit.major != build.major:
        return "major"
    if toolkit.minor != build.minor:
        return "minor"
    return ""
