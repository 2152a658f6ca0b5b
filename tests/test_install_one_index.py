"""One index whatever the environment: the settings each installer reads, its argv, its environment.

pip runs for real in tests/test_install_verify.py; uv and conda are not installed here, so their
argument lists and environments are checked as built, and the config readers against real files.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import Dict, List

import pytest
import yaml

from gpusetup.cli import app
from gpusetup.facts.installer_config import (
    Kept,
    NetSettings,
    conda_settings,
    pip_files,
    pip_settings,
    uv_settings,
)
from gpusetup.installers import Conda, Pip, Target, Uv, base_env
from gpusetup.resolve import Machine, Plan, Request, resolve
from tests.conftest import make_runner

runner = make_runner()
EVIL = "file:///srv/evil/simple"
PLANNING = ["--driver", "550.54.15", "--arch", "sm_90", "--python-version", "3.11"]
HOSTILE = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/home/u",
    "HTTPS_PROXY": "http://proxy.corp:3128",
    "no_proxy": "localhost",
    "SSL_CERT_FILE": "/etc/ssl/corp.pem",
    "REQUESTS_CA_BUNDLE": "/etc/ssl/corp.pem",
    "PIP_EXTRA_INDEX_URL": EVIL,
    "PIP_INDEX_URL": EVIL,
    "PIP_FIND_LINKS": "/srv/evil",
    "PIP_CONSTRAINT": "/srv/evil/c.txt",
    "PIP_REQUIREMENT": "/srv/evil/r.txt",
    "PIP_CONFIG_FILE": "/srv/evil/pip.conf",
    "PIP_NO_INDEX": "1",
    "PIP_PRE": "1",
    "UV_CONFIG_FILE": "/srv/evil/uv.toml",
    "UV_CONSTRAINT": "/srv/evil/c.txt",
    "UV_OVERRIDE": "/srv/evil/o.txt",
    "UV_INDEX": EVIL,
    "UV_DEFAULT_INDEX": EVIL,
    "UV_EXTRA_INDEX_URL": EVIL,
    "UV_FIND_LINKS": EVIL,
    "UV_INDEX_STRATEGY": "unsafe-best-match",
    "CONDARC": "/srv/evil/condarc",
    "CONDA_CHANNELS": "evil",
    "CONDA_CHANNEL_ALIAS": "https://evil.example",
    "CONDA_PKGS_DIRS": "/srv/evil/pkgs",
    "PYTHONPATH": "/srv/evil/site",
    "PYTHONSTARTUP": "/srv/evil/start.py",
    "VIRTUAL_ENV": "/srv/evil/venv",
    "LC_ALL": "C.UTF-8",
}


@pytest.fixture(scope="module")
def plan_241(profiles: object) -> Plan:
    machine = Machine(python="3.11")
    return resolve(Request(torch="2.4.1", cuda="cu121"), machine, profiles)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def plan_260(profiles: object) -> Plan:
    machine = Machine(python="3.11")
    return resolve(Request(torch="2.6.0", cuda="cu126"), machine, profiles)  # type: ignore[arg-type]


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ---- the environment: an allow-list ------------------------------------------------------


@pytest.mark.parametrize("strategy", [Pip(), Uv(), Conda()], ids=["pip", "uv", "conda"])
def test_no_pip_uv_conda_or_python_variable_reaches_any_installer(strategy: object) -> None:
    env = strategy.env(HOSTILE, NetSettings(), "/tmp/scratch")  # type: ignore[attr-defined]
    prefixes = ("PIP_", "UV_", "CONDA", "PYTHON", "VIRTUAL")
    leaked = {k: v for k, v in env.items() if k.startswith(prefixes) and v == HOSTILE.get(k)}
    assert leaked == {}
    # only what gpusetup itself sets, beside the allow-listed variables
    own = {k for k in env if k not in HOSTILE}
    assert own <= {"PIP_CONFIG_FILE", "PIP_DISABLE_PIP_VERSION_CHECK", "UV_NO_CONFIG", "CONDARC"}
    for name in (
        "PATH",
        "HOME",
        "HTTPS_PROXY",
        "no_proxy",
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
        "LC_ALL",
    ):
        assert env[name] == HOSTILE[name]


def test_the_allow_list_is_not_a_deny_list() -> None:
    """A variable nobody has heard of yet (PIP_FUTURE_INDEX) is dropped like the known ones."""
    env = base_env({"PATH": "/bin", "PIP_FUTURE_INDEX": EVIL, "UV_SOMETHING_NEW": EVIL, "X": "1"})
    assert env == {"PATH": "/bin"}


def test_pip_env_reads_no_config_file() -> None:
    env = Pip().env(HOSTILE, NetSettings(), "/tmp/s")
    assert env["PIP_CONFIG_FILE"] == os.devnull


def test_uv_env_passes_the_kept_timeout_and_no_config() -> None:
    settings = NetSettings((Kept("http-timeout", "90", "UV_HTTP_TIMEOUT"),))
    env = Uv().env(HOSTILE, settings, "/tmp/s")
    assert env["UV_NO_CONFIG"] == "1" and env["UV_HTTP_TIMEOUT"] == "90"
    assert "UV_CONFIG_FILE" not in env and "UV_CONSTRAINT" not in env


def test_conda_env_points_condarc_into_the_scratch_directory() -> None:
    env = Conda().env(HOSTILE, NetSettings(), "/tmp/scratch")
    assert env["CONDARC"] == "/tmp/scratch/condarc.yml"
    assert not any(k.startswith("CONDA_") for k in env)


# ---- argument lists ------------------------------------------------------------------------


def _indexes(argv: List[str]) -> List[str]:
    """Every option through which pip, uv or conda would take a package from somewhere."""
    sources = {
        "--index-url",
        "-i",
        "--extra-index-url",
        "--find-links",
        "-f",
        "--default-index",
        "--index",
        "-c",
        "--channel",
        "--constraint",
        "-r",
        "--requirement",
    }
    return [a for a in argv if a.split("=")[0] in sources]


def test_pip_argv_passes_kept_settings_and_one_index(plan_241: Plan) -> None:
    settings = NetSettings(
        (
            Kept("proxy", "http://proxy:3128", "/etc/pip.conf [global]"),
            Kept("cert", "/etc/ssl/corp.pem", "PIP_CERT"),
            Kept("client-cert", "/etc/ssl/me.pem", "PIP_CLIENT_CERT"),
            Kept("timeout", "60", "PIP_DEFAULT_TIMEOUT"),
            Kept("retries", "9", "PIP_RETRIES"),
        )
    )
    argv = Pip().argv("", Target("/venv/bin/python", "/venv", False), plan_241, settings)
    assert argv[:4] == ["/venv/bin/python", "-m", "pip", "install"]
    assert argv[4:14] == [
        "--proxy",
        "http://proxy:3128",
        "--cert",
        "/etc/ssl/corp.pem",
        "--client-cert",
        "/etc/ssl/me.pem",
        "--timeout",
        "60",
        "--retries",
        "9",
    ]
    assert _indexes(argv) == ["--index-url"] and argv[-1] == plan_241.index_url


def test_uv_argv_has_no_config_native_tls_and_one_index(plan_260: Plan) -> None:
    settings = NetSettings((Kept("native-tls", "true", "uv.toml"),))
    argv = Uv().argv("/usr/bin/uv", Target("/venv/bin/python", "/venv", False), plan_260, settings)
    assert argv[:5] == ["/usr/bin/uv", "pip", "install", "--no-config", "--native-tls"]
    assert _indexes(argv) == ["--index-url"] and argv[-1] == plan_260.index_url


def test_conda_argv_overrides_channels_with_full_urls_and_pins_torchvision(plan_241: Plan) -> None:
    argv = Conda().argv(
        "/opt/conda/bin/conda",
        Target("/opt/conda/envs/a/bin/python", "/opt/conda/envs/a", True),
        plan_241,
        NetSettings(),
    )
    assert argv[:6] == [
        "/opt/conda/bin/conda",
        "install",
        "-y",
        "--prefix",
        "/opt/conda/envs/a",
        "--override-channels",
    ]
    channels = [argv[i + 1] for i, a in enumerate(argv) if a == "-c"]
    assert channels == ["https://conda.anaconda.org/pytorch", "https://conda.anaconda.org/nvidia"]
    assert (
        "pytorch==2.4.1" in argv and "torchvision==0.19.1" in argv and "torchaudio==2.4.1" in argv
    )


def test_conda_forge_argv_pins_every_member(plan_260: Plan) -> None:
    argv = Conda().argv("conda", Target("/c/bin/python", "/c", True), plan_260, NetSettings())
    assert "--override-channels" in argv
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "-c"] == [
        "https://conda.anaconda.org/conda-forge"
    ]
    assert {"pytorch==2.6.0", "torchvision==0.21.0", "torchaudio==2.6.0"} <= set(argv)
    assert not any(a in ("torchvision", "torchaudio") for a in argv)  # none left to the solver


def test_conda_refuses_a_target_that_is_not_a_conda_env(plan_241: Plan) -> None:
    from gpusetup.errors import UsageError

    with pytest.raises(UsageError, match="not in a conda environment"):
        Conda().argv("conda", Target("/venv/bin/python", "/venv", False), plan_241, NetSettings())


def test_cli_conda_into_a_venv_exits_2() -> None:
    result = runner.invoke(
        app,
        [
            "install",
            "--dry-run",
            *PLANNING,
            "--torch",
            "2.4.1",
            "--cuda",
            "cu121",
            "--installer",
            "conda",
        ],
    )
    assert result.exit_code == 2 and "not in a conda environment" in result.stderr


def test_condarc_holds_only_the_kept_network_settings() -> None:
    settings = NetSettings(
        (
            Kept("proxy_servers.https", "http://proxy:3128", "~/.condarc"),
            Kept("ssl_verify", "false", "CONDA_SSL_VERIFY"),
            Kept("remote_read_timeout_secs", "120.0", "~/.condarc"),
        )
    )
    data = yaml.safe_load(Conda.condarc_text(settings))
    assert data == {
        "proxy_servers": {"https": "http://proxy:3128"},
        "ssl_verify": False,
        "remote_read_timeout_secs": 120.0,
    }
    assert Conda.condarc_text(NetSettings()) == ""


# ---- reading the user's config, with each tool's own rules ------------------------------------


def test_pip_config_keeps_network_settings_and_lists_the_rest(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _write(
        home / ".config/pip/pip.conf",
        f"[global]\nproxy = http://u:p@proxy:3128\nextra-index-url = {EVIL}\ntimeout = 30\n[install]\ntimeout = 45\nfind_links = /srv/evil\n[freeze]\ntimeout = 1\n",
    )
    _write(tmp_path / "venv/pip.conf", "[global]\n--cert = /etc/ssl/site.pem\n")
    env = {
        "HOME": str(home),
        "XDG_CONFIG_DIRS": str(tmp_path / "none"),
        "PIP_DEFAULT_TIMEOUT": "99",
        "PIP_CONSTRAINT": "/srv/evil/c.txt",
    }
    found = pip_settings(env, str(tmp_path / "venv"))
    assert found.value("proxy") == "http://u:p@proxy:3128"
    assert found.value("cert") == "/etc/ssl/site.pem"  # the target's site file, "--cert" normalised
    assert (
        found.value("timeout") == "99"
    )  # a PIP_* variable beats every file; [install] beat [global]
    ignored = {(i.name, i.adds_source) for i in found.ignored}
    assert {("extra-index-url", True), ("find-links", True), ("constraint", True)} <= ignored


def test_pip_install_section_beats_global(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _write(home / ".config/pip/pip.conf", "[install]\nretries = 7\n[global]\nretries = 2\n")
    found = pip_settings({"HOME": str(home), "XDG_CONFIG_DIRS": str(tmp_path / "n")}, str(tmp_path))
    assert found.value("retries") == "7"


def test_pip_config_file_devnull_means_no_file(tmp_path: Path) -> None:
    assert pip_files({"PIP_CONFIG_FILE": os.devnull, "HOME": str(tmp_path)}, "/p") == []


def test_pip_config_file_that_exists_replaces_the_user_files(tmp_path: Path) -> None:
    conf = _write(tmp_path / "mine.conf", "[global]\ntimeout = 5\n")
    files = pip_files({"PIP_CONFIG_FILE": str(conf), "HOME": str(tmp_path)}, "/p")
    assert files[-1] == str(conf) and not any(".config/pip" in f for f in files)
    assert "/etc/pip.conf" in files and "/p/pip.conf" in files


def test_pip_config_that_is_not_a_regular_file_is_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.conf")
    found = pip_settings(
        {
            "PIP_CONFIG_FILE": str(tmp_path / "fifo.conf"),
            "HOME": str(tmp_path),
            "XDG_CONFIG_DIRS": str(tmp_path),
        },
        str(tmp_path),
    )
    assert [k for k in found.kept if "fifo" in k.source] == []


@pytest.mark.skipif(sys.version_info < (3, 11), reason="uv.toml is read with tomllib (3.11+)")
def test_uv_config_file_and_project(tmp_path: Path) -> None:
    conf = _write(
        tmp_path / "uv.toml",
        f'native-tls = true\nextra-index-url = ["{EVIL}"]\n[pip]\nindex-url = "{EVIL}"\n[[index]]\nurl = "{EVIL}"\n',
    )
    found = uv_settings(
        {
            "UV_CONFIG_FILE": str(conf),
            "UV_NO_CONFIG": "1",
            "UV_HTTP_TIMEOUT": "77",
            "UV_CONSTRAINT": "/c",
        },
        str(tmp_path),
    )
    assert found.value("native-tls") == "true" and found.value("http-timeout") == "77"
    ignored = {(i.name, i.adds_source) for i in found.ignored}
    assert {
        ("extra-index-url", True),
        ("index-url", True),
        ("index", True),
        ("constraint", True),
    } <= ignored
    project = tmp_path / "proj"
    _write(project / "pyproject.toml", "[project]\nname='x'\n[tool.uv]\nnative-tls = false\n")
    (project / "sub").mkdir()
    found = uv_settings(
        {"HOME": str(tmp_path / "h"), "XDG_CONFIG_DIRS": str(tmp_path / "n")}, str(project / "sub")
    )
    assert (
        found.value("native-tls") == "false" and "pyproject.toml [tool.uv]" in found.kept[0].source
    )


def test_uv_no_config_reads_no_file(tmp_path: Path) -> None:
    _write(tmp_path / "uv.toml", "native-tls = true\n")
    assert uv_settings({"UV_NO_CONFIG": "1"}, str(tmp_path)).kept == ()


def test_conda_settings_from_condarc_files_and_variables(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _write(
        home / ".condarc",
        "channels: [evil]\nchannel_alias: https://evil.example\nproxy_servers:\n  https: http://proxy:3128\nssl_verify: /etc/ssl/corp.pem\n",
    )
    rc = _write(
        tmp_path / "rc.yml",
        "remote_max_retries: 5\ncustom_channels: {pytorch: https://evil.example}\n",
    )
    env = {
        "HOME": str(home),
        "CONDARC": str(rc),
        "CONDA_SSL_VERIFY": "false",
        "CONDA_CHANNELS": "evil",
    }
    found = conda_settings(env, "", str(tmp_path / "env"))
    assert found.value("proxy_servers.https") == "http://proxy:3128"
    assert found.value("ssl_verify") == "false"  # the variable beats the file
    assert found.value("remote_max_retries") == "5"
    ignored = {(i.name, i.adds_source) for i in found.ignored}
    assert {("channels", True), ("channel_alias", True), ("custom_channels", True)} <= ignored


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
    assert _indexes(argv) == ["--index-url"]
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
    assert "site.yaml:7" in result.stderr and "one https:// or file:/// URL" in result.stderr


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
