"""profiles list / show for people."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from gpusetup.profiles.model import Profiles, TorchRelease


def render_releases(profiles: Profiles, console: Console) -> None:
    """One release a row; versions and names whole at 80 columns (only the variant list wraps)."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("torch", "python", "variants", "default", "vision", "audio", "conda"):
        table.add_column(column, no_wrap=column != "variants")
    unconfirmed = False
    for r in profiles.sorted_releases():
        unconfirmed = unconfirmed or not r.confirmed
        table.add_row(
            Text(r.torch + ("" if r.confirmed else "*"), style="" if r.confirmed else "yellow"),
            f"{r.python.min}-{r.python.max}",
            " ".join(map(str, r.variants)),
            str(r.pypi_default),
            r.companions.get("torchvision", "-"),
            r.companions.get("torchaudio", "-"),
            "pytorch" if r.conda else "conda-forge",
        )
    console.print(table)
    legend = "default: the build PyPI serves; vision, audio: torchvision, torchaudio"
    console.print(Text(legend + (" · *: unconfirmed data" if unconfirmed else ""), style="dim"))
    if profiles.stacks:
        console.print(Text("stacks:", style="bold"))
        for stack in profiles.stacks.values():
            index = f" via {stack.index_url}" if stack.index_url else ""
            console.print(
                f"  {stack.name}: torch {stack.torch} + {stack.cuda}"
                + (f" + Python {stack.python}" if stack.python else "")
                + index,
                soft_wrap=True,  # an index URL to paste: never a newline inside it
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
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("variant", no_wrap=True)
    table.add_column("index", no_wrap=True)
    table.add_column("GPU archs (x86_64)")
    for variant in r.variants:
        table.add_row(
            str(variant) + ("" if r.variant_confirmed(variant) else " (unconfirmed)"),
            f"{profiles.index_base}/{variant}",
            " ".join(profiles.archs(r, variant)) or "-",
        )
    console.print(table)
    if r.conda:
        console.print(f"conda: -c pytorch -c nvidia, pytorch-cuda {', '.join(r.conda.cuda)}")
    else:
        console.print("conda: not on the pytorch channel; conda-forge provides its own build")
    console.print(f"source: {r.source}", soft_wrap=True)
    if r.note:
        console.print(Text(f"note: {r.note}", style="dim"))
