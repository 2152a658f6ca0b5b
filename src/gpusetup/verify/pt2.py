"""Which doctor finding explains a failed `compile` row: the compiler's or linker's own words mapped
to the id whose fix applies (pure)."""

from __future__ import annotations

import re
from typing import List, Optional, Tuple

from gpusetup.verify.score import Row

# (pattern in the first error line, doctor finding id); the first match wins.
CAUSES: Tuple[Tuple[str, str], ...] = (
    (
        r"No working C\+\+ compiler|InvalidCxxCompiler|Failed to find C compiler",
        "inductor-no-compiler",
    ),
    (r"cannot find -lcuda|libcuda\.so cannot found", "triton-libcuda-not-found"),
    (r"Python\.h", "triton-no-python-headers"),
    (r"cannot import name .* from 'triton|triton.*has no attribute", "triton-version-mismatch"),
    (r"No module named 'triton'|Cannot find a working triton", "triton-missing"),
    (
        r"Permission denied|Read-only file system|failed to map segment",
        "compile-cache-not-writable",
    ),
    (
        r"(gcc|g\+\+|cc1|clang|c\+\+): (fatal )?error|error: command .* failed|\bld:",
        "inductor-no-compiler",
    ),
)


def explain(reason: str) -> Optional[str]:
    """The doctor finding id for a compile failure's message, or None when none fits."""
    for pattern, finding in CAUSES:
        if re.search(pattern, reason, re.IGNORECASE):
            return finding
    return None


def explain_compile_failures(rows: List[Row]) -> List[Row]:
    """Append 'see doctor: ID' to each failed compile row whose message a finding explains."""
    for row in rows:
        if row.benchmark == "compile" and not row.ok:
            finding = explain(row.reason)
            if finding is not None:
                row.reason = f"{row.reason} (gpusetup doctor: {finding})"
    return rows
