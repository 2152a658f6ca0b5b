"""What a plan says about a companion the release has none of (torchaudio is in maintenance mode)."""

from __future__ import annotations

from typing import Optional

from gpusetup.profiles.model import Profiles, TorchRelease

PACKAGES_HELP = (
    "Comma list of torch,torchvision,torchaudio [default: those the release has]. torchaudio is in "
    "maintenance mode: where a release has none, the plan says it is left out and which torch still "
    "has one."
)


def missing_torchaudio(release: TorchRelease, profiles: Profiles) -> Optional[str]:
    """The plan's line when torchaudio is left out because no torchaudio pairs with this torch."""
    if "torchaudio" in release.companions:
        return None
    with_audio = [
        r for r in profiles.sorted_releases() if r.confirmed and "torchaudio" in r.companions
    ]
    newest = (
        f"; the newest torch with one is {with_audio[0].torch} "
        f"(torchaudio {with_audio[0].companions['torchaudio']}): --torch {with_audio[0].torch}"
        if with_audio
        else ""
    )
    return (
        f"torchaudio: left out, no torchaudio release pairs with torch {release.torch} "
        f"(torchaudio is in maintenance mode){newest}"
    )
