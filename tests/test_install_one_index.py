"""One index whatever the environment: the settings each installer reads, its argv, its environment.

pip runs for real in tests/test_install_verify.py; uv and conda are not installed here, so their
argument lists and environments are checked as built, and the config readers against real files.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List

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
from gpusetup.install.installers import Conda, Pip, Target, Uv, base_env
from gpusetup.install.resolve import Machine, Plan, Request, resolve
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


def indexes_in(argv: List[str]) -> List[str]:
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
    assert indexes_in(argv) == ["--index-url"] and argv[-1] == plan_241.index_url


def test_uv_argv_has_no_config_native_tls_and_one_index(plan_260: Plan) -> None:
    settings = NetSettings((Kept("native-tls", "true", "uv.toml"),))
    argv = Uv().argv("/usr/bin/uv", Target("/venv/bin/python", "/venv", False), plan_260, settings)
    assert argv[:5] == ["/usr/bin/uv", "pip", "install", "--no-config", "--native-tls"]
    assert indexes_in(argv) == ["--index-url"] and argv[-1] == plan_260.index_url


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


def test_pip_config_file_devnull_is_no_file_not_an_ignored_source(tmp_path: Path) -> None:
    """pip reads PIP_CONFIG_FILE=/dev/null as "no config file": nothing there could add a source."""
    env = {"HOME": str(tmp_path), "XDG_CONFIG_DIRS": str(tmp_path / "none")}
    quiet = pip_settings({**env, "PIP_CONFIG_FILE": os.devnull}, str(tmp_path))
    assert not [i for i in quiet.ignored if i.name == "config-file"]
    other = tmp_path / "other.conf"
    other.write_text("[global]\nextra-index-url = https://example.invalid/simple\n")
    loud = pip_settings({**env, "PIP_CONFIG_FILE": str(other)}, str(tmp_path))
    assert [i for i in loud.ignored if i.name == "config-file"]
