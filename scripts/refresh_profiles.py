"""Derive torch releases' facts from the package registry and show what profiles/torch.yaml lacks.

    python3 scripts/refresh_profiles.py [--since 2.14.0] [--write] [--record DIR | --replay DIR]

For every torch release from --since on it reads the registry's PEP 691 index page and one wheel's
core metadata per platform (PEP 658 .metadata, else HTTP range reads of the wheel's METADATA):
upload date, Python range and Requires-Python, platforms, the default build's CUDA on each platform
(from its cuda-toolkit / nvidia-cuda-runtime requirement) and the torchvision/torchaudio releases
whose requirements admit it. It prints the YAML it would add as a diff, then each difference from a
hand-cited fact (kept: it never deletes or overwrites one) and the sources. --write applies the
diff. An unreachable index or metadata that is not whole: one line, exit 2, nothing written.
"""

from __future__ import annotations

import argparse
import datetime
import difflib
import struct
import sys
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _registry import Live, RegistryError, Replay  # noqa: E402
from packaging.version import Version  # noqa: E402

from gpusetup.profiles.derive import (  # noqa: E402
    CompanionFacts,
    MetadataError,
    ReleaseFacts,
    Wheel,
    companion_facts,
    first_upload,
    release_facts,
    versions,
    wheels,
)
from gpusetup.profiles.yaml_lines import load_yaml  # noqa: E402

COMPANIONS = ("torchvision", "torchaudio")
PAGE = "https://pypi.org/project/{project}/{version}/#files"


def _one_per_platform(files: List[Wheel]) -> Dict[str, Wheel]:
    """One wheel per platform (the lowest CPython tag): its METADATA stands for the platform's."""
    chosen: Dict[str, Wheel] = {}
    for wheel in sorted(files, key=lambda w: (len(w.python_tag), w.python_tag, w.filename)):
        if wheel.platform and wheel.platform != "any":
            chosen.setdefault(wheel.platform, wheel)
    return chosen


def gather(
    source: Any, since: str, window_days: int
) -> Tuple[List[ReleaseFacts], List[CompanionFacts]]:
    """Read the registry (or a recording) and derive every torch release from `since` on."""
    torch_files = wheels(source.index("torch"))
    wanted = [v for v in versions(torch_files) if Version(v) >= Version(since)]
    if not wanted:
        raise RegistryError(f"the torch index has no release from {since} on")
    oldest = first_upload([w for w in torch_files if w.version == wanted[0]])
    cutoff = _days_before(oldest, window_days)
    companions: Dict[str, List[CompanionFacts]] = {}
    for project in COMPANIONS:
        files = wheels(source.index(project))
        for version in versions(files):
            mine = [w for w in files if w.version == version]
            if first_upload(mine) < cutoff:
                continue
            wheel = next((w for w in mine if w.platform == "linux_x86_64"), mine[0])
            text = source.metadata(wheel)
            entry = companion_facts(mine, text, PAGE.format(project=project, version=version))
            companions.setdefault(project, []).append(entry)
    facts = []
    for version in wanted:
        mine = [w for w in torch_files if w.version == version]
        metadata = {p: (w.filename, source.metadata(w)) for p, w in _one_per_platform(mine).items()}
        sources = [PAGE.format(project="torch", version=version)] + [
            f"METADATA of {name}" for name, _ in metadata.values()
        ]
        facts.append(release_facts(version, mine, metadata, companions, sources))
    return facts, [c for entries in companions.values() for c in entries]


def _days_before(iso: str, days: int) -> str:
    moment = datetime.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return (moment - datetime.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S")


# ---- turning facts into edits of torch.yaml -----------------------------------------------------


def _end_of(lines: List[str], start: int) -> int:
    """The index after the last line of the list item that starts at lines[start]."""
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = start + 1
    while end < len(lines) and (
        not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent
    ):
        end += 1
    return end


def _release_edits(
    raw: Any, fact: ReleaseFacts, lines: List[str], kept: List[str]
) -> Dict[int, List[str]]:
    """Lines to insert (at index) into one existing release; differences go to kept."""
    at = raw.line - 1
    inserts: Dict[int, List[str]] = {}
    add: List[str] = []
    if "released" not in raw and fact.released:
        add.append(f"  released: '{fact.released}'")
    if "requires_python" not in raw and fact.requires_python:
        add.append(f'  requires_python: "{fact.requires_python}"')
    companions = raw.get("companions") or {}
    for name, version in fact.companions.items():
        if name not in companions:
            line = raw.key_lines["companions"] - 1
            if lines[line].rstrip().endswith("{}"):
                lines[line] = lines[line].replace(" {}", "")
            inserts.setdefault(line + 1, []).append(f'    {name}: "{version}"')
        elif companions[name] != version:
            kept.append(
                f"torch {fact.torch}: {name}: the profile says {companions[name]}, the rule picks {version} (admitted: {', '.join(fact.admitted[name])})"
            )
    _compare(raw, fact, kept)
    if add:
        inserts.setdefault(at + 1, []).extend(add)  # right after the `- torch:` line
    return inserts


def _compare(raw: Any, fact: ReleaseFacts, kept: List[str]) -> None:
    said = {
        "python.min": (raw.get("python") or {}).get("min"),
        "python.max": (raw.get("python") or {}).get("max"),
        "pypi_default": raw.get("pypi_default"),
        "aarch64.pypi_default": (raw.get("aarch64") or {}).get("pypi_default"),
        "platforms": sorted(raw.get("platforms") or []),
        "released": raw.get("released"),
        "requires_python": raw.get("requires_python"),
    }
    found = {
        "python.min": fact.python_min,
        "python.max": fact.python_max,
        "pypi_default": fact.builds.get("linux_x86_64"),
        "aarch64.pypi_default": fact.builds.get("linux_aarch64"),
        "platforms": sorted(fact.platforms),
        "released": fact.released,
        "requires_python": fact.requires_python,
    }
    for key, value in found.items():
        if said[key] is not None and value and said[key] != value:
            kept.append(
                f"torch {fact.torch}: {key}: the profile says {said[key]}, the registry {value} (kept)"
            )
    for platform in ("win_amd64", "macos_arm64", "macos_x86_64"):
        build = fact.builds.get(platform, "cpu")
        if build != "cpu":
            kept.append(
                f"torch {fact.torch}: {platform}: the registry's build is {build}, profiles assume cpu"
            )


def _new_release(fact: ReleaseFacts, previous: Any, today: str) -> List[str]:
    """A block for a release the file lacks: registry facts; the rest copied from the newest, unconfirmed."""
    default, arm = fact.builds.get("linux_x86_64", "cpu"), fact.builds.get("linux_aarch64", "cpu")
    variants = list(previous.get("variants") or [])
    variants = [*variants, default] if default not in variants else variants
    unconfirmed = [f"variants.{v}" for v in variants if v not in (default, arm)]
    archs = dict(previous.get("archs") or {})
    arm_archs = dict((previous.get("aarch64") or {}).get("archs") or {})
    lines = [f'- torch: "{fact.torch}"', f"  released: '{fact.released}'", "  python:"]
    lines += [f'    min: "{fact.python_min}"', f'    max: "{fact.python_max}"']
    lines += [f'  requires_python: "{fact.requires_python}"'] if fact.requires_python else []
    lines += [f"  platforms: [{', '.join(fact.platforms)}]", f"  pypi_default: {default}"]
    lines += [f"  variants: [{', '.join(variants)}]", "  archs:"]
    lines += [f"    {v}: {s}" for v, s in archs.items() if v in variants] or ["    {}"]
    lines += ["  aarch64:", f"    pypi_default: {arm}", "    archs:"]
    lines += [f"      {v}: {s}" for v, s in arm_archs.items()] or ["      {}"]
    lines += ["  companions:"] + [f'    {n}: "{v}"' for n, v in fact.companions.items()]
    if not fact.companions:
        lines[-1] = "  companions: {}"
    lines += [f"  source: {fact.sources[0]}", "  confirmed: false"]
    lines += [f"  unconfirmed: [{', '.join(unconfirmed)}]"] if unconfirmed else []
    lines += [
        f"  note: 'Derived by scripts/refresh_profiles.py from the registry ({today}); variants and arch",
        f"    sets other than the registry''s {default} build are copied from torch {previous['torch']}: confirm them.'",
    ]
    return lines


def _companion_lines(entry: CompanionFacts) -> List[str]:
    return [
        f'  - version: "{entry.version}"',
        f'    torch: "{entry.torch}"',
        f'    python: "{entry.python}"',
        f"    wheels: {entry.wheels}",
        f"    source: {entry.source}",
    ]


def plan_edits(
    text: str, facts: Sequence[ReleaseFacts], companions: Sequence[CompanionFacts], today: str
) -> Tuple[str, List[str]]:
    """The new text of torch.yaml (additions only) and the differences it keeps."""
    raw = load_yaml(text)
    lines = text.splitlines()
    kept: List[str] = []
    inserts: Dict[int, List[str]] = {}
    by_version = {str(Version(r["torch"])): r for r in raw.get("releases") or []}
    for fact in facts:
        existing = by_version.get(str(Version(fact.torch)))
        if existing is not None:
            for at, new in _release_edits(existing, fact, lines, kept).items():
                inserts.setdefault(at, []).extend(new)
    table = raw.get("companion_releases") or {}
    for project in COMPANIONS:
        entries = table.get(project) or []
        known = {e["version"]: e for e in entries}
        for entry in companions:
            if entry.project != project:
                continue
            if entry.version not in known:
                if not entries:
                    kept.append(
                        f"{project} {entry.version}: companion_releases has no {project} list; add it by hand"
                    )
                    continue
                at = _end_of(lines, entries[-1].line - 1)
                inserts.setdefault(at, []).extend(_companion_lines(entry))
            elif (known[entry.version].get("torch"), known[entry.version].get("python")) != (
                entry.torch,
                entry.python,
            ):
                kept.append(
                    f"{project} {entry.version}: the profile says torch{known[entry.version].get('torch')} / Python {known[entry.version].get('python')}, the metadata torch{entry.torch} / Python {entry.python} (kept)"
                )
    releases = raw.get("releases") or []
    newest = max(releases, key=lambda r: Version(r["torch"])) if releases else None
    appended = [
        line
        for fact in facts
        if str(Version(fact.torch)) not in by_version and newest is not None
        for line in _new_release(fact, newest, today)
    ]
    out: List[str] = []
    for index, line in enumerate(lines):
        out += inserts.get(index, [])
        out.append(line)
    out += inserts.get(len(lines), []) + appended
    return "\n".join(out) + "\n", kept


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=Path, default=ROOT / "profiles" / "torch.yaml")
    parser.add_argument("--index", default="https://pypi.org/simple", help="a PEP 691 index")
    parser.add_argument(
        "--since", default="", help="first torch release to derive [newest in the file]"
    )
    parser.add_argument("--companion-window-days", type=int, default=180)
    parser.add_argument("--replay", type=Path, help="read a recording instead of the registry")
    parser.add_argument("--record", type=Path, help="also write what was read to this folder")
    parser.add_argument("--write", action="store_true", help="apply the additions to --profiles")
    parser.add_argument(
        "--today", default=datetime.date.today().isoformat(), help=argparse.SUPPRESS
    )
    args = parser.parse_args(list(argv) or None)
    try:
        text = args.profiles.read_text(encoding="utf-8")
        raw = load_yaml(text)
        since = args.since or max((r["torch"] for r in raw["releases"]), key=Version)
        source = Replay(args.replay) if args.replay else Live(args.index)
        facts, companions = gather(source, since, args.companion_window_days)
    except (RegistryError, MetadataError, OSError, ValueError, KeyError, struct.error) as err:
        print(f"refresh_profiles: error: {err}", file=sys.stderr)
        return 2
    new, kept = plan_edits(text, facts, companions, args.today)
    sys.stdout.writelines(
        difflib.unified_diff(
            text.splitlines(True),
            new.splitlines(True),
            str(args.profiles),
            f"{args.profiles} (refreshed)",
        )
    )
    for line in kept:
        print(f"# differs: {line}")
    for fact in facts:
        print(f"# sources of torch {fact.torch}: " + "; ".join(fact.sources))
    if args.record and isinstance(source, Live):
        keep = {"torch": {f.torch for f in facts}}
        for entry in companions:
            keep.setdefault(entry.project, set()).add(entry.version)
        source.record(args.record, keep)
    if args.write and new != text:
        args.profiles.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
