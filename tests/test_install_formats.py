"""One index in every output format, usage errors before any work, and the plan's list of settings."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Dict, List

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gpusetup.cli import app
from gpusetup.install.plan import OutputFormat
from tests.conftest import make_runner
from tests.test_install_one_index import EVIL, PLANNING, indexes_in

runner = make_runner()


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ---- every output format carries exactly one index ---------------------------------------------


def _out(args: List[str]) -> str:
    result = runner.invoke(app, ["install", "--dry-run", *PLANNING, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("torch", ["2.0.1", "2.4.1", "2.6.0"])
@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_command_format_has_one_index(torch: str, installer: str) -> None:
    argv = shlex.split(
        _out(["--torch", torch, "--cuda", "cu118", "--installer", installer, "--print"])
    )
    assert indexes_in(argv) == ["--index-url"]
    assert argv[argv.index("--index-url") + 1] == "https://download.pytorch.org/whl/cu118"


@pytest.mark.parametrize("torch", ["2.0.1", "2.6.0"])
def test_requirements_format_has_one_index(torch: str) -> None:
    lines = _out(["--torch", torch, "--cuda", "cu118", "--format", "requirements"]).splitlines()
    options = [line.split()[0] for line in lines if line.startswith("-")]
    assert options == ["--index-url"] and all(len(line.split()) <= 2 for line in lines)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="parsed with tomllib (3.11+)")
@pytest.mark.parametrize("torch", ["2.0.1", "2.6.0"])
def test_uv_format_has_one_index_and_every_member_uses_it(torch: str) -> None:
    import tomllib

    text = _out(["--torch", torch, "--cuda", "cu118", "--format", "uv"])
    data = tomllib.loads(text)
    indexes = data["tool"]["uv"]["index"]
    assert len(indexes) == 1 and indexes[0]["explicit"] is True
    sources = data["tool"]["uv"]["sources"]
    assert set(sources) == {"torch", "torchvision", "torchaudio"}
    assert all(s == [{"index": indexes[0]["name"]}] for s in sources.values())


@pytest.mark.parametrize(("torch", "pip_indexes"), [("2.4.1", 0), ("2.6.0", 1)])
def test_conda_format_has_one_source_for_the_family(torch: str, pip_indexes: int) -> None:
    data = yaml.safe_load(
        _out(
            [
                "--torch",
                torch,
                "--cuda",
                "cu121" if torch == "2.4.1" else "cu126",
                "--format",
                "conda",
            ]
        )
    )
    assert data["channels"][-1] == "nodefaults"
    assert all(c.startswith("https://conda.anaconda.org/") for c in data["channels"][:-1])
    pip: List[str] = next((d["pip"] for d in data["dependencies"] if isinstance(d, dict)), [])
    options = [p.split()[0] for p in pip if p.startswith("-")]
    assert options == ["--index-url"] * pip_indexes
    if pip_indexes == 0:
        assert "torchvision==0.19.1" in data["dependencies"]


@pytest.mark.parametrize(
    "url",
    [
        "https://mirror.local/whl\n--extra-index-url https://evil.example/simple",
        "https://mirror.local/whl --extra-index-url=https://evil.example",
        "https://mirror.local/whl\t",
        'https://mirror.local/"x',
        "https://mirror.local/\\x1b[2J",
        "http://mirror.local/whl",
        "ftp://mirror.local/whl",
        "file:relative/dir",
    ],
)
def test_a_stack_index_url_is_one_url(tmp_path: Path, url: str) -> None:
    (tmp_path / "site.yaml").write_text(
        "schema: gpusetup.profiles/1\nkind: stacks\nstacks:\n  - name: a\n    torch: '2.4.1'\n    cuda: cu121\n"
        f"    index_url: {json.dumps(url)}\n"
    )
    result = runner.invoke(
        app,
        [
            "install",
            "--dry-run",
            "--profiles",
            str(tmp_path),
            "--profile",
            "a",
            "--format",
            "requirements",
        ],
    )
    assert result.exit_code == 2, result.output
    assert (
        "site.yaml:7" in result.stderr
        and "must be an https:// URL (or file:///): one URL" in result.stderr
    )


# ---- usage errors, before any work ----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--torch", ""], "--torch: empty version"),
        (["--torch", "   "], "--torch: empty version"),
        (["--json", "--print"], "--json cannot be combined with --print"),
        (["--json", "--format", "uv"], "--json cannot be combined with --format"),
        (["--json", "--format", "command"], "--json cannot be combined with --format"),
        (["--constraints", "c.txt"], "--constraints cannot be combined with --dry-run"),
        (["--constraints", "."], "is a directory"),
        (["--constraints", "/dev/full"], "not a regular file"),
        (["--constraints", "/nonexistent/dir/c.txt"], "its directory does not exist"),
        (["--constraints", ""], "--constraints: empty path"),
    ],
)
def test_usage_errors_exit_2(
    args: List[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["install", "--dry-run", *PLANNING, *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "c.txt").exists()  # a dry run writes nothing


def test_print_with_constraints_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["install", *PLANNING, "--print", "--constraints", str(tmp_path / "c.txt")]
    )
    assert (
        result.exit_code == 2 and "--constraints cannot be combined with --print" in result.stderr
    )
    assert not (tmp_path / "c.txt").exists()


# ---- the plan says what was kept and what was ignored -------------------------------------------


def _hostile_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    _write(
        home / ".config/pip/pip.conf",
        f"[global]\nproxy = http://alice:s3cret@proxy.corp:3128\nextra-index-url = {EVIL}\n",
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("PIP_CONFIG_FILE", raising=False)
    monkeypatch.setenv("PIP_CONSTRAINT", "/srv/evil/c.txt")


def test_json_plan_lists_kept_and_ignored_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _hostile_home(tmp_path, monkeypatch)
    result = runner.invoke(app, ["install", "--dry-run", *PLANNING, "--installer", "pip", "--json"])
    assert result.exit_code == 0, result.output
    plan: Dict[str, object] = json.loads(result.stdout)
    settings = plan["settings"]
    assert isinstance(settings, dict)
    kept = {k["name"]: k for k in settings["kept"]}
    assert kept["proxy"]["value"] == "http://***@proxy.corp:3128"  # never the password
    ignored = {(i["name"], i["source"], i["adds_source"]) for i in settings["ignored"]}
    assert ("extra-index-url", f"{tmp_path}/home/.config/pip/pip.conf [global]", True) in ignored
    assert ("constraint", "PIP_CONSTRAINT", True) in ignored
    command = plan["command"]
    assert (
        isinstance(command, list)
        and "http://***@proxy.corp:3128" in command
        and "s3cret" not in result.stdout
    )


def test_human_plan_lists_kept_and_ignored_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _hostile_home(tmp_path, monkeypatch)
    result = runner.invoke(app, ["install", "--dry-run", *PLANNING, "--installer", "pip"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert "kept: proxy = http://***@proxy.corp:3128" in out
    assert "ignored: extra-index-url" in out and "would add a package source" in out
    assert "ignored: constraint (PIP_CONSTRAINT)" in out and "s3cret" not in out


@given(st.one_of(st.text(max_size=300), st.text(st.characters(max_codepoint=127), max_size=60)))
@settings(max_examples=300, deadline=None)
def test_an_accepted_index_url_cannot_carry_a_second_option(text: str) -> None:
    """Whatever string a profile holds, one that passes is a single token in every output format."""
    from gpusetup.profiles.stacks import check_index_url

    for url in (text, "https://mirror.local/" + text, "file:///" + text):
        try:
            check_index_url(url)
        except ValueError:
            continue
        assert url.startswith(("https://", "file:///")) and url.isprintable()
        assert not any(c.isspace() or c in '"\\<>`{}|^' for c in url)
        assert shlex.split(f"--index-url {url}") == ["--index-url", url]


@pytest.mark.parametrize("text", ["", " ", "\t\n"])
def test_the_resolver_refuses_an_empty_torch_request_too(text: str) -> None:
    """Not only the CLI: a blank version never means "the newest" anywhere."""
    from gpusetup.errors import UsageError
    from gpusetup.install.resolve import torch_spec

    with pytest.raises(UsageError, match="empty version"):
        torch_spec(text)


def test_redact_hides_every_password_in_a_line() -> None:
    from gpusetup.install.installers import redact

    line = "--proxy http://bob:pw@proxy:3128 --index-url https://tok@mirror/whl https://plain/x"
    assert (
        redact(line)
        == "--proxy http://***@proxy:3128 --index-url https://***@mirror/whl https://plain/x"
    )


@pytest.mark.parametrize("fmt", [f.value for f in OutputFormat])
def test_every_output_format_is_accepted_and_printed(fmt: str) -> None:
    """A format is one member of OutputFormat and one formatter: a member without one fails here."""
    out = _out(["--torch", "2.6.0", "--cuda", "cu118", "--format", fmt])
    assert out.strip() and "download.pytorch.org/whl/cu118" in out
