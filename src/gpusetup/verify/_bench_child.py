"""verify's benchmarks: run as a script in the *target* interpreter, never imported by gpusetup.

Stdlib + torch only. Reads a JSON config on stdin; prints one line per event:
  GPUSETUP-DEVICE:{...}   a device about to be measured
  GPUSETUP-RESULT:{...}   one measured and checked operation
  GPUSETUP-SDPA:{...}     an attention backend that did not run: what happened and the facts
                          torch's rules need, no verdict (gpusetup's verify/attention.py judges it)
  GPUSETUP-FATAL:{...}    the runtime cannot run at all (no torch, a CPU build, CUDA init fails)
  GPUSETUP-DONE:{...}     the end
Every device runs in its own thread at the same time (power and heat interact on a node).
This script is the protocol, the devices and their threads; the rest lies beside it, loaded by path
(the target interpreter may not have gpusetup): _bench_harness.py (the Bench: timing, rows, checks
against fp64), one module per workload (_bench_matmul.py, _bench_conv.py, _bench_memory.py) and
_pt2_child.py (compile, attention, train-step).
"""

import contextlib
import json
import math
import os
import sys
import threading
import time

STARTED = time.perf_counter()  # start-up (torch import, CUDA init) is part of verify's time budget
LOCK = threading.Lock()
MARK = "GPUSETUP-"
PARTS = ("harness", "matmul", "conv", "memory")  # the _bench_<part>.py modules beside this script


def emit(kind, payload):
    """One event line; JSON has no NaN or Infinity, so a non-finite number is sent as null (the
    row's reason says what was not finite: a NaN loss, say)."""
    line = json.dumps(finite(payload))
    with LOCK:
        sys.stdout.write(MARK + kind + ":" + line + "\n")
        sys.stdout.flush()


def finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def main():
    config = json.loads(sys.stdin.read() or "{}")
    torch = import_torch()
    if torch is None:
        return
    devices = config.get("devices") or ["all"]
    if devices != ["cpu"]:
        devices = cuda_devices(torch, devices)
        if devices is None:
            return
    for name in PARTS:  # before the device threads start: each part is loaded once
        part(name)
    if devices == ["cpu"] and {"compile", "train-step"} & set(config.get("benchmarks", [])):
        pt2_workloads().enable_startup()  # Dynamo/Inductor's start-up, measured on its own
    with contextlib.suppress(Exception):  # a stand-in torch without it still gets its rows
        torch.manual_seed(int(config.get("seed", 0)))
    # The precision flags (allow_tf32, cudnn.benchmark) are process-wide: every device thread takes
    # each step together, so all GPUs run the same operation, with the same flags, at the same time.
    step = threading.Barrier(len(devices))
    threads = [threading.Thread(target=run_device, args=(torch, d, config, step)) for d in devices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if len(devices) > 1 and devices[0] != "cpu" and "p2p" in config.get("benchmarks", ["p2p"]):
        gpus = [int(d.split(":")[1]) for d in devices]
        part("memory").p2p_matrix(torch, gpus, config.get("mode", "quick"), emit)
    emit("DONE", {"devices": len(devices)})


def import_torch():
    """The target interpreter's torch, or None once a FATAL line has said why it cannot be imported."""
    try:
        import torch
    except ImportError as err:
        emit(
            "FATAL",
            {
                "kind": "torch-missing"
                if getattr(err, "name", "") == "torch"
                else "torch-import-failed",
                "error": "%s: %s" % (type(err).__name__, err),
            },
        )
        return None
    except Exception as err:
        emit(
            "FATAL", {"kind": "torch-import-failed", "error": "%s: %s" % (type(err).__name__, err)}
        )
        return None
    return torch


def cuda_devices(torch, wanted):
    if not torch.version.cuda:
        emit(
            "FATAL",
            {"kind": "cpu-build", "error": "torch %s is built without CUDA" % torch.__version__},
        )
        return None
    try:
        torch.cuda.init()
        count = torch.cuda.device_count()
    except Exception as err:
        emit("FATAL", {"kind": "cuda-init-failed", "error": "%s: %s" % (type(err).__name__, err)})
        return None
    if count == 0:
        emit("FATAL", {"kind": "no-gpu", "error": "torch sees no CUDA device"})
        return None
    if wanted == ["all"]:
        return ["cuda:%d" % i for i in range(count)]
    bad = [w for w in wanted if int(w) >= count]
    if bad:
        emit(
            "FATAL",
            {
                "kind": "bad-device",
                "error": "device %s does not exist: torch sees %d" % (bad[0], count),
            },
        )
        return None
    return ["cuda:%s" % w for w in wanted]


def run_device(torch, device, config, step):
    try:
        measure_device(torch, device, config, step)
    finally:
        step.abort()  # after the last step this frees no one; after a crash it frees the others


def measure_device(torch, device, config, step):
    mode = "cpu" if device == "cpu" else config.get("mode", "quick")
    gpu = -1 if device == "cpu" else int(device.split(":")[1])
    if gpu >= 0:  # the current device is per thread: make it this thread's own GPU
        torch.cuda.set_device(gpu)
    else:
        cpu_threads(torch, config)
    info = describe(torch, device, gpu)
    info["startup_seconds"] = round(time.perf_counter() - STARTED, 3)
    emit("DEVICE", info)
    bench = part("harness").Bench(torch, device, gpu, mode, info["name"], config, emit)
    dtypes = config.get("dtypes", ["fp32", "tf32", "fp16", "bf16", "fp8"])
    for benchmark in [
        b for b in config.get("benchmarks", ["matmul", "conv", "memory", "h2d"]) if b != "p2p"
    ]:
        # Bandwidth does not depend on a dtype: measured once, with fp32 buffers.
        for dtype in dtypes if benchmark in ("matmul", "conv") else ["fp32"]:
            together(step)
            try:
                run_workload(bench, benchmark, dtype)
            except Exception as err:  # a failing kernel is a failed result, not a dead run
                bench.result(
                    benchmark,
                    dtype,
                    None,
                    "",
                    {},
                    ok=False,
                    reason="%s: %s" % (type(err).__name__, str(err).splitlines()[0][:200]),
                )
                if device != "cpu":
                    torch.cuda.empty_cache()


def run_workload(bench, benchmark, dtype):
    """One benchmark at one dtype, measured, checked and reported by the module it belongs to."""
    started = time.perf_counter()
    if benchmark == "matmul":
        part("matmul").run(bench, dtype, started)
    elif benchmark == "conv":
        part("conv").run(bench, dtype, started)
    elif benchmark == "memory":
        part("memory").memory(bench, started)
    elif benchmark == "h2d" and bench.cuda:
        part("memory").host_copies(bench, started)
    elif benchmark in ("compile", "attention", "train-step"):
        pt2_workloads().run(bench, benchmark, bench.config)


def cpu_threads(torch, config):
    """The CPU path exercises the pipeline (it is not judged), on CI machines whose few cores are
    shared: one intra-op thread, as a second one that the scheduler parks stalls every kernel at its
    barrier (30-100x slower on a loaded 2-core machine). config["cpu_threads"] sets another count."""
    with contextlib.suppress(Exception):
        torch.set_num_threads(max(1, int(config.get("cpu_threads", 1))))


def together(step):
    """Wait for the other device threads; a thread that died only breaks the barrier, never hangs it."""
    with contextlib.suppress(threading.BrokenBarrierError):
        step.wait(timeout=600)


def read_fields(info, reads):
    """Each device fact read on its own: a torch build without one attribute loses only that fact,
    named in info["unavailable"] with the reason."""
    for key, read in reads:
        try:
            info[key] = read()
        except Exception as err:  # the fact keeps its default ("" or 0)
            info.setdefault("unavailable", {})[key] = "%s: %s" % (
                type(err).__name__,
                (str(err).splitlines() or [""])[0][:200],
            )
    return info


def describe(torch, device, gpu):
    info = {"gpu": gpu, "capability": "", "pci_bus_id": "", "uuid": "", "memory_mib": 0}
    if device == "cpu":
        info["name"] = "cpu"
        return read_fields(
            info,
            [
                ("torch", lambda: str(torch.__version__)),
                ("threads", lambda: torch.get_num_threads()),
            ],
        )
    props = {}
    read_fields(props, [("props", lambda: torch.cuda.get_device_properties(gpu))])
    p = props.get("props")  # None when it could not be read: each fact below is then unavailable
    info["name"] = str(getattr(p, "name", "GPU %d" % gpu))
    if "unavailable" in props:
        info["unavailable"] = props["unavailable"]
    # The same format as facts/_torch_probe.py: child scripts are self-contained (the target interpreter
    # may not have gpusetup installed), so each carries its own copy.
    return read_fields(
        info,
        [
            ("capability", lambda: "%d.%d" % (p.major, p.minor)),
            ("pci_bus_id", lambda: bus_id(p)),
            ("uuid", lambda: str(getattr(p, "uuid", ""))),
            ("memory_mib", lambda: int(p.total_memory) // 2**20),
            ("torch", lambda: str(torch.__version__)),
            ("cuda", lambda: torch.version.cuda),
            ("cudnn", lambda: torch.backends.cudnn.version()),
        ],
    )


def bus_id(props):
    if not hasattr(props, "pci_bus_id"):
        return ""
    return "%08X:%02X:%02X.0" % (
        getattr(props, "pci_domain_id", 0),
        props.pci_bus_id,
        getattr(props, "pci_device_id", 0),
    )


def load(filename, name):
    """A module beside this script, loaded by path once (sys.path no longer holds this folder)."""
    module = sys.modules.get(name)
    if module is None:
        import importlib.util

        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), filename)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return module


def part(name):
    """_bench_<name>.py: the harness, or the module of one workload."""
    return load("_bench_%s.py" % name, "_gpusetup_bench_" + name)


def pt2_workloads():
    """_pt2_child.py beside this script (compile, attention, train-step), loaded by path once."""
    return load("_pt2_child.py", "_gpusetup_pt2_child")


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if p not in ("", ".", os.getcwd(), here)]
    main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is said (DONE, or FATAL): tearing down an interpreter that loaded torch, Dynamo and
    # Inductor takes seconds (module and C++ static teardown; atexit itself is milliseconds), and
    # gpusetup reads nothing after the last line, so the process ends here.
    os._exit(0)
