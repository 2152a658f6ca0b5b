"""The torch.compile part of the torch probe: loaded by path from _torch_probe.py in the *target*
interpreter, never imported by gpusetup. Stdlib only, Python 3.8 compatible.

Each rule below is torch's or Triton's own, read from their sources:
- Inductor's C++ compiler: torch/_inductor/config.py `cpp.cxx = (None, os.environ.get("CXX", "g++"))`
  (clang++ on macOS), searched by cpp_builder.cpp_compiler_search: `[cxx, "--version"]` must run; the
  None entry (a conda gxx) is only tried with TORCH_INDUCTOR_INSTALL_GXX set.
- Triton's C compiler: python/triton/runtime/build.py `_build`: $CC, else gcc, else clang (shutil.which).
- Python.h: build.py takes sysconfig.get_paths(scheme)["include"], 'posix_local' read as 'posix_prefix'.
- libcuda: third_party/nvidia/backend/driver.py libcuda_dirs(): $TRITON_LIBCUDA_PATH, else the
  directories of `/sbin/ldconfig -p` lines naming libcuda.so.1, else LD_LIBRARY_PATH entries holding
  it; the launcher then links with -lcuda, which needs an unversioned libcuda.so.
- Caches: torch/_inductor/runtime/cache_dir_utils.py: $TORCHINDUCTOR_CACHE_DIR, else
  tempfile.gettempdir()/torchinductor_<user>; Triton's runtime/cache.py: $TRITON_CACHE_DIR, else
  ($TRITON_HOME or ~)/.triton/cache.
"""

import getpass
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time

LDCONFIG = os.environ.get("GPUSETUP_LDCONFIG", "/sbin/ldconfig")  # the seam tests swap a stub into


def _first_line(text):
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[0][:200] if lines else ""


def _compiler(name, via):
    """`name --version`, the test cpp_compiler_search applies: runs or not, and why not."""
    out = {"name": name or "", "via": via if name else "", "path": None, "runs": None}
    if not name:
        return out
    out["path"] = shutil.which(name)
    try:
        done = subprocess.run(
            [name, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20
        )
    except (OSError, subprocess.SubprocessError) as err:
        out["runs"], out["error"] = False, "%s: %s" % (type(err).__name__, err)
        return out
    text = done.stdout.decode("utf-8", "replace")
    out["runs"] = done.returncode == 0
    if out["runs"]:
        out["version"] = _first_line(text)
    else:
        out["error"] = "exit %d: %s" % (done.returncode, _first_line(text))
    return out


def _inductor_cxx():
    if os.environ.get("TORCH_INDUCTOR_INSTALL_GXX") and sys.platform == "linux":
        conda = os.path.join(_inductor_cache()[0], "gcc", "bin", "g++")
        if os.path.exists(conda):
            return _compiler(conda, "conda")
    if "CXX" in os.environ:
        return _compiler(os.environ["CXX"], "CXX")
    return _compiler("clang++" if sys.platform == "darwin" else "g++", "default")


def _triton_cc():
    if "CC" in os.environ:
        return _compiler(os.environ["CC"], "CC")
    for name in ("gcc", "clang"):
        found = shutil.which(name)
        if found:
            return _compiler(found, name)
    return _compiler("", "")


def _python_include():
    if hasattr(sysconfig, "get_default_scheme"):  # public since Python 3.10
        scheme = sysconfig.get_default_scheme()
    else:
        scheme = sysconfig._get_default_scheme()
    if scheme == "posix_local":
        scheme = "posix_prefix"
    include = sysconfig.get_paths(scheme=scheme)["include"]
    return include, os.path.exists(os.path.join(include, "Python.h"))


def _triton_requires():
    try:
        from importlib import metadata

        requires = metadata.requires("torch") or []
    except Exception:
        return []
    return [r for r in requires if re.match(r"(pytorch-triton|triton)\b", r.strip(), re.I)]


def _libcuda(out):
    """Triton's libcuda_dirs(), without its assertion: the dirs, where they came from, and why not."""
    env_path = os.environ.get("TRITON_LIBCUDA_PATH")
    listed = []
    if env_path:
        out["libcuda_via"], dirs = "TRITON_LIBCUDA_PATH", [env_path]
    else:
        try:
            text = subprocess.check_output([LDCONFIG, "-p"], timeout=20).decode("utf-8", "replace")
        except (OSError, subprocess.SubprocessError) as err:
            text = ""
            out["libcuda_error"] = "%s -p: %s: %s" % (LDCONFIG, type(err).__name__, err)
        rows = [line.split() for line in text.splitlines() if "=>" in line]
        listed = [r[-1] for r in rows if r[0].startswith("libcuda.so")]
        dirs = [os.path.dirname(p) for p in listed if os.path.basename(p) == "libcuda.so.1"]
        out["libcuda_via"] = "ldconfig" if dirs else ""
        ld_path = os.environ.get("LD_LIBRARY_PATH")
        if ld_path and not dirs:
            dirs = [d for d in ld_path.split(":") if d and _has(d, "libcuda.so.1")]
            out["libcuda_via"] = "LD_LIBRARY_PATH" if dirs else ""
    out["libcuda_dirs"] = dirs
    if not any(_has(d, "libcuda.so.1") for d in dirs):
        out["libcuda_via"] = ""
        out["libcuda_error"] = out.get("libcuda_error") or "libcuda.so cannot found!"
    unversioned = [os.path.join(d, "libcuda.so") for d in dirs if _has(d, "libcuda.so")]
    unversioned += [p for p in listed if os.path.basename(p) == "libcuda.so"]
    out["libcuda_unversioned"] = sorted(set(unversioned))


def _has(directory, name):
    return os.path.exists(os.path.join(directory, name))


def _inductor_cache():
    if os.environ.get("TORCHINDUCTOR_CACHE_DIR") is not None:
        return os.path.abspath(os.environ["TORCHINDUCTOR_CACHE_DIR"]), "TORCHINDUCTOR_CACHE_DIR"
    try:
        user = getpass.getuser()
    except (KeyError, ImportError, OSError):
        user = "uid_%d" % os.getuid() if hasattr(os, "getuid") else "unknown_user"
    user = re.sub(r'[\\/:*?"<>|]', "_", user)
    return os.path.join(tempfile.gettempdir(), "torchinductor_" + user), "default"


def _triton_cache():
    if os.environ.get("TRITON_CACHE_DIR"):
        return os.environ["TRITON_CACHE_DIR"], "TRITON_CACHE_DIR"
    home = os.environ.get("TRITON_HOME")
    base = home or os.path.expanduser("~")
    return os.path.join(base, ".triton", "cache"), "TRITON_HOME" if home else "default"


def _mounts():
    """(mount point, per-mount options) from /proc/self/mountinfo, octal escapes decoded."""
    try:
        with open("/proc/self/mountinfo") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        parts = line.split()
        if len(parts) > 5:
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), parts[4])
            found.append((point, parts[5].split(",")))
    return found


def _cache_dir(kind, path, via, mounts):
    """Whether a file can be made there (tried, then removed), and the mount it sits on."""
    out = {"kind": kind, "path": path, "via": via, "exists": os.path.isdir(path)}
    probe_at = path
    while not os.path.exists(probe_at) and os.path.dirname(probe_at) != probe_at:
        probe_at = os.path.dirname(probe_at)
    if out["exists"]:
        try:
            handle, name = tempfile.mkstemp(prefix=".gpusetup-", dir=path)
            os.close(handle)
            os.unlink(name)
            out["writable"] = True
        except OSError as err:
            out["writable"], out["error"] = False, "%s: %s" % (type(err).__name__, err)
    else:
        out["writable"] = os.path.isdir(probe_at) and os.access(probe_at, os.W_OK | os.X_OK)
        if not out["writable"]:
            why = "not a writable directory" if os.path.isdir(probe_at) else "not a directory"
            out["error"] = "cannot create %s: %s is %s" % (path, probe_at, why)
    real = os.path.realpath(probe_at)
    best = ("", [])
    for point, options in mounts:
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best[0]):
            best = (point, options)
    out["mount_point"], out["noexec"] = best[0], "noexec" in best[1]
    return out


def compile_facts(torch, cuda_build):
    """Everything torch.compile needs beyond `import torch`; Triton is imported only where it is used."""
    started = time.time()
    out = {"inductor_cxx": _inductor_cxx(), "triton_cc": _triton_cc()}
    out["python_include"], out["python_h"] = _python_include()
    out["triton_requires"] = _triton_requires()
    if cuda_build and sys.platform.startswith("linux"):
        try:
            import triton

            out["triton_importable"] = True
            out["triton_version"] = str(getattr(triton, "__version__", "")) or None
        except Exception as err:
            out["triton_importable"], out["triton_error"] = (
                False,
                "%s: %s" % (type(err).__name__, err),
            )
        _libcuda(out)
    built = getattr(getattr(torch.backends, "cuda", None), "is_flash_attention_available", None)
    if cuda_build and built is not None:
        try:
            out["flash_attention_built"] = bool(built())
        except Exception as err:
            out["error"] = "is_flash_attention_available: %s" % err
    mounts = _mounts()
    inductor, triton_dir = _inductor_cache(), _triton_cache()
    out["caches"] = [
        _cache_dir("inductor", inductor[0], inductor[1], mounts),
        _cache_dir("triton", triton_dir[0], triton_dir[1], mounts),
    ]
    out["seconds"] = round(time.time() - started, 3)
    return out
