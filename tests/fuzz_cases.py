"""Hypothesis strategies for hostile input to the whole CLI, and the promise every case must keep.

Shared by the fast sample in the default suite (tests/test_fuzz_cli.py) and by the 10,000-case run
(benchmarks/fuzz_cli.py). A case is an argv plus the files it names; it breaks the promise when it
exits 4, raises out of the command (a traceback), writes a raw control character, or prints JSON that
strict JSON readers refuse. Cases never install anything (install always runs --dry-run) and never
run a benchmark (verify's interpreter is not a Python), so they are quick and harmless.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
FACTS_DIR = ROOT / "tests" / "fixtures" / "facts"
FACT_FILES = sorted(FACTS_DIR.glob("*.json"))
VERIFY_FILE = ROOT / "tests" / "fixtures" / "verify" / "handmade-h100-sxm-raw.json"
STACKS = (
    "schema: gpusetup.profiles/1\nkind: stacks\nstacks:\n  - name: NAME\n    torch: TORCH\n"
    "    cuda: CUDA\n    python: PYTHON\n    index_url: URL\n"
)

# Values that broke gpusetup once, or break programs like it: markup, escapes, NUL, surrogates,
# numbers at the edge of float and of int(), paths that are not files.
HOSTILE_TEXT = [
    "[/x]",
    "[bold red]x[/]",
    "[link=file:///etc/passwd]x[/link]",
    ":thumbs_up:",
    "\x1b[2J\x1b[H",
    "\x1b]0;title\x07",
    "\x1b]8;;http://e.example\x1b\\link\x1b]8;;\x1b\\",
    "a\rb",
    "\x9b31m",
    "\u202e evil",
    "x\x00y",
    "\ud800",
    "\udcff",
    "",
    " ",
    "-1",
    "0",
    "nan",
    "inf",
    "-inf",
    "1e999",
    "1e308",
    "9" * 5000,
    "1." + "9" * 5000,
    "é" * 300,
    "🙂" * 100,
    "a" * 10000,
    "$(touch /tmp/gpusetup-fuzz-pwned)",
    "'; rm -rf ~; '",
    "--help",
    "/dev/zero",
    "/dev/full",
    "/",
    "\n",
]
HOSTILE_VALUES: List[Any] = [
    *HOSTILE_TEXT,
    None,
    True,
    False,
    -1,
    0,
    2**63,
    -(2**63) - 1,
    10**4000,
    1e308,
    -1e308,
    float("nan"),
    float("inf"),
    [],
    {},
    [[[]]],
    {"a": {"b": []}},
    3.5,
]

hostile_text = st.one_of(
    st.sampled_from(HOSTILE_TEXT),
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8"), min_size=100, max_size=3000),
    st.builds(lambda a, b: a + b, st.sampled_from(HOSTILE_TEXT), st.text(max_size=10)),
)
hostile_value = st.one_of(
    st.sampled_from(HOSTILE_VALUES),
    hostile_text,
    st.integers(),
    st.floats(),
    st.lists(st.integers(), max_size=3),
)
# An option value: the ones above, plus numbers written as text.
option_value = st.one_of(
    hostile_text,
    st.floats().map(repr),
    st.integers().map(str),
    st.sampled_from(["0.5", "1", "2.4.1", "cu121", "sm_90", "3.10", "bf16=500", "12.4", "cpu"]),
)


def _leaves(data: Any, path: Tuple[Any, ...] = ()) -> List[Tuple[Any, ...]]:
    """Every path into data, inner nodes included (replacing a whole dict is a case too)."""
    paths = [path] if path else []
    if isinstance(data, dict):
        for key, value in data.items():
            paths += _leaves(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            paths += _leaves(value, (*path, i))
    return paths


def _set(data: Any, path: Tuple[Any, ...], value: Any) -> Any:
    result = copy.deepcopy(data)
    target = result
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return result


_JSON_CACHE: Dict[Path, Any] = {}


def _json(path: Path) -> Any:
    if path not in _JSON_CACHE:
        _JSON_CACHE[path] = json.loads(path.read_text())
    return _JSON_CACHE[path]


@st.composite
def mutated_json(draw: Callable[..., Any], base: Any) -> Any:
    """base with one to three values replaced by hostile ones."""
    data = base
    paths = _leaves(base)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        with contextlib.suppress(KeyError, IndexError, TypeError):  # a change removed the path
            data = _set(data, path, draw(hostile_value))
    return data


def _dump(data: Any) -> bytes:
    return json.dumps(data).encode("utf-8")


# Whole files that are not what any decoder expects.
RAW_FILES: List[bytes] = [
    b"",
    b"\xff\xfe\x00",
    b"\xef\xbb\xbf{}",
    b"[" * 5000 + b"]" * 5000,
    b'{"a":' * 3000 + b"1" + b"}" * 3000,
    b"NaN",
    b'{"schema": "gpusetup.facts/1", "gpus": [{"index": 1e999}]}',
    b'{"schema": "gpusetup.verify/1", "results": [{"value": NaN, "gpu": 0}]}',
    b'{"schema": "gpusetup.doctor/1", "facts": []}',
    b'{"schema": "gpusetup.verify/1", "results": {"gpu": 0}}',
    b'{"schema": ["gpusetup.verify/1"]}',
    b'{"schema": "gpusetup.facts/1", "host": {"hostname": "' + b"9" * 5000 + b'"}}',
    b"1" * 5000,
    b"\x00" * 100,
]
SPECIAL_PATHS = ["FIFO", "DEVZERO", "DIR", "MISSING"]


@st.composite
def facts_file(draw: Callable[..., Any]) -> Any:
    """A facts file: a mutated fixture, a raw hostile file, or a special path."""
    kind = draw(st.sampled_from(["mutated", "mutated", "mutated", "raw", "special"]))
    if kind == "raw":
        return draw(st.sampled_from(RAW_FILES))
    if kind == "special":
        return draw(st.sampled_from(SPECIAL_PATHS))
    return _dump(draw(mutated_json(_json(draw(st.sampled_from(FACT_FILES))))))


@st.composite
def report_file(draw: Callable[..., Any]) -> Any:
    kind = draw(st.sampled_from(["verify", "verify", "doctor", "raw", "special"]))
    if kind == "raw":
        return draw(st.sampled_from(RAW_FILES))
    if kind == "special":
        return draw(st.sampled_from(SPECIAL_PATHS))
    if kind == "doctor":
        return _dump(draw(mutated_json(_json(draw(st.sampled_from(FACT_FILES))))))
    verify = {"schema": "gpusetup.verify/1", "host": "node-a", "passed": True, **_json(VERIFY_FILE)}
    verify["devices"] = [{"gpu": 0, "name": "NVIDIA H100 80GB HBM3", "torch": "2.4.1+cu124"}]
    return _dump(draw(mutated_json(verify)))


@st.composite
def profile_file(draw: Callable[..., Any]) -> Any:
    kind = draw(st.sampled_from(["stacks", "stacks", "stacks", "raw", "special"]))
    if kind == "raw":
        return draw(st.sampled_from([*RAW_FILES, b"a: &a [*a]", b"x: !!python/object:os.system x"]))
    if kind == "special":
        return draw(st.sampled_from(SPECIAL_PATHS))
    text = STACKS
    for slot in ("NAME", "TORCH", "CUDA", "PYTHON", "URL"):
        value = draw(st.one_of(st.sampled_from(["x", "2.4.1", "cu121", "3.11"]), hostile_value))
        text = text.replace(slot, json.dumps(value, ensure_ascii=False))
    return text.encode("utf-8", "surrogatepass")


@dataclass
class Case:
    """One CLI invocation: argv with FILE<n>/DIR<n> placeholders, and what each holds."""

    argv: List[str]
    files: Dict[str, Any] = field(default_factory=dict)  # FILE0 -> bytes or a SPECIAL_PATHS name
    dirs: Dict[str, Any] = field(default_factory=dict)  # DIR0 -> contents of DIR0/fuzz.yaml


def _flags(draw: Callable[..., Any], names: List[str]) -> List[str]:
    return [n for n in names if draw(st.booleans())]


def _options(draw: Callable[..., Any], names: List[str]) -> List[str]:
    argv: List[str] = []
    for name in names:
        if draw(st.integers(0, 3)) == 0:
            argv += [name, draw(option_value)]
    return argv


@st.composite
def doctor_case(draw: Callable[..., Any]) -> Case:
    case = Case(["doctor", "--facts", "FILE0"], files={"FILE0": draw(facts_file())})
    case.argv += _flags(draw, ["--json", "--strict", "--no-probe", "--list-checks"])
    if draw(st.booleans()):
        case.argv += ["--ignore", draw(st.one_of(option_value, st.just("power-capped")))]
    if draw(st.integers(0, 3)) == 0:
        case.argv += ["--profiles", "DIR0"]
        case.dirs["DIR0"] = draw(profile_file())
    case.argv += _options(draw, ["--timeout", "--python"])
    return case


@st.composite
def report_case(draw: Callable[..., Any]) -> Case:
    count = draw(st.integers(1, 3))
    case = Case(["report", *[f"FILE{i}" for i in range(count)]])
    for i in range(count):
        case.files[f"FILE{i}"] = draw(report_file())
    case.argv += draw(st.sampled_from([[], ["--json"], ["--markdown"]]))
    case.argv += _options(draw, ["--threshold"])
    return case


@st.composite
def install_case(draw: Callable[..., Any]) -> Case:
    case = Case(["install", "--dry-run", "--python-version", "3.11", "--driver", "550.54.15"])
    case.argv += _flags(draw, ["--json", "--explain", "--print"])
    names = ["--torch", "--cuda", "--packages", "--installer", "--format", "--driver", "--arch"]
    case.argv += _options(
        draw, [*names, "--python-version", "--platform", "--profile", "--constraints"]
    )
    if draw(st.integers(0, 2)) == 0:
        case.argv += ["--profiles", "DIR0"]
        case.dirs["DIR0"] = draw(profile_file())
    return case


@st.composite
def verify_case(draw: Callable[..., Any]) -> Case:
    # --python names a file that is not a Python: no benchmark ever starts.
    case = Case(["verify", "--python", "FILE0"], files={"FILE0": b"not a python\n"})
    case.argv += _flags(draw, ["--json", "--full", "--quick", "--collectives"])
    names = ["--device", "--dtype", "--min-fraction", "--min-tflops", "--timeout", "--junit"]
    case.argv += _options(draw, names)
    return case


@st.composite
def profiles_case(draw: Callable[..., Any]) -> Case:
    which = draw(st.sampled_from(["validate", "list", "show"]))
    case = Case(["profiles", which], dirs={"DIR0": draw(profile_file())})
    if which == "validate":
        case.argv.append("DIR0")
    else:
        case.argv += ["--profiles", "DIR0"]
    if which == "show":
        case.argv.append(draw(st.one_of(st.just("2.4.1"), option_value)))
    return case


@st.composite
def argv_case(draw: Callable[..., Any]) -> Case:
    """Plain hostile argv: unknown options, hostile values where a command expects names."""
    command = draw(st.sampled_from(["doctor", "install", "verify", "report", "profiles", "x"]))
    words = draw(
        st.lists(st.one_of(option_value, st.sampled_from(["--json", "--debug"])), max_size=3)
    )
    return Case([command, "--" + draw(st.sampled_from(["bogus", "json", "help"])), *words])


any_case = st.one_of(
    doctor_case(), report_case(), install_case(), verify_case(), profiles_case(), argv_case()
)


@contextlib.contextmanager
def inside(where: Path) -> Iterator[None]:
    """Run a case with where as the working directory: a relative output path lands there."""
    previous = os.getcwd()
    os.chdir(where)
    try:
        yield
    finally:
        os.chdir(previous)


def materialise(case: Case, where: Path) -> List[str]:
    """Write the case's files under where; return argv with the placeholders replaced."""
    paths: Dict[str, str] = {}
    for name, content in case.files.items():
        paths[name] = _special(where, name, content, ".json")
    for name, content in case.dirs.items():
        directory = where / name
        directory.mkdir()
        _special(directory, "fuzz", content, ".yaml")
        paths[name] = str(directory)
    return [paths.get(arg, arg) for arg in case.argv]


def _special(where: Path, name: str, content: Any, suffix: str) -> str:
    path = where / f"{name}{suffix}"
    if content == "FIFO":
        os.mkfifo(path)
    elif content == "DEVZERO":
        path.symlink_to("/dev/zero")
    elif content == "DIR":
        path.mkdir()
    elif content != "MISSING":
        path.write_bytes(content)
    return str(path)


# Raw C0/C1 controls but newline: a leak of data into the terminal. Outputs are captured without a
# terminal, so rich writes no escape sequences of its own.
_RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def broken_promise(exit_code: int, stdout: str, stderr: str, json_out: bool) -> Optional[str]:
    """Why an outcome breaks gpusetup's promises, or None when it keeps them."""
    if exit_code == 4 or "internal error" in stderr:
        return "exit 4: " + stderr.strip()[-300:]
    if "Traceback (most recent call last)" in stdout + stderr:
        return "traceback: " + (stdout + stderr)[-300:]
    if exit_code not in (0, 1, 2, 3):
        return f"exit {exit_code}"
    leak = _RAW_CONTROL.search(stdout + stderr)
    if leak:
        return f"raw control character {leak.group()!r} written"
    if json_out and exit_code in (0, 1) and stdout.lstrip().startswith("{"):
        try:
            json.loads(stdout, parse_constant=_refuse)
        except ValueError as err:
            return f"not strict JSON: {err}"
    return None


def _refuse(name: str) -> None:
    raise ValueError(f"{name} in JSON output")


def real_argv(argv: List[str]) -> List[bytes]:
    """argv as a real process can receive it: bytes, no NUL (a surrogate becomes its UTF-8 form)."""
    return [a.replace("\x00", "").encode("utf-8", "surrogatepass") for a in argv]
