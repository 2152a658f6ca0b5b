"""Checks of one profile value (an https source, a PEP 440 version, a parsed value), worded for the
loader: each message starts with the field name, so the error can point at that field's line."""

from __future__ import annotations

from typing import Any, Callable

from packaging.version import InvalidVersion, Version

from gpusetup.errors import UsageError


def check_source(url: str) -> None:
    if not url.startswith("https://"):
        raise ValueError(f"source: must be an https:// URL, got {url!r}")


def check_https(url: str, what: str) -> None:
    if not url.startswith("https://") or len(url) <= len("https://") or " " in url:
        raise ValueError(f"{what}: must be an https:// URL, got {url!r}")


def check_parses(parse: Callable[[str], Any], text: str, field: str) -> None:
    """parse refuses text with a UsageError (a version class): the field's ValueError instead."""
    try:
        parse(text)
    except UsageError:
        raise ValueError(f"{field}: not a valid value: {text!r}") from None


def check_version(text: str, field: str) -> None:
    try:
        Version(text)
    except InvalidVersion:
        raise ValueError(f"{field}: not a valid version: {text!r}") from None
