"""Throwaway virtual environments holding stub torch packages, for running the probe for real."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Dict

TORCH_CPU = """
__version__ = "2.4.1+cpu"
class version:
    cuda = None
    hip = None
class _C:
    pass
class _Cudnn:
    enabled = True
    @staticmethod
    def version(): return None
    @staticmethod
    def is_available(): return False
class backends:
    cudnn = _Cudnn
class cuda:
    @staticmethod
    def is_available(): return False
    @staticmethod
    def device_count(): return 0
    @staticmethod
    def init(): raise AssertionError("Torch not compiled with CUDA enabled")
"""

TORCH_OLD_CUDA = """
import warnings
__version__ = "2.0.1+cu118"
class version:
    cuda = "11.8"
    hip = None
class _C:
    @staticmethod
    def _cuda_getArchFlags(): return "sm_37 sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90"
class _Cudnn:
    enabled = True
    @staticmethod
    def version(): return 8700
    @staticmethod
    def is_available(): return True
class backends:
    cudnn = _Cudnn
class cuda:
    class nccl:
        @staticmethod
        def version(): return (2, 14, 3)
    @staticmethod
    def is_available():
        warnings.warn("CUDA initialization: The NVIDIA driver on your system is too old (found version 11040).")
        return False
    @staticmethod
    def device_count(): return 0
    @staticmethod
    def init(): raise RuntimeError("The NVIDIA driver on your system is too old (found version 11040).")
"""

# A stand-in torch that imports but has no torch._C (a private API the probe reads): every other fact
# must still be read, and arch_list named as unavailable.
TORCH_WITHOUT_C = TORCH_CPU.replace("class _C:\n    pass\n", "")

# torch imports that start a grandchild, writing its pid to $GPUSETUP_TEST_PIDFILE: one that leaves
# the probe's process group (a daemon: new session, stdio closed), one that stays in the group but
# keeps the probe's stdout open, as a helper process forked at import time would.
_SPAWN = """
import os, subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"]{extra})
with open(os.environ["GPUSETUP_TEST_PIDFILE"], "w") as f:
    f.write(str(child.pid))
"""
TORCH_SPAWNS_DAEMON = (
    _SPAWN.format(
        extra=", start_new_session=True, stdin=subprocess.DEVNULL, "
        "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL"
    )
    + TORCH_CPU
)
TORCH_SPAWNS_PIPE_HOLDER = _SPAWN.format(extra="") + TORCH_CPU
TORCH_SPAWNS_DAEMON_AND_HANGS = TORCH_SPAWNS_DAEMON.replace(
    TORCH_CPU, "import time\ntime.sleep(3600)\n"
)

TORCHVISION_BROKEN = 'raise RuntimeError("operator torchvision::nms does not exist")\n'
TORCH_RAISES = 'raise ImportError("libcudnn.so.9: cannot open shared object file: No such file or directory")\n'
TORCH_HANGS = "import time\ntime.sleep(3600)\n"
TORCH_EXITS_SILENTLY = "import os\nos._exit(0)\n"
TORCH_SEGFAULTS = "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n"

# numpy beside a real torch: absent (what torch's own import sees when it is not installed), or present
# but without the C API torch loads, as with torch wheels built for NumPy 1.x beside NumPy 2.
NUMPY_HIDDEN = "raise ModuleNotFoundError('numpy is hidden by the test', name='numpy')\n"
NUMPY_WITHOUT_C_API = """
__version__ = "2.0.0"
class _Anything:
    def __init__(self, *args, **kwargs):
        pass
def __getattr__(name):
    return type(name, (_Anything,), {})
"""

STUBS: Dict[str, Dict[str, str]] = {
    "cpu": {"torch": TORCH_CPU},
    "old-cuda": {"torch": TORCH_OLD_CUDA, "torchvision": TORCHVISION_BROKEN},
    "raises": {"torch": TORCH_RAISES},
    "hangs": {"torch": TORCH_HANGS},
    "garbage": {"torch": TORCH_EXITS_SILENTLY},
    "segfault": {"torch": TORCH_SEGFAULTS},
    "empty": {},
    "no-c": {"torch": TORCH_WITHOUT_C},
    "daemon": {"torch": TORCH_SPAWNS_DAEMON},
    "pipe-holder": {"torch": TORCH_SPAWNS_PIPE_HOLDER},
    "daemon-hangs": {"torch": TORCH_SPAWNS_DAEMON_AND_HANGS},
}
_VERSIONS = {
    "torch": {
        "cpu": "2.4.1+cpu",
        "old-cuda": "2.0.1+cu118",
        "no-c": "2.4.1+cpu",
        "daemon": "2.4.1+cpu",
        "pipe-holder": "2.4.1+cpu",
    },
    "torchvision": {"old-cuda": "0.15.2+cu118"},
}


def site_packages(python: Path) -> Path:
    """Where pip would install pure-Python packages for that interpreter."""
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return Path(purelib)


def make_env(root: Path, kind: str) -> Path:
    """A venv (no pip, no system site-packages) whose site-packages holds the stub; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    site = site_packages(python)
    for name, source in STUBS[kind].items():
        (site / name).mkdir(parents=True)
        (site / name / "__init__.py").write_text(source)
        version = _VERSIONS.get(name, {}).get(kind, "0.0.0")
        dist = site / f"{name}-{version.split('+')[0]}.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (dist / "INSTALLER").write_text("pip\n")
    return python
