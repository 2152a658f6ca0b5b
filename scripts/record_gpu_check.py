"""After scripts/gpu_check.sh ran on a lent GPU: put its results where the project keeps them.

    python3 scripts/record_gpu_check.py DIR [--root REPO]

DIR is what the device tool brought back (holding results.tar.gz) or a results folder itself. This
unpacks the folder to benchmarks/results/<gpu>-<date>/, records the machine's doctor facts as
tests/fixtures/facts/recorded-<gpu>-<date>.json once they load as facts, the pastes it recorded
(collect_env, nvidia-smi, nvidia-smi -q) as tests/fixtures/paste/recorded-<gpu>-<date>-<kind>.txt
once doctor can read them, and prints the parts the README quotes (the quick verify table, its wall
time against the goal, the accuracy table).
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
from gpusetup.facts.paste import read_paste  # noqa: E402

PASTES = {  # the file gpu_check.sh writes -> the command that printed it
    "paste-collect-env.txt": "python3 -m torch.utils.collect_env",
    "paste-nvidia-smi.txt": "nvidia-smi",
    "paste-nvidia-smi-q.txt": "nvidia-smi -q",
    "paste-nvidia-smi-l.txt": "nvidia-smi -L",
}


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


def record_pastes(results: Path, pastes: Path, name: str) -> list[Path]:
    """Each recorded paste doctor can read, with the .source note tests/test_paste.py asks for."""
    written = []
    for file, command in PASTES.items():
        text = (results / file).read_text(errors="replace") if (results / file).exists() else ""
        try:
            read_paste(text)
        except UsageError as err:
            print(f"{file}: not recorded as a fixture ({err.message})")
            continue
        pastes.mkdir(parents=True, exist_ok=True)
        target = pastes / f"recorded-{name}-{file[len('paste-') :]}"
        target.write_text(text)
        target.with_suffix(".source").write_text(
            f"Recorded by scripts/gpu_check.sh on a lent GPU machine ({name}): {command};\n"
            "stdout and stderr together, unedited.\n"
        )
        written.append(target)
    return written


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
    for written in record_pastes(target, args.root / "tests" / "fixtures" / "paste", name):
        print(f"paste fixture: {written}")
    for part in ("verify-quick-text.out", "accuracy.out"):
        text = (target / part).read_text() if (target / part).exists() else "(missing)"
        print(f"\n== {part} ==\n{text.rstrip()}")
    steps = (target / "steps.txt").read_text() if (target / "steps.txt").exists() else ""
    print("\n== steps ==\n" + steps.rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
