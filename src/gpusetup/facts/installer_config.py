"""What the user's pip, uv and conda configuration says, read with each tool's own file rules.

install keeps only how to reach an index (proxy, certificates, timeout, retries) and passes that
explicitly; every other setting, any that could add a package source above all, is reported as ignored.
Facts only: files and variables in, NetSettings out; nothing here runs a program.
"""

from __future__ import annotations

import configparser
import importlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

import yaml

_MAX_BYTES = 1 << 20  # a config file is small; a bigger one (or /dev/zero) is not read
# pip options kept, by pip's normalised name (default-timeout is an alias of timeout).
_PIP_KEPT = {
    "proxy": "proxy",
    "cert": "cert",
    "client-cert": "client-cert",
    "timeout": "timeout",
    "default-timeout": "timeout",
    "retries": "retries",
}
_UV_ENV_KEPT = {
    "UV_NATIVE_TLS": "native-tls",
    "UV_HTTP_TIMEOUT": "http-timeout",
    "UV_REQUEST_TIMEOUT": "http-timeout",
    "UV_HTTP_RETRIES": "http-retries",
}
_CONDA_KEPT = (
    "proxy_servers",
    "ssl_verify",
    "client_ssl_cert",
    "client_ssl_cert_key",
    "remote_connect_timeout_secs",
    "remote_read_timeout_secs",
    "remote_max_retries",
)
# Settings through which an installer would take packages from somewhere else than the plan's index.
SOURCE_SETTINGS = frozenset(
    {
        "index-url",
        "extra-index-url",
        "find-links",
        "no-index",
        "constraint",
        "constraints",
        "requirement",
        "requirements",
        "editable",
        "index",
        "default-index",
        "override",
        "overrides",
        "channels",
        "default_channels",
        "channel_alias",
        "custom_channels",
        "custom_multichannels",
        "pkgs_dirs",
        "config-file",
        "build-constraint",
    }
)


@dataclass(frozen=True)
class Kept:
    """A network setting passed to the installer explicitly."""

    name: str  # the installer's own name: cert, proxy, native-tls, proxy_servers
    value: str
    source: str  # /etc/pip.conf [global], PIP_CERT, ~/.condarc


@dataclass(frozen=True)
class Ignored:
    """A setting the installer would have read that install leaves out."""

    name: str
    source: str

    @property
    def adds_source(self) -> bool:
        return (
            self.name.lower().replace("_", "-") in SOURCE_SETTINGS or self.name in SOURCE_SETTINGS
        )


@dataclass(frozen=True)
class NetSettings:
    kept: Tuple[Kept, ...] = ()
    ignored: Tuple[Ignored, ...] = ()

    def value(self, name: str) -> Optional[str]:
        """The winning value of a kept setting: the last one read, as each installer's own rules."""
        for kept in reversed(self.kept):
            if kept.name == name:
                return kept.value
        return None

    def effective(self) -> Dict[str, Kept]:
        return {k.name: k for k in self.kept}


@dataclass
class _Collect:
    kept: Dict[str, Kept] = field(default_factory=dict)  # later sources replace earlier ones
    ignored: List[Ignored] = field(default_factory=list)

    def keep(self, name: str, value: str, source: str) -> None:
        self.kept.pop(name, None)
        self.kept[name] = Kept(name, value, source)

    def done(self) -> NetSettings:
        return NetSettings(tuple(self.kept.values()), tuple(self.ignored))


def read_small(path: str) -> Optional[str]:
    """A regular file's text, or None: a FIFO, a device or a huge file is never read."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_BYTES:
            return None
        try:
            return handle.read(_MAX_BYTES).decode("utf-8", errors="replace")
        except OSError:
            return None


# ---- pip -------------------------------------------------------------------------------------


def pip_files(environ: Mapping[str, str], prefix: str) -> List[str]:
    """pip's config files, lowest precedence first: global, user, site (the target's), PIP_CONFIG_FILE."""
    env_file = environ.get("PIP_CONFIG_FILE")
    if env_file == os.devnull:
        return []  # pip's own rule: os.devnull there means no config file at all
    home = environ.get("HOME", os.path.expanduser("~"))
    xdg_dirs = environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    files = [os.path.join(d, "pip", "pip.conf") for d in xdg_dirs.split(os.pathsep) if d]
    files.append("/etc/pip.conf")
    if not (env_file and os.path.exists(env_file)):  # pip skips user files when that one exists
        config_home = environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
        files += [
            os.path.join(home, ".pip", "pip.conf"),
            os.path.join(config_home, "pip", "pip.conf"),
        ]
    files.append(os.path.join(prefix, "pip.conf"))
    if env_file:
        files.append(env_file)
    return files


def _pip_name(key: str) -> str:
    name = key.lower().replace("_", "-")
    return name[2:] if name.startswith("--") else name


def pip_settings(environ: Mapping[str, str], prefix: str) -> NetSettings:
    """pip's network settings: [global] then [install] of each file in order, then PIP_* variables."""
    found = _Collect()
    for path in pip_files(environ, prefix):
        text = read_small(path)
        if text is None:
            continue
        parser = configparser.RawConfigParser()
        try:
            parser.read_string(text, source=path)
        except configparser.Error:
            found.ignored.append(Ignored("(unparsable file)", path))
            continue
        for section in ("global", "install"):
            if parser.has_section(section):
                for key, value in parser.items(section):
                    _pip_option(found, _pip_name(key), value, f"{path} [{section}]")
    for variable in sorted(environ):
        if variable.startswith("PIP_") and variable != "PIP_CONFIG_FILE":
            _pip_option(found, _pip_name(variable[4:]), environ[variable], variable)
    if environ.get("PIP_CONFIG_FILE") not in (None, "", os.devnull):  # os.devnull: no file at all
        found.ignored.append(Ignored("config-file", "PIP_CONFIG_FILE"))
    return found.done()


def _pip_option(found: _Collect, name: str, value: str, source: str) -> None:
    if name in _PIP_KEPT and value.strip():
        found.keep(_PIP_KEPT[name], value.strip(), source)
    else:
        found.ignored.append(Ignored(name, source))


# ---- uv --------------------------------------------------------------------------------------


def uv_files(environ: Mapping[str, str], cwd: str) -> List[Tuple[str, str]]:
    """(path, table) pairs uv would read, lowest precedence first: system, user, then the project."""
    if environ.get("UV_CONFIG_FILE"):
        return [(environ["UV_CONFIG_FILE"], "")]
    if environ.get("UV_NO_CONFIG", "").lower() in ("1", "true", "yes", "on"):
        return []
    home = environ.get("HOME", os.path.expanduser("~"))
    files: List[Tuple[str, str]] = []
    xdg_dirs = [d for d in (environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep) if d]
    system = [os.path.join(d, "uv", "uv.toml") for d in xdg_dirs] + ["/etc/uv/uv.toml"]
    files += [(p, "") for p in system if os.path.isfile(p)][:1]
    config_home = environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    files.append((os.path.join(config_home, "uv", "uv.toml"), ""))
    project = _uv_project_file(Path(cwd))
    if project is not None:
        files.append(project)
    return files


def _uv_project_file(start: Path) -> Optional[Tuple[str, str]]:
    for directory in [start, *start.parents]:
        if (directory / "uv.toml").is_file():
            return (str(directory / "uv.toml"), "")
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and "[tool.uv" in (read_small(str(pyproject)) or ""):
            return (str(pyproject), "tool.uv")
    return None


def _toml(text: str) -> Optional[Dict[str, Any]]:
    """Parsed TOML, or None (bad TOML, or Python 3.9/3.10, whose stdlib has no TOML reader)."""
    try:
        tomllib = importlib.import_module("tomllib")  # Python 3.11+
    except ImportError:  # pragma: no cover
        return None
    try:
        data = tomllib.loads(text)
    except ValueError:  # TOMLDecodeError is a ValueError
        return None
    return data if isinstance(data, dict) else None


def uv_settings(environ: Mapping[str, str], cwd: str) -> NetSettings:
    """uv's network settings: native-tls from its config files, then UV_* variables (which win)."""
    found = _Collect()
    for path, table in uv_files(environ, cwd):
        text = read_small(path)
        if text is None:
            continue
        data = _toml(text)
        for part in table.split(".") if table and data is not None else ():
            data = data.get(part) if isinstance(data, dict) else None
        if not isinstance(data, dict):
            found.ignored.append(Ignored("(unreadable TOML)", path))
            continue
        source = f"{path} [{table}]" if table else path
        for key, value in _flatten(data):
            if key == "native-tls" and isinstance(value, bool):
                found.keep("native-tls", "true" if value else "false", source)
            else:
                found.ignored.append(Ignored(key, source))
    for variable in sorted(environ):
        if variable in _UV_ENV_KEPT and environ[variable].strip():
            found.keep(_UV_ENV_KEPT[variable], environ[variable].strip(), variable)
        elif variable.startswith("UV_"):
            found.ignored.append(Ignored(variable[3:].lower().replace("_", "-"), variable))
    return found.done()


def _flatten(data: Mapping[str, Any]) -> Iterator[Tuple[str, Any]]:
    """uv.toml keys, with its [pip] table's own keys named plainly (index-url under [pip] too)."""
    for key, value in data.items():
        if key == "pip" and isinstance(value, dict):
            yield from value.items()
        else:
            yield key, value


# ---- conda -----------------------------------------------------------------------------------


def conda_files(environ: Mapping[str, str], conda_root: str, prefix: str) -> List[str]:
    """conda's search path, lowest precedence first (conda.base.constants.SEARCH_PATH)."""
    home = environ.get("HOME", os.path.expanduser("~"))
    config_home = environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    bases = ["/etc/conda", "/var/lib/conda"]
    if conda_root:
        bases.append(conda_root)
    bases += [os.path.join(config_home, "conda"), os.path.join(home, ".config", "conda")]
    bases.append(os.path.join(home, ".conda"))
    files: List[str] = []
    for base in dict.fromkeys(bases):
        files += [os.path.join(base, ".condarc"), os.path.join(base, "condarc")]
        files += sorted(str(p) for p in Path(base, "condarc.d").glob("*.y*ml"))
    files.append(os.path.join(home, ".condarc"))
    files += [os.path.join(prefix, ".condarc"), os.path.join(prefix, "condarc")]
    if environ.get("CONDARC"):
        files.append(environ["CONDARC"])
    return files


def conda_settings(environ: Mapping[str, str], conda_root: str, prefix: str) -> NetSettings:
    """conda's network settings (proxy_servers, ssl_verify, client certs, timeouts, retries)."""
    found = _Collect()
    for path in conda_files(environ, conda_root, prefix):
        text = read_small(path)
        if text is None:
            continue
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            found.ignored.append(Ignored("(unparsable YAML)", path))
            continue
        for key, value in (data or {}).items() if isinstance(data, dict) else ():
            _conda_option(found, str(key), value, path)
    for variable in sorted(environ):
        if variable.startswith("CONDA_"):
            key = variable[6:].lower()
            if key in _CONDA_KEPT and key != "proxy_servers":
                _conda_option(found, key, environ[variable], variable)
            elif variable not in ("CONDA_PREFIX", "CONDA_DEFAULT_ENV", "CONDA_SHLVL"):
                found.ignored.append(Ignored(key, variable))
    return found.done()


def _conda_option(found: _Collect, key: str, value: object, source: str) -> None:
    if key == "proxy_servers" and isinstance(value, dict):
        for scheme, url in value.items():
            if isinstance(url, str) and url.strip():
                found.keep(f"proxy_servers.{scheme}", url.strip(), source)
    elif key in _CONDA_KEPT and isinstance(value, (str, int, float, bool)):
        text = str(value).lower() if isinstance(value, bool) else str(value)
        found.keep(key, text, source)
    else:
        found.ignored.append(Ignored(key, source))
