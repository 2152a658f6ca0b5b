"""Read what people paste into bug reports (collect_env, nvidia-smi, nvidia-smi -q) into facts.

Each format is recognised by its content, and a paste may hold several. Whatever the paste does not
state stays unknown (None, or named in facts.input.unstated), never a healthy default.
"""

from __future__ import annotations

import datetime
from typing import List, Set

from gpusetup.errors import UsageError
from gpusetup.facts.model import Facts, InputFacts, InputKind, TorchFacts, Unstated
from gpusetup.facts.paste import collect_env, nvidia_smi, nvidia_smi_l, nvidia_smi_q
from gpusetup.facts.paste.clean import Line, clean_lines, describe_lines
from gpusetup.facts.paste.host_signals import read_host_signals
from gpusetup.facts.paste.library_lines import read_library_lines
from gpusetup.facts.paste.reading import Reading
from gpusetup.facts.paste.repl import read_repl
from gpusetup.facts.paste.signals import read_signals
from gpusetup.facts.status import NvmlStatus, ProbeStatus

FORMATS = (
    "a gpusetup doctor --json report, python -m torch.utils.collect_env, nvidia-smi, nvidia-smi -q, "
    "nvidia-smi -L"
)
_MAX_SKIPPED_NOTES = 3


def read_paste(text: str, name: str = "the input") -> Facts:
    """Facts from a pasted report; a text of none of the formats is a UsageError naming them."""
    lines = clean_lines(text)
    facts = Facts(collected_at="", torch=TorchFacts(status=ProbeStatus.NOT_RUN))
    facts.driver.nvml = NvmlStatus.NOT_COLLECTED
    readings: List[Reading] = []
    used: Set[int] = set()
    # nvidia-smi first: a collect_env paste often carries a table, and its lines are not fields.
    for module in (nvidia_smi_q, nvidia_smi, collect_env, nvidia_smi_l):
        remaining = [line for line in lines if line.number not in used]
        if module.looks_like(remaining):
            reading = module.read(remaining, facts)
            if reading.found:
                readings.append(reading)
                used |= reading.used
    remaining = [line for line in lines if line.number not in used]
    # a session showing torch at work first: a library error beside it is then not import torch's
    signals = read_repl(remaining, facts.torch)
    rest = [line for line in remaining if line.number not in signals]
    signals |= read_signals(rest, facts.torch) | read_host_signals(rest, facts)
    signals |= read_library_lines(
        [line for line in rest if line.number not in signals], facts.torch
    )
    if not readings and not signals:
        raise UsageError(
            f"{name}: not a report doctor can read (it reads {FORMATS}, or their error lines)",
            "paste the whole output of one of these commands",
        )
    if not readings:  # error lines alone: they state almost nothing else
        readings.append(Reading(InputKind.ERROR_TEXT, set(signals), [], set(Unstated)))
    used |= signals
    facts.input = _input(readings, lines, used, _torch_shown(facts.torch))
    facts.gpusetup_version = ""
    facts.collected_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    return facts


def _torch_shown(torch: TorchFacts) -> bool:
    """A session that printed torch's version and its CUDA build states the torch stack's core."""
    return torch.version is not None and "cuda_build" not in torch.unavailable


def _input(
    readings: List[Reading], lines: List[Line], used: Set[int], torch_shown: bool
) -> InputFacts:
    kinds = [r.kind.value for r in readings]
    unstated: Set[Unstated] = set.intersection(*(r.unstated for r in readings))
    if torch_shown:
        unstated.discard(Unstated.TORCH)
    skipped = [note for r in readings for note in r.missing]
    unread = [line.number for line in lines if line.number not in used and line.text.strip()]
    if unread:
        sample = next(line.text.strip() for line in lines if line.number == unread[0])
        skipped.append(
            f"{len(unread)} line(s) not read (lines {_short(describe_lines(unread))}), "
            f"first: {sample[:80]!r}"
        )
    return InputFacts(
        kinds=kinds,
        unstated=sorted(u.value for u in unstated),
        skipped=skipped[: _MAX_SKIPPED_NOTES + 4],
    )


def _short(spans: str) -> str:
    parts = spans.split(", ")
    return spans if len(parts) <= 6 else ", ".join(parts[:6]) + ", ..."
