"""Reading the package registry for refresh_profiles.py: live (HTTPS), recorded, or replayed.

Live: the PEP 691 JSON project page, and each wheel's core metadata from its PEP 658 `.metadata`
file where the index offers one, else from the wheel itself by HTTP range reads of its zip central
directory and METADATA member (a few hundred KiB of a 500 MB torch wheel, never the whole wheel).
Every read is checked: a hash (PEP 658 or the recording's manifest), or the zip member's CRC-32.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from gpusetup.profiles.derive import MetadataError, Wheel

ACCEPT = "application/vnd.pypi.simple.v1+json"
MANIFEST = "manifest.json"
_TAIL = 65536


class RegistryError(Exception):
    """The registry cannot be read, or what it sent is not whole: one line for the user."""


def _get(url: str, accept: str = "", byte_range: str = "", timeout: float = 60) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "gpusetup-refresh-profiles"})
    if accept:
        request.add_header("Accept", accept)
    if byte_range:
        request.add_header("Range", f"bytes={byte_range}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if byte_range and response.status != 206:
                raise RegistryError(f"{url}: the server ignores range requests (no whole wheels)")
            return bytes(response.read())
    except urllib.error.HTTPError as err:
        raise RegistryError(f"{url}: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise RegistryError(f"{url}: unreachable ({reason})") from None


def _central_directory(url: str) -> Tuple[bytes, int]:
    """The wheel's zip central directory and its offset (zip64 when the wheel needs it)."""
    tail = _get(url, byte_range=f"-{_TAIL}")
    end = tail.rfind(b"PK\x05\x06")
    if end < 0 or len(tail) < end + 22:
        raise MetadataError(f"{url}: no zip end record in the last {_TAIL} bytes")
    size, offset = struct.unpack("<II", tail[end + 12 : end + 20])
    if offset == 0xFFFFFFFF:
        locator = tail.rfind(b"PK\x06\x07", 0, end)
        if locator < 0:
            raise MetadataError(f"{url}: zip64 wheel without its end-record locator")
        (record,) = struct.unpack("<Q", tail[locator + 8 : locator + 16])
        zip64 = _get(url, byte_range=f"{record}-{record + 55}")
        size, offset = struct.unpack("<QQ", zip64[40:56])
    directory = _get(url, byte_range=f"{offset}-{offset + size - 1}")
    if len(directory) != size:
        raise MetadataError(
            f"{url}: central directory cut short ({len(directory)} of {size} bytes)"
        )
    return directory, offset


def range_read_metadata(url: str) -> bytes:
    """The .dist-info/METADATA member of a remote wheel, read by ranges and checked by CRC-32."""
    directory, _ = _central_directory(url)
    pos = 0
    while pos + 46 <= len(directory) and directory[pos : pos + 4] == b"PK\x01\x02":
        method, _t, _d, crc, csize, usize, nlen, elen, clen = struct.unpack(
            "<HHHIIIHHH", directory[pos + 10 : pos + 34]
        )
        (local,) = struct.unpack("<I", directory[pos + 42 : pos + 46])
        name = directory[pos + 46 : pos + 46 + nlen].decode("utf-8", "replace")
        pos += 46 + nlen + elen + clen
        if re.fullmatch(r"[^/]+\.dist-info/METADATA", name):
            head = _get(url, byte_range=f"{local}-{local + 30 + nlen + 1024 + csize}")
            lnlen, lelen = struct.unpack("<HH", head[26:30])
            data = head[30 + lnlen + lelen : 30 + lnlen + lelen + csize]
            try:
                text = zlib.decompress(data, -15) if method == 8 else data
            except zlib.error:
                raise MetadataError(f"{url}: METADATA cut short or corrupt (deflate)") from None
            if len(text) != usize or zlib.crc32(text) != crc:
                raise MetadataError(f"{url}: METADATA cut short or corrupt (CRC-32 mismatch)")
            return text
    raise MetadataError(f"{url}: no .dist-info/METADATA in the wheel")


class Live:
    """The registry over HTTPS; remembers what it read, so it can be recorded as fixtures."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.pages: Dict[str, Dict[str, Any]] = {}
        self.read: Dict[str, bytes] = {}  # wheel filename -> METADATA

    def index(self, project: str) -> Dict[str, Any]:
        body = _get(f"{self.base}/{project}/", accept=ACCEPT)
        try:
            page = json.loads(body)
        except ValueError:
            raise RegistryError(f"{self.base}/{project}/: not a PEP 691 JSON page") from None
        if not isinstance(page, dict) or "files" not in page:
            raise RegistryError(f"{self.base}/{project}/: not a PEP 691 JSON page")
        self.pages[project] = page
        return page

    def metadata(self, wheel: Wheel) -> str:
        if wheel.core_metadata:
            data = _get(wheel.url + ".metadata")
            want = (
                wheel.core_metadata.get("sha256") if isinstance(wheel.core_metadata, dict) else None
            )
            if want and hashlib.sha256(data).hexdigest() != want:
                raise MetadataError(f"{wheel.filename}.metadata: sha256 mismatch (truncated?)")
        else:
            data = range_read_metadata(wheel.url)
        self.read[wheel.filename] = data
        return data.decode("utf-8")

    def record(self, directory: Path, keep: Dict[str, set[str]]) -> None:
        """Write the pages (only the versions in keep) and the metadata read, with a manifest."""
        directory.mkdir(parents=True, exist_ok=True)
        for project, page in self.pages.items():
            files = [
                f for f in page["files"] if _version_of(f["filename"]) in keep.get(project, set())
            ]
            trimmed = {**page, "files": files, "versions": sorted(keep.get(project, set()))}
            (directory / f"{project}.simple.json").write_text(json.dumps(trimmed, indent=1) + "\n")
        manifest = {}
        for name, data in sorted(self.read.items()):
            (directory / f"{name}.metadata").write_bytes(data)
            manifest[f"{name}.metadata"] = hashlib.sha256(data).hexdigest()
        (directory / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def _version_of(filename: str) -> str:
    parts = filename.split("-")
    return parts[1] if len(parts) > 1 else ""


class Replay:
    """A recording (tests/fixtures/registry/...): the same answers, offline, each file hash-checked."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        try:
            self.manifest: Dict[str, str] = json.loads((directory / MANIFEST).read_text())
        except (OSError, ValueError) as err:
            raise RegistryError(f"{directory}: no readable {MANIFEST} ({err})") from None

    def index(self, project: str) -> Dict[str, Any]:
        path = self.directory / f"{project}.simple.json"
        try:
            page: Dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise RegistryError(f"{path}: unreadable index page ({err})") from None
        return page

    def metadata(self, wheel: Wheel) -> str:
        name = f"{wheel.filename}.metadata"
        path = self.directory / name
        try:
            data = path.read_bytes()
        except OSError:
            raise RegistryError(f"{path}: not in the recording") from None
        want: Optional[str] = self.manifest.get(name)
        if want is None or hashlib.sha256(data).hexdigest() != want:
            raise MetadataError(f"{path}: does not match the recording's sha256 (truncated?)")
        return data.decode("utf-8")
