"""The torch probe: run as a script in the *target* interpreter, never imported by gpusetup.

Stdlib + torch only, Python 3.8 compatible. Prints one line, "GPUSETUP-PROBE:" + JSON, last.
"""

import json
import os
import platform
import sys
import time
import warnings

MARKER = "GPUSETUP-PROBE:"
CUDA_LIBS = (
    "libcuda", "libcudart", "libcublas", "libcudnn", "libnccl", "libnvJitLink",
    "libcusparse", "libnvrtc", "libcufft", "libcusolver", "libcurand", "libcupti",
)  # fmt: skip
FAMILY = ("torch", "pytorch", "torchvision", "torchaudio", "triton", "pytorch-triton")


def _drop_cwd_from_path():
    """A stray torch.py in the user's directory must not be what we import."""
    here = os.path.dirname(os.path.abspath(__file__))
    cwd = os.getcwd()
    sys.path[:] = [p for p in sys.path if p not in ("", ".", cwd, here)]


def _distributions():
    """Every copy of each torch-family dist on sys.path (name lookups, not a scan of all dists)."""
    try:
        from importlib import metadata
    except ImportError:
        return [], {}
    family = []
    for wanted in FAMILY:
        for dist in metadata.distributions(name=wanted):
            try:
                installer = (dist.read_text("INSTALLER") or "").strip()
            except Exception:
                installer = ""
            family.append(
                {
                    "name": wanted,
                    "version": dist.version,
                    "location": str(dist.locate_file("")),
                    "installer": installer,
                }
            )
    return family, _nvidia_wheels()


def _nvidia_wheels():
    """nvidia-* wheels, read from dist-info directory names (nvidia_cudnn_cu12-9.1.0.70.dist-info)."""
    wheels = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry)
        except OSError:
            continue
        for name in names:
            if name.startswith("nvidia_") and name.endswith(".dist-info") and "-" in name:
                project, version = name[: -len(".dist-info")].split("-", 1)
                project = project.replace("_", "-").lower()
                if project != "nvidia-ml-py":
                    wheels.setdefault(project, version)
    return wheels


def _conda_packages():
    meta = os.path.join(sys.prefix, "conda-meta")
    found = []
    if not os.path.isdir(meta):
        return found
    for entry in os.listdir(meta):
        if entry.startswith(("pytorch-", "torchvision-", "torchaudio-")) and entry.endswith(
            ".json"
        ):
            parts = entry[:-5].rsplit("-", 2)
            if len(parts) == 3 and parts[0] in ("pytorch", "torchvision", "torchaudio"):
                found.append(
                    {"name": parts[0], "version": parts[1], "location": meta, "installer": "conda"}
                )
    return found


def _loaded_libraries():
    try:
        with open("/proc/self/maps") as maps:
            lines = maps.read().splitlines()
    except OSError:
        return []
    seen, result = set(), []
    for line in lines:
        path = line.split()[-1] if line.split() else ""
        base = os.path.basename(path)
        for lib in CUDA_LIBS:
            if (base.startswith((lib + ".", lib + "_", lib + "-"))) and path not in seen:
                if lib == "libcuda" and not base.startswith("libcuda.so"):
                    continue
                seen.add(path)
                result.append({"name": lib, "path": path})
    return result


def _requires_torch(name):
    """The torch requirement in the companion's own metadata (==2.14.0, >=2.14.0), or None."""
    try:
        from importlib import metadata

        requires = metadata.requires(name) or []
    except Exception:
        return None
    for requirement in requires:
        spec = requirement.split(";", 1)[0].strip()
        rest = spec[len("torch") :] if spec.startswith("torch") else None
        if rest is not None and (not rest or rest.lstrip()[:1] in "(=<>!~"):
            return rest.replace("(", "").replace(")", "").replace(" ", "")
    return None


def _companion(name, out):
    try:
        module = __import__(name)
        out[name + "_version"] = getattr(module, "__version__", None)
        out[name + "_requires_torch"] = _requires_torch(name)
    except ImportError as err:
        if getattr(err, "name", None) == name:
            return
        out[name + "_error"] = "%s: %s" % (type(err).__name__, err)
    except Exception as err:
        out[name + "_error"] = "%s: %s" % (type(err).__name__, err)


def _needing_numpy():
    """The installed distributions that declare an unconditional dependency on numpy."""
    import re

    try:
        from importlib import metadata
    except ImportError:
        return []
    found = set()
    for dist in metadata.distributions():
        for requirement in dist.requires or ():
            head = requirement.split(";", 1)
            name = re.split(r"[\s\[<>=!~(]", head[0].strip(), maxsplit=1)[0].lower()
            if name == "numpy" and (len(head) == 1 or "extra" not in head[1]):
                found.add(str(dist.metadata["Name"]))
    return sorted(found)


def _numpy_bridge(torch, out):
    """numpy beside torch: torch does not require it, and wheels built for NumPy 1.x break beside 2.x."""
    try:
        import numpy
    except Exception as err:
        if isinstance(err, ImportError) and getattr(err, "name", None) == "numpy":
            out["numpy_status"] = "missing"
            out["numpy_required_by"] = _needing_numpy()
        else:  # numpy is there but its own import fails
            out["numpy_status"], out["numpy_error"] = "broken", "%s: %s" % (type(err).__name__, err)
        return
    out["numpy_version"] = str(getattr(numpy, "__version__", "")) or None
    try:
        torch.zeros(1).numpy()
    except Exception as err:  # "Numpy is not available": torch could not load numpy's C API
        out["numpy_status"], out["numpy_error"] = "broken", "%s: %s" % (type(err).__name__, err)
    else:
        out["numpy_status"] = "ok"


def _read(out, key, read):
    """One fact, read on its own: a torch without an attribute loses that fact, not the others."""
    try:
        out[key] = read()
        return True
    except Exception as err:
        out.setdefault("unavailable", {})[key] = _why(err)
        return False


def _why(err):
    return "%s: %s" % (type(err).__name__, (str(err).splitlines() or [""])[0][:200])


def _cuda_state(torch, out):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _read(out, "cuda_available", lambda: bool(torch.cuda.is_available()))
        _read(out, "device_count", lambda: int(torch.cuda.device_count()))
        try:
            if out.get("cuda_available"):
                torch.cuda.init()
                out["devices"] = [_device(torch, i) for i in range(out.get("device_count") or 0)]
            elif out.get("cuda_build"):
                try:
                    torch.cuda.init()
                except Exception as err:
                    out["init_error"] = "%s: %s" % (type(err).__name__, err)
        except Exception as err:
            out["init_error"] = "%s: %s" % (type(err).__name__, err)
    out["init_warnings"] = [str(w.message) for w in caught]
    _driver_api(out)


def _driver_api(out):
    """The driver API version torch found ("found version 11040"), from its own warning or error."""
    import re

    for text in [out.get("init_error", "")] + out["init_warnings"]:
        match = re.search(r"found version (\d{4,5})", text or "")
        if match:
            out["driver_api_version"] = int(match.group(1))
            return


def _device(torch, index):
    props = torch.cuda.get_device_properties(index)
    # The same format as verify/_bench_child.py: child scripts are self-contained (the target interpreter
    # may not have gpusetup installed), so each carries its own copy.
    bus = ""
    if hasattr(props, "pci_bus_id"):
        bus = "%08X:%02X:%02X.0" % (
            getattr(props, "pci_domain_id", 0),
            props.pci_bus_id,
            getattr(props, "pci_device_id", 0),
        )
    return {
        "index": index,
        "name": props.name,
        "capability": "%d.%d" % (props.major, props.minor),
        "pci_bus_id": bus,
        "uuid": str(getattr(props, "uuid", "")),
        "total_memory_mib": int(props.total_memory) // 2**20,
    }


def _arch_list(torch):
    flags = getattr(torch._C, "_cuda_getArchFlags", None)  # private: a build may not have it
    return (flags() or "").split() if flags else []


def _nccl(torch):
    nccl = torch.cuda.nccl.version()
    return ".".join(str(p) for p in nccl) if isinstance(nccl, tuple) else str(nccl)


def _torch_facts(torch, out):
    _read(out, "version", lambda: str(torch.__version__))
    out["location"] = getattr(torch, "__file__", None)
    _read(out, "cuda_build", lambda: getattr(torch.version, "cuda", None))
    _read(out, "hip_build", lambda: getattr(torch.version, "hip", None))
    _read(out, "arch_list", lambda: _arch_list(torch))
    cudnn = lambda: torch.backends.cudnn  # noqa: E731
    if not _read(out, "cudnn_version", lambda: cudnn().version()):
        # the whole text: "cuDNN version incompatibility: PyTorch was compiled against (8, 3, 2) ..."
        try:
            cudnn().version()
        except Exception as err:
            out["cudnn_error"] = "%s: %s" % (type(err).__name__, err)
    _read(out, "cudnn_available", lambda: bool(cudnn().is_available()))
    _read(out, "cudnn_enabled", lambda: bool(cudnn().enabled))
    if out.get("cuda_build"):
        _read(out, "nccl_version", lambda: _nccl(torch))
    _cuda_state(torch, out)


# ---- torch.compile readiness: the rules live in _compile_probe.py, loaded by path (not on sys.path) ----
def _compile_facts(torch, out):
    """What torch.compile needs beyond import torch; a failure here never loses the other facts."""
    try:
        import importlib.util

        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_compile_probe.py")
        spec = importlib.util.spec_from_file_location("_gpusetup_compile_probe", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        out["compile"] = module.compile_facts(torch, out.get("cuda_build"))
    except Exception as err:
        out["compile"] = {"error": "%s: %s" % (type(err).__name__, err)}


def main():
    started = time.time()
    _drop_cwd_from_path()
    out = {
        "status": "ok",
        "python": sys.executable,
        "python_version": platform.python_version(),
        "sys_prefix": sys.prefix,
        "conda_env": os.path.isdir(os.path.join(sys.prefix, "conda-meta")),
    }
    family, wheels = _distributions()
    out["distributions"] = family + _conda_packages()
    out["nvidia_wheels"] = wheels
    try:
        import torch
    except ImportError as err:
        if getattr(err, "name", None) == "torch":
            out["status"] = "missing"
        else:
            out["status"] = "import-error"
            out["error"] = "%s: %s" % (type(err).__name__, err)
    except BaseException as err:
        out["status"] = "import-error"
        out["error"] = "%s: %s" % (type(err).__name__, err)
    else:
        _torch_facts(torch, out)
        _numpy_bridge(torch, out)
        _companion("torchvision", out)
        _companion("torchaudio", out)
        _compile_facts(torch, out)
    out["loaded_libraries"] = _loaded_libraries()
    out["seconds"] = round(time.time() - started, 3)
    sys.stdout.write("\n" + MARKER + json.dumps(out) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
    sys.stderr.flush()
    # The result line is out and gpusetup reads nothing after it: skip the interpreter's teardown of
    # torch (module and C++ static destructors), which costs about a third of `import torch` again.
    os._exit(0)
