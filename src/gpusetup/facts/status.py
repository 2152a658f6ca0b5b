"""How each source of facts answered: NVML, the torch probe, numpy beside torch (closed sets)."""

from __future__ import annotations

from gpusetup.plumbing.codec import TextEnum


class NvmlStatus(TextEnum):
    """Whether NVML started, or why not (nvmlInit's NVML_ERROR_* code, or why it was not asked)."""

    OK = "ok"
    LIBRARY_NOT_FOUND = "library-not-found"
    DRIVER_NOT_LOADED = "driver-not-loaded"
    VERSION_MISMATCH = "version-mismatch"
    NO_PERMISSION = "no-permission"
    GPU_LOST = "gpu-lost"
    FUNCTION_NOT_FOUND = "function-not-found"
    UNKNOWN = "unknown"
    NOT_INSTALLED = "not-installed"  # nvidia-ml-py missing
    NOT_COLLECTED = "not-collected"  # a pasted report that does not show whether NVML works


class ProbeStatus(TextEnum):
    """How the torch probe in the target interpreter ended."""

    OK = "ok"
    MISSING = "missing"  # torch is not installed there
    IMPORT_ERROR = "import-error"
    TIMEOUT = "timeout"
    CRASHED = "crashed"
    BAD_OUTPUT = "bad-output"  # it printed a result gpusetup cannot read
    NOT_RUN = "not-run"


class NumpyStatus(TextEnum):
    """numpy beside torch."""

    OK = "ok"
    MISSING = "missing"
    BROKEN = "broken"  # torch cannot hand arrays to it
