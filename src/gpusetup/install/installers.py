"""One strategy per installer (pip, uv, conda): its argument list and the environment it runs in.

The environment is built from an allow-list (how to find programs, the user, the locale, how to reach
the network), never by deleting known names: no PIP_*, UV_* or CONDA_* variable, config file,
constraints or requirements file reaches the installer, so the plan's index is the only package source.
The network settings the user's config holds are passed back explicitly. Pure: no I/O.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Dict, List, Mapping, Protocol, Sequence, Tuple

import yaml

from gpusetup.errors import UsageError
from gpusetup.facts.installer_config import NetSettings
from gpusetup.install.resolve import Plan
from gpusetup.plumbing.codec import TextEnum

CONDA_CHANNEL_BASE = "https://conda.anaconda.org"  # a full URL is immune to channel_alias

# Variables every installer keeps: finding programs, the user's home (netrc, caches), the locale.
_KEEP = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "LANG",
        "LANGUAGE",
        "TERM",
        "TZ",
        "TMPDIR",
        "NO_COLOR",
        "FORCE_COLOR",
        "XDG_CACHE_HOME",
        "SYSTEMROOT",
        "COMSPEC",
        "PATHEXT",
        "WINDIR",
        "TEMP",
        "TMP",
        "USERPROFILE",
        "APPDATA",
        "LOCALAPPDATA",
    }
)
# How to reach an index: proxies and certificate bundles, read by pip (requests), uv and conda alike.
NETWORK_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "SSL_CLIENT_CERT",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
)


class InstallerKind(TextEnum):
    PIP = "pip"
    UV = "uv"
    CONDA = "conda"


@dataclass(frozen=True)
class Target:
    """The environment to install into."""

    python: str
    prefix: str
    conda: bool  # a conda environment (conda-meta/ in its prefix)


class Installer(Protocol):
    """What each strategy knows: its argument list and its environment."""

    kind: InstallerKind

    def argv(self, tool: str, target: Target, plan: Plan, settings: NetSettings) -> List[str]: ...

    def env(
        self, environ: Mapping[str, str], settings: NetSettings, scratch: str
    ) -> Dict[str, str]: ...


def redact(text: str) -> str:
    """A URL's user:password (a proxy's, an index's) is never printed."""
    return re.sub(r"(://)[^/@\s]+@", r"\1***@", text)


def base_env(environ: Mapping[str, str]) -> Dict[str, str]:
    """The allow-listed part of the caller's environment; everything else is left out."""
    return {
        k: v
        for k, v in environ.items()
        if k in _KEEP or k in NETWORK_VARIABLES or k.startswith("LC_")
    }


def kept_variables(environ: Mapping[str, str]) -> List[Tuple[str, str]]:
    """The network variables that pass to the installer (for the plan's list of what was kept)."""
    return [(k, environ[k]) for k in NETWORK_VARIABLES if environ.get(k)]


class Pip:
    """python -m pip install ... --index-url URL, with no config file and no PIP_* variable."""

    kind = InstallerKind.PIP
    _FLAGS = (("proxy", "--proxy"), ("cert", "--cert"), ("client-cert", "--client-cert"))
    _NUMBERS = (("timeout", "--timeout"), ("retries", "--retries"))

    def argv(self, tool: str, target: Target, plan: Plan, settings: NetSettings) -> List[str]:
        flags: List[str] = []
        for name, flag in (*self._FLAGS, *self._NUMBERS):
            value = settings.value(name)
            if value is not None:
                flags += [flag, value]
        return [
            target.python,
            "-m",
            "pip",
            "install",
            *flags,
            *plan.requirements,
            "--index-url",
            plan.index_url,
        ]

    def env(
        self, environ: Mapping[str, str], settings: NetSettings, scratch: str
    ) -> Dict[str, str]:
        env = base_env(environ)
        env["PIP_CONFIG_FILE"] = os.devnull  # pip's own switch: read no config file at all
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        return env


class Uv:
    """uv pip install --no-config ... --index-url URL, with no UV_* variable but the kept ones."""

    kind = InstallerKind.UV
    _ENV = (("http-timeout", "UV_HTTP_TIMEOUT"), ("http-retries", "UV_HTTP_RETRIES"))

    def argv(self, tool: str, target: Target, plan: Plan, settings: NetSettings) -> List[str]:
        tls = ["--native-tls"] if settings.value("native-tls") in ("true", "1", "yes", "on") else []
        return [
            tool,
            "pip",
            "install",
            "--no-config",
            *tls,
            "--python",
            target.python,
            *plan.requirements,
            "--index-url",
            plan.index_url,
        ]

    def env(
        self, environ: Mapping[str, str], settings: NetSettings, scratch: str
    ) -> Dict[str, str]:
        env = base_env(environ)
        env["UV_NO_CONFIG"] = "1"
        for name, variable in self._ENV:
            value = settings.value(name)
            if value is not None:
                env[variable] = value
        return env


class Conda:
    """conda install --override-channels -c URL ..., CONDARC pointing at a file of the kept settings."""

    kind = InstallerKind.CONDA

    def argv(self, tool: str, target: Target, plan: Plan, settings: NetSettings) -> List[str]:
        if not target.conda:
            raise UsageError(
                f"--installer conda: {target.python} is not in a conda environment ({target.prefix} has no conda-meta/)",
                "pass --python with a conda environment's python, or use --installer pip",
            )
        if plan.conda is None:
            raise UsageError(
                f"--installer conda: no conda build of torch {plan.torch} {plan.variant}",
                "use --installer pip",
            )
        channels, specs = split_conda(plan.conda)
        urls = [c if "://" in c else f"{CONDA_CHANNEL_BASE}/{c}" for c in channels]
        return [
            tool,
            "install",
            "-y",
            "--prefix",
            target.prefix,
            "--override-channels",
            *[a for url in urls for a in ("-c", url)],
            *specs,
            *plan.pins,
        ]

    def env(
        self, environ: Mapping[str, str], settings: NetSettings, scratch: str
    ) -> Dict[str, str]:
        env = base_env(environ)
        env["CONDARC"] = os.path.join(scratch, "condarc.yml")  # written by condarc_text
        return env

    @staticmethod
    def condarc_text(settings: NetSettings) -> str:
        """The only .condarc install adds: the kept network settings, nothing that names a channel."""
        data: Dict[str, object] = {}
        for name, kept in settings.effective().items():
            if name.startswith("proxy_servers."):
                servers = data.setdefault("proxy_servers", {})
                assert isinstance(servers, dict)
                servers[name.split(".", 1)[1]] = kept.value
            else:
                data[name] = _yaml_value(kept.value)
        return yaml.safe_dump(data, default_flow_style=False) if data else ""


def _yaml_value(text: str) -> object:
    """ssl_verify: false stays a boolean and a timeout a number (a string would be read as a path)."""
    if text in ("true", "false"):
        return text == "true"
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        return text


def split_conda(args: Sequence[str]) -> Tuple[List[str], List[str]]:
    """The plan's conda tail (specs and -c NAME pairs) as (channels, specs)."""
    channels = [args[i + 1] for i, a in enumerate(args) if a == "-c" and i + 1 < len(args)]
    specs = [a for i, a in enumerate(args) if a != "-c" and (i == 0 or args[i - 1] != "-c")]
    return channels, specs


STRATEGIES: Dict[InstallerKind, Installer] = {
    InstallerKind.PIP: Pip(),
    InstallerKind.UV: Uv(),
    InstallerKind.CONDA: Conda(),
}
