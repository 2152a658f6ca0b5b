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
# Every child script (all of verify/_*.py and facts/_*.py, the modules they load by path included),
# and the benchmark that times the same operations.
SCRIPTS = sorted(
    str(path.relative_to(ROOT))
    for folder in ("verify", "facts")
    for path in (ROOT / "src" / "gpusetup" / folder).glob("_*.py")
    if path.name != "__init__.py"
)
CHILDREN = [*SCRIPTS, "benchmarks/verify_accuracy.py"]
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


def missing_in_torch(chains: Set[str]) -> List[str]:
    """The chains the installed torch lacks, resolved in a child process."""
    found = subprocess.run(
        [sys.executable, "-c", RESOLVE],
        input=json.dumps(sorted(chains)),
        capture_output=True,
        text=True,
        check=True,
    )
    missing: List[str] = json.loads(found.stdout)
    return missing


def chains_of(script: str) -> Set[str]:
    return torch_chains((ROOT / script).read_text(encoding="utf-8"))


needs_torch = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None, reason="needs torch installed"
)


@pytest.fixture(scope="module")
def missing() -> Set[str]:
    """Every child's chains resolved in one torch import (one child process for all the files)."""
    return set(missing_in_torch(set().union(*(chains_of(script) for script in CHILDREN))))


def test_every_child_script_is_scanned() -> None:
    """The glob finds the benchmark child's parts and the probes, not an empty list."""
    names = {Path(script).name for script in CHILDREN}
    expected = {"_bench_child.py", "_bench_harness.py", "_bench_matmul.py", "_bench_conv.py"}
    expected |= {
        "_bench_memory.py",
        "_pt2_child.py",
        "_pt2_train_child.py",
        "_pt2_attention.py",
        "_collectives_child.py",
    }
    assert expected | {"_torch_probe.py", "_compile_probe.py", "verify_accuracy.py"} <= names


@needs_torch
@pytest.mark.parametrize("script", CHILDREN)
def test_every_torch_api_a_child_uses_exists(script: str, missing: Set[str]) -> None:
    chains = chains_of(script)
    assert chains  # the scan sees this script's torch calls
    if "torch.cuda." in (ROOT / script).read_text(encoding="utf-8"):
        assert any(c.startswith("cuda.") for c in chains)  # the CUDA-only calls too
    assert sorted(chains & missing) == [], f"{script} uses torch APIs this torch lacks"


@needs_torch
def test_a_planted_typo_is_caught() -> None:
    """A misspelt call, direct and through bench.torch, in two of the children: both are reported."""
    conv = (ROOT / "src/gpusetup/verify/_bench_conv.py").read_text(encoding="utf-8")
    pt2 = (ROOT / "src/gpusetup/verify/_pt2_child.py").read_text(encoding="utf-8")
    assert "torch.randn_like(" in conv and "bench.torch.cuda.empty_cache()" in pt2
    planted = torch_chains(conv.replace("torch.randn_like(", "torch.randn_lke(", 1))
    planted |= torch_chains(
        pt2.replace("bench.torch.cuda.empty_cache()", "bench.torch.cuda.empty_cach()")
    )
    assert sorted(missing_in_torch(planted)) == ["cuda.empty_cach", "randn_lke"]
