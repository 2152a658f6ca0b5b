"""Small stand-in wheels and a PEP 503 file:// index, so install tests run pip for real, offline."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path
from typing import Dict


def build_wheel(out: Path, name: str, version: str, files: Dict[str, str]) -> Path:
    """A pure-Python wheel named like the real one (torch-2.4.1+cu121-py3-none-any.whl)."""
    dist = f"{name}-{version}.dist-info"
    contents = dict(files)
    contents[f"{dist}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    contents[f"{dist}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: gpusetup-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = []
    for path, text in contents.items():
        digest = (
            base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        )
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    contents[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    project = out / name
    project.mkdir(parents=True, exist_ok=True)
    wheel = project / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in contents.items():
            archive.writestr(path, text)
    links = "".join(f'<a href="{w.name}">{w.name}</a>\n' for w in sorted(project.glob("*.whl")))
    (project / "index.html").write_text(f"<!DOCTYPE html><html><body>\n{links}</body></html>\n")
    return wheel


def stand_in_torch(version: str, cuda: str, broken: bool = False) -> Dict[str, str]:
    """torch/__init__.py that the doctor probe reads like the real thing (no GPU: CUDA unavailable)."""
    if broken:
        return {
            "torch/__init__.py": 'raise ImportError("libcudnn.so.9: cannot open shared object file")\n'
        }
    return {
        "torch/__init__.py": (
            f'__version__ = "{version}"\n'
            f"class version:\n    cuda = {cuda!r}\n    hip = None\n"
            "class _C:\n    pass\n"
            "class cuda:\n"
            "    @staticmethod\n    def is_available(): return False\n"
            "    @staticmethod\n    def device_count(): return 0\n"
            "    @staticmethod\n    def init(): raise RuntimeError('Found no NVIDIA driver on your system.')\n"
        )
    }
