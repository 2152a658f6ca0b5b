"""profiles list / show for people."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from gpusetup.profiles.model import Profiles, TorchRelease


def render_releases(profiles: Profiles, console: Console) -> None:
    table = Table(box=None, header_style="bold")
    for column in (
        "torch",
        "python",
        "variants",
        "PyPI default",
        "torchvision",
        "torchaudio",
        "conda",
        "",
    ):
        table.add_column(column)
    for r in profiles.sorted_releases():
        table.add_row(
            r.torch,
            f"{r.python.min}-{r.python.max}",
            " ".join(r.variants),
            r.pypi_default,
            r.companions.get("torchvision", "-"),
            r.companions.get("torchaudio", "-"),
            "pytorch" if r.conda else "conda-forge",
            "" if r.confirmed else Text("unconfirmed", style="yellow"),
        )
    console.print(table)
    if profiles.stacks:
        console.print(Text("stacks:", style="bold"))
        for stack in profiles.stacks.values():
            index = f" via {stack.index_url}" if stack.index_url else ""
            console.print(
                f"  {stack.name}: torch {stack.torch} + {stack.cuda}"
                + (f" + Python {stack.python}" if stack.python else "")
                + index
            )


def render_release(profiles: Profiles, r: TorchRelease, console: Console) -> None:
    console.print(
        Text(f"torch {r.torch}", style="bold")
        + Text(
            f"  released {r.released or 'unknown'}"
            + ("" if r.confirmed else "  (unconfirmed data)")
        )
    )
    requires = f" (Requires-Python {r.requires_python})" if r.requires_python else ""
    console.print(
        f"python {r.python.min}-{r.python.max}{requires} · platforms {' '.join(r.platforms)}"
    )
    console.print(
        f"PyPI default on Linux x86_64: {r.pypi_default} · aarch64: {r.aarch64.pypi_default}"
    )
    companions = ", ".join(f"{k} {v}" for k, v in r.companions.items()) or "none confirmed"
    console.print(f"companions: {companions}")
    table = Table(box=None, header_style="bold")
    table.add_column("variant")
    table.add_column("index")
    table.add_column("GPU architectures (Linux x86_64)")
    for variant in r.variants:
        table.add_row(
            variant + ("" if r.variant_confirmed(variant) else " (unconfirmed)"),
            f"{profiles.index_base}/{variant}",
            " ".join(profiles.archs(r, variant)) or "-",
        )
    console.print(table)
    if r.conda:
        console.print(f"conda: -c pytorch -c nvidia, pytorch-cuda {', '.join(r.conda.cuda)}")
    else:
        console.print("conda: not on the pytorch channel; conda-forge provides its own build")
    console.print(f"source: {r.source}")
    if r.note:
        console.print(Text(f"note: {r.note}", style="dim"))
