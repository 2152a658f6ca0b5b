"""Host lines people paste beside (or instead of) a report: fabric manager, NVML errors, env settings.

Each line is read on its own, capped at MAX_LINE characters, with linear regexes only. What a line
does not say stays unknown; a value a command or script sets is named in host.env_set_by_script.
"""

from __future__ import annotations

import re
from typing import List, Optional, Set, Tuple

from gpusetup.facts.host import RELEVANT_ENV, ld_library_dirs
from gpusetup.facts.model import Facts, GpuFacts, LibraryDir
from gpusetup.facts.paste.clean import MAX_LINE, Line
from gpusetup.facts.status import NvmlStatus

_MAX_EVIDENCE = 500
_VERSION = r"(\d+(?:\.\d+){1,3})"

# nv-fabricmanager's refusal ("don't" in older releases, "doesn't" later).
_FM_REFUSAL = re.compile(
    r"driver interface version "
    + _VERSION
    + r" do(?:n|esn)['\u2019]t match with driver version "
    + _VERSION
)
# The same refusal cut off by the paste after the fabric manager's own version ("... 535.183.01 don'").
_FM_REFUSAL_CUT = re.compile(
    r"driver interface version " + _VERSION + r"(?: do(?:n|esn)?['\u2019]?t?)?$"
)
_FM_LOG = re.compile(r"\bnv-fabricmanager(?:\[\d+\])?:\s*(\S.*)$")
_FM_ERRORISH = re.compile(
    r"error|fail|abort|mismatch|don't match|doesn't match|not supported", re.I
)
_FM_VERSION = re.compile(r"Fabric Manager version is\s*:\s*" + _VERSION, re.IGNORECASE)
# systemctl status: the unit header ("● nvidia-fabricmanager.service - ...") and its Active: line.
_UNIT = re.compile(r"^\s*(?:[\u25cf\u25cb\u00d7*]\s*)?(\S+)\.service(?:\s|$)")
_UNIT_FIELD = re.compile(r"^\s*(Loaded|Docs|Process|Main PID|Tasks|Memory|CPU|CGroup):\s")
_ACTIVE = re.compile(r"^\s*Active:\s*(active|inactive|failed|activating|deactivating|reloading)\b")

# systemd's journal lines about the unit (systemctl status shows them too): the start failed.
_FM_UNIT_FAILED = re.compile(
    r"nvidia-fabricmanager\.service: (?:Failed with result|Control process exited, code=exited, "
    r"status=[1-9]|Main process exited, code=exited, status=[1-9])|"
    r"Failed to start NVIDIA fabric manager service"
)
_NVML_FAILED = re.compile(
    r"Failed to initialize NVML: (Driver/library version mismatch|Unknown Error|"
    r"Insufficient Permissions|Driver Not Loaded)",
    re.IGNORECASE,
)
_NVML_STATUS = {
    "driver/library version mismatch": NvmlStatus.VERSION_MISMATCH,
    "unknown error": NvmlStatus.UNKNOWN,
    "insufficient permissions": NvmlStatus.NO_PERMISSION,
    "driver not loaded": NvmlStatus.DRIVER_NOT_LOADED,
}
_SMI_NO_DRIVER = re.compile(
    r"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver"
)
_NVML_LIB = re.compile(r"NVML library version:\s*" + _VERSION)
_NVRM_MISMATCH = re.compile(
    r"NVRM: API mismatch: the client has the version "
    + _VERSION
    + r", but\s+this kernel module has the version "
    + _VERSION
)
# `cat /proc/driver/nvidia/version`: the kernel module's version, and the compiler line under it
_NVRM_VERSION = re.compile(
    r"^NVRM version: NVIDIA UNIX [\w-]{1,20} Kernel Module\s+" + _VERSION + r"\b"
)
_PROC_VERSION_REST = re.compile(r"^GCC version:\s|(?:^|[\s$#>])cat /proc/driver/nvidia/version\s*$")

# nvidia-smi's own header fields copied into a hand-written line ("- 驱动版本: Driver Version: 460.80"):
# the exact casing of nvidia-smi's label says which CUDA it is (a retyped "CUDA version" does not).
_SMI_FIELD = re.compile(
    r"(?:^|[\s:|])(Driver Version|CUDA Version): *(\d{2,4}\.\d{1,3}(?:\.\d{1,3})?)\b"
)
# A GPU model after a label ("- 显卡型号: GeForce GTX 1650", "GPU: NVIDIA RTX A6000").
_GPU_NAME = re.compile(
    r"^\s*(?:[-*+\u2022]\s+)?(?!GPU \d)[^:\s][^:]{0,40}:\s*((?:NVIDIA\s+)?(?:GeForce|Quadro|TITAN|Tesla|"
    r"RTX|GTX)\b[\w .-]{0,80}?)\s*$"
)

# "Driver version 435.21, CUDA 10.1" typed on a line of its own (the comma may be full-width); the
# CUDA beside it is typed by hand too, so whose CUDA it is stays unread.
_TYPED_DRIVER = re.compile(
    r"^(?:[-*+\u2022]\s+)?(?:NVIDIA\s+)?Driver\s+version:?\s*(\d{3}\.\d{1,3}(?:\.\d{1,3})?)"
    r"(?:\s*[,\uff0c;]\s*CUDA(?:\s+version)?:?\s*\d{1,2}\.\d{1,2})?\s*$",
    re.IGNORECASE,
)
# The reporter's own `docker run` with the NVIDIA runtime or --gpus: what follows ran in that container.
_CONTAINER_RUN = re.compile(r"\b(nvidia-docker|docker|podman)\s+(?:container\s+)?run\s")
_GPU_RUNTIME = re.compile(r"\s(?:--runtime[= ]nvidia|--gpus[= ]|--device[= ]nvidia\.com/gpu)")

_NAME = r"([A-Z_][A-Z0-9_]*)"
_VALUE = r"(\"[^\"]*\"|'[^']*'|[^\s\"';&|]*)"
# docker/podman run -e NAME=VALUE, --env NAME=VALUE, --env=NAME=VALUE, -e "NAME=VALUE"
_DOCKER_ENV = re.compile(r"(?:^|\s)(?:-e|--env)(?:=|\s+)[\"']?" + _NAME + r"=([^\s\"']*)")
# os.environ['NAME'] = 'value' / os.environ["NAME"]="value" (a value that is not a literal: None)
_PY_ENVIRON = re.compile(
    r"os\.environ\[\s*([\"'])" + _NAME + r"\1\s*\]\s*=\s*(?:([\"'])([^\"'\n]*)\3)?"
)
# A shell prompt before a command: "$ ", "# ", "(venv) user@host:~/dir$ ".
_PROMPT = re.compile(r"^\s*(?:\([^()\s]*\)\s*)?(?:[\w.@-]+:[^\s$#]*[$#]\s+|[$#>]\s+)?")
_KEYWORD = re.compile(r"(export|ENV|env|-)\s+")
_ASSIGN = re.compile(_NAME + "=" + _VALUE)
_SPACE = re.compile(r"\s+")
# `echo $LD_LIBRARY_PATH` after any prompt, and the line it printed: a colon list of directories.
_ECHO_LD = re.compile(r"\becho\s+[\"']?\$\{?LD_LIBRARY_PATH\}?[\"']?\s*$")
_PATH_LIST = re.compile(r"^[/:][^\s]*$")


def read_host_signals(lines: List[Line], facts: Facts) -> Set[int]:
    """Fill fabric manager, NVML and environment facts from the lines that state them."""
    used: Set[int] = set()
    fm_unit = False  # inside a `systemctl status` block of the fabric manager
    # one typed line alone is not a report: a list of them (two or more) is
    hand = sum(1 for line in lines if _is_hand_written(line.text[:MAX_LINE].strip())) >= 2
    echo_ld = 0  # the line number of an `echo $LD_LIBRARY_PATH` whose output comes next
    for line in lines:
        text = line.text[:MAX_LINE].strip()
        if not text:
            continue
        if echo_ld and _PATH_LIST.match(text):
            _ld_library_path(text, facts)
            used |= {echo_ld, line.number}
            echo_ld = 0
            continue
        echo_ld = line.number if _ECHO_LD.search(text) else 0
        if echo_ld:
            continue
        unit = _UNIT.match(text)
        if unit:
            fm_unit = "fabricmanager" in unit.group(1) or "fabric-manager" in unit.group(1)
            if fm_unit:
                used.add(line.number)
                continue
        if fm_unit and _UNIT_FIELD.match(text):
            used.add(line.number)
            continue
        hits = (
            _fabric_manager(text, fm_unit, facts),
            _nvml(text, facts),
            _environment(text, facts),
            hand and _hand_written(text, facts),
            (hand or bool(facts.torch.init_warnings)) and _typed_driver(text, facts),
            _container_run(text, facts),
        )
        if any(hits):
            used.add(line.number)
    return used


def _fabric_manager(text: str, fm_unit: bool, facts: Facts) -> bool:
    fm = facts.host.fabric_manager
    active = _ACTIVE.match(text) if fm_unit else None
    if active:
        fm.unit_state = active.group(1)
        return True
    version = _FM_VERSION.search(text)
    if version:
        fm.version = version.group(1)
        return True
    refusal = _FM_REFUSAL.search(text)
    if refusal:
        fm.version = refusal.group(1)
        fm.log_error = text[:_MAX_EVIDENCE]
        if facts.driver.version is None:
            facts.driver.version = refusal.group(2)
        return True
    cut = _FM_REFUSAL_CUT.search(text)
    if cut:  # the driver version it names is cut off: unknown
        fm.version = cut.group(1)
        fm.log_error = fm.log_error or text[:_MAX_EVIDENCE]
        return True
    if _FM_UNIT_FAILED.search(text):
        if fm.unit_state is None:  # a status block's Active: line says what it is now
            fm.unit_state = "failed"
        return True
    log = _FM_LOG.search(text)
    if log:
        if not fm.log_error and _FM_ERRORISH.search(log.group(1)):
            fm.log_error = text[:_MAX_EVIDENCE]
        return True
    return False


def _nvml(text: str, facts: Facts) -> bool:
    driver = facts.driver
    failed = _NVML_FAILED.search(text)
    if failed:
        if driver.nvml != NvmlStatus.OK:  # a working nvidia-smi in the same paste wins
            driver.nvml = _NVML_STATUS[failed.group(1).lower()]
            driver.nvml_error = failed.group(0) + _library_note(driver.nvml_version)
        return True
    if _SMI_NO_DRIVER.search(text):
        if driver.nvml != NvmlStatus.OK and not driver.nvml_error:
            driver.nvml = NvmlStatus.DRIVER_NOT_LOADED
            driver.nvml_error = text[:_MAX_EVIDENCE]
        return True
    library = _NVML_LIB.search(text)
    if library:
        driver.nvml_version = library.group(1)
        if driver.nvml_error and "NVML library version" not in driver.nvml_error:
            driver.nvml_error += _library_note(driver.nvml_version)
        return True
    module = _NVRM_VERSION.match(text)
    if module:
        facts.host.proc_driver_version = facts.host.proc_driver_version or module.group(1)
        return True
    if _PROC_VERSION_REST.search(text):
        return True
    nvrm = _NVRM_MISMATCH.search(text)
    if nvrm:
        driver.nvml_version = driver.nvml_version or nvrm.group(1)
        facts.host.proc_driver_version = facts.host.proc_driver_version or nvrm.group(2)
        return True
    return False


def _library_note(version: Optional[str]) -> str:
    return f" (NVML library version: {version})" if version else ""


def _environment(text: str, facts: Facts) -> bool:
    found: List[Tuple[str, Optional[str], bool]] = []  # (name, value or None, set by a script)
    for match in _PY_ENVIRON.finditer(text):
        found.append((match.group(2), match.group(4), True))
    for match in _DOCKER_ENV.finditer(text):
        found.append((match.group(1), match.group(2), True))
    if not found:
        found = _shell(text)
    hit = False
    for name, value, by_script in found:
        if name not in RELEVANT_ENV:
            continue
        hit = True
        if value is not None and "$" not in value:
            facts.host.env[name] = value
            if name == "LD_LIBRARY_PATH":
                _ld_library_path(value, facts)
            if name == "NVIDIA_VISIBLE_DEVICES":
                facts.host.nvidia_visible_devices = value
        if by_script and name not in facts.host.env_set_by_script:
            facts.host.env_set_by_script.append(name)
    return hit


def _typed_driver(text: str, facts: Facts) -> bool:
    """A driver version typed beside torch's own warnings (alone, one typed line is no report)."""
    typed = _TYPED_DRIVER.match(text)
    if typed and facts.driver.version is None:
        facts.driver.version = typed.group(1)
    return typed is not None


def _is_hand_written(text: str) -> bool:
    return _SMI_FIELD.search(text) is not None or _GPU_NAME.match(text) is not None


def _hand_written(text: str, facts: Facts) -> bool:
    """nvidia-smi's fields and a GPU model as the reporter copied them into a list; NVML is not
    shown working by a typed line, so driver.nvml stays as it is."""
    hit = False
    for match in _SMI_FIELD.finditer(text):
        hit = True
        if match.group(1) == "Driver Version":
            facts.driver.version = facts.driver.version or match.group(2)
        else:
            facts.driver.cuda_version = facts.driver.cuda_version or match.group(2)
    name = _GPU_NAME.match(text)
    if name and not facts.gpus:
        facts.gpus.append(GpuFacts(index=0, name=name.group(1)))
        hit = True
    return hit


def _container_run(text: str, facts: Facts) -> bool:
    """A GPU `docker run` names the container the reporter ran in; the variables it sets are read by
    _environment, and one it does not set stays unknown (the image may set it)."""
    run = _CONTAINER_RUN.search(text)
    if run is None or (
        run.group(1) != "nvidia-docker" and not _GPU_RUNTIME.search(text, run.end() - 1)
    ):
        return False
    if not facts.host.container:
        facts.host.container = "podman" if run.group(1) == "podman" else "docker"
    return True


def _shell(text: str) -> List[Tuple[str, Optional[str], bool]]:
    """Assignments at the start of a shell line: bare (an env listing), export, ENV, or a prefix."""
    pos = _PROMPT.match(text)
    start = pos.end() if pos else 0
    keyword = _KEYWORD.match(text, start)
    if keyword:
        start = keyword.end()
    found: List[Tuple[str, Optional[str], bool]] = []
    while True:
        match = _ASSIGN.match(text, start)
        if not match:
            break
        found.append((match.group(1), match.group(2).strip("\"'"), False))
        start = match.end()
        space = _SPACE.match(text, start)
        if not space:
            break
        start = space.end()
    if not found:
        return []
    rest = text[start:].strip()
    # export X=..., ENV X=... (a Dockerfile), - X=... (compose), or a prefix before a command; a
    # bare line (an env listing) states the value without setting it
    by_script = keyword is not None or (bool(rest) and rest[0] not in "#\\")
    return [(n, v, by_script) for n, v, _ in found]


def _ld_library_path(value: str, facts: Facts) -> None:
    """The directories the program searched; which CUDA libraries each holds the paste does not say."""
    facts.host.env.setdefault("LD_LIBRARY_PATH", value)
    if not facts.toolkit.ld_library_path:
        facts.toolkit.ld_library_path = [LibraryDir(path=d) for d in ld_library_dirs(value)]
