"""gpusetup: see, fix, install and verify the NVIDIA GPU + CUDA + PyTorch stack.

Importing this package has no side effects: no NVML initialisation, no torch import.
"""

__version__ = "0.1.0"
