"""After scripts/gpu_check.sh ran on a lent GPU: put its results where the project keeps them.

    python3 scripts/record_gpu_check.py DIR [--root REPO]

DIR is what the device tool brought back (holding results.tar.gz) or a results folder itself. This
unpacks the folder to benchmarks/results/<gpu>-<date>/, records the machine's doctor facts as
tests/fixtures/facts/recorded-<gpu>-<date>.json once they load as facts, and prints the parts the
README quotes (the quick verify table, its wall time against the goal, the accuracy table).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from gpusetup.doctor.report import load_facts_file  # noqa: E402
from gpusetup.errors import UsageError  # noqa: E402


def results_folder(given: Path, scratch: Path) -> Path:
    """The results folder: DIR itself, or the one folder inside DIR/results.tar.gz."""
    tarball = given / "results.tar.gz"
    if not tarball.exists():
        if not (given / "steps.txt").exists():
            raise SystemExit(f"{given}: neither results.tar.gz nor a results folder (steps.txt)")
        return given
    with tarfile.open(tarball) as archive:
        members = archive.getmembers()
        for member in members:  # the archive came from another machine: nothing outside its folder
            if member.name.startswith(("/", "..")) or ".." in Path(member.name).parts:
                raise SystemExit(f"{tarball}: unsafe path {member.name!r}")
            if not (member.isfile() or member.isdir()):
                raise SystemExit(f"{tarball}: {member.name!r} is not a plain file")
        if hasattr(tarfile, "data_filter"):  # Python 3.12+ (and security releases before it)
            archive.extractall(scratch, filter="data")
        else:
            archive.extractall(scratch)  # every member was checked above
    tops = {Path(m.name).parts[0] for m in members}
    if len(tops) != 1:
        raise SystemExit(f"{tarball}: expected one folder, found {sorted(tops)}")
    return scratch / tops.pop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository to record into")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        found = results_folder(args.dir, Path(scratch))
        name = found.name
        target = args.root / "benchmarks" / "results" / name
        if target.exists():
            raise SystemExit(f"{target} exists already: remove it first to record again")
        shutil.copytree(found, target)
    try:
        load_facts_file(str(target / "doctor.out"))
    except UsageError as err:
        raise SystemExit(f"doctor facts not recorded: {err.message}") from None
    fixture = args.root / "tests" / "fixtures" / "facts" / f"recorded-{name}.json"
    shutil.copyfile(target / "doctor.out", fixture)
    print(f"results: {target}\nfixture: {fixture}")
    for part in ("verify-quick-text.out", "accuracy.out"):
        text = (target / part).read_text() if (target / part).exists() else "(missing)"
        print(f"\n== {part} ==\n{text.rstrip()}")
    steps = (target / "steps.txt").read_text() if (target / "steps.txt").exists() else ""
    print("\n== steps ==\n" + steps.rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
