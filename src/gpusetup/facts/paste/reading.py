"""What one parser made of a paste: the lines it read, what it found missing, what it cannot state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Set

from gpusetup.facts.model import InputKind, Unstated


@dataclass
class Reading:
    kind: InputKind
    used: Set[int] = field(default_factory=set)  # line numbers this parser read
    missing: List[str] = field(default_factory=list)  # "the paste ends before ..."
    unstated: Set[Unstated] = field(default_factory=set)

    @property
    def found(self) -> bool:
        return bool(self.used)
