"""The child scripts' torch calls exist in the installed torch, CUDA-only ones included.

The GPU paths of the children cannot run without a GPU, so a misspelt or removed torch API there would
surface only on a GPU machine. Every `torch.a.b` chain they use is resolved on the real torch instead
(in a child process: the test process, like gpusetup, never imports torch).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import List, Set

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHILDREN = [
    "src/gpusetup/verify/_bench_child.py",
    "src/gpusetup/verify/_collectives_child.py",
    "src/gpusetup/facts/_torch_probe.py",
    "src/gpusetup/verify/_pt2_child.py",
    "src/gpusetup/verify/_pt2_train_child.py",
    "benchmarks/verify_accuracy.py",
]
RESOLVE = """
import json, sys, torch
missing = []
for chain in json.load(sys.stdin):
    obj = torch
    for part in chain.split("."):
        if not hasattr(obj, part):
            missing.append(chain)
            break
        obj = getattr(obj, part)
print(json.dumps(missing))
"""


def torch_chains(source: str) -> Set[str]:
    """The longest `torch.x.y` attribute chains (also through `self.torch`) a script uses."""
    chains: Set[str] = set()
    for node in ast.walk(ast.parse(source)):
        parts: List[str] = []
        current: ast.expr = node  # type: ignore[assignment]
        while isinstance(current, ast.Attribute):
            parts.append(current.attr)
            current = current.value
        if (
            parts
            and parts[-1] == "torch"
            and isinstance(current, ast.Name)
            and current.id in ("self", "bench")  # the PyTorch 2 workloads get the Bench as bench
        ):
            parts.pop()
        elif not (isinstance(current, ast.Name) and current.id == "torch"):
            continue
        if parts:
            chains.add(".".join(reversed(parts)))
    return {c for c in chains if not any(o.startswith(c + ".") for o in chains)}


def test_chains_are_found_through_self_and_nested_attributes() -> None:
    source = "torch.cuda.Event(); self.torch.backends.cudnn.benchmark = 1; x.torch.no; torch.cuda"
    assert torch_chains(source) == {"cuda.Event", "backends.cudnn.benchmark"}


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch installed")
@pytest.mark.parametrize("script", CHILDREN)
def test_every_torch_api_a_child_uses_exists(script: str) -> None:
    chains = sorted(torch_chains((ROOT / script).read_text(encoding="utf-8")))
    assert any(c.startswith("cuda.") for c in chains)  # the scan does see the CUDA-only calls
    found = subprocess.run(
        [sys.executable, "-c", RESOLVE],
        input=json.dumps(chains),
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(found.stdout) == [], f"{script} uses torch APIs this torch lacks"
