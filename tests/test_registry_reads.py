"""scripts/_registry.py's live path against a local HTTP server: range reads of a wheel's METADATA.

The wheel and the PEP 691 page are built here (handmade); the server honours Range like the
registry's file host, or, for the failure cases, ignores it or cuts the body short.
"""

from __future__ import annotations

import hashlib
import http.server
import importlib.util
import io
import json
import sys
import threading
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Dict, Iterator, Tuple

import pytest

from gpusetup.profiles.derive import MetadataError, wheels

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
METADATA = (
    "Metadata-Version: 2.4\nName: torch\nVersion: 9.1.0\nRequires-Python: >=3.11\n"
    'Requires-Dist: cuda-toolkit[cudart]==13.2.2; platform_system == "Linux"\n'
)
WHEEL = "torch-9.1.0-cp311-cp311-manylinux_2_28_x86_64.whl"


def _registry() -> ModuleType:
    sys.path.insert(0, str(SCRIPTS))
    spec = importlib.util.spec_from_file_location("_registry", SCRIPTS / "_registry.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _wheel() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("torch/__init__.py", "x = 1\n" * 5000)
        archive.writestr("torch-9.1.0.dist-info/METADATA", METADATA)
        archive.writestr("torch-9.1.0.dist-info/RECORD", "")
    return buffer.getvalue()


class _Handler(http.server.BaseHTTPRequestHandler):
    files: Dict[str, bytes] = {}
    mode = "ranges"  # ranges, ignore-ranges, short

    def log_message(self, *args: object) -> None:
        return

    def do_GET(self) -> None:
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        wanted = self.headers.get("Range", "")
        if not wanted or self.mode == "ignore-ranges":
            self._send(200, body)
            return
        start_text, _, end_text = wanted[len("bytes=") :].partition("-")
        if not start_text:
            start, end = max(0, len(body) - int(end_text)), len(body) - 1
        else:
            start, end = int(start_text), min(int(end_text or len(body) - 1), len(body) - 1)
        part = body[start : end + 1]
        if self.mode == "short" and start_text and part.startswith(b"PK\x03\x04"):
            part = part[:80]  # a member's local header and the start of its data only
        self._send(206, part, f"bytes {start}-{end}/{len(body)}")

    def _send(self, status: int, body: bytes, content_range: str = "") -> None:
        self.send_response(status)
        if content_range:
            self.send_header("Content-Range", content_range)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[Tuple[str, type]]:
    wheel = _wheel()
    page = {
        "meta": {"api-version": "1.1"},
        "name": "torch",
        "files": [
            {
                "filename": WHEEL,
                "url": "",
                "hashes": {"sha256": hashlib.sha256(wheel).hexdigest()},
                "requires-python": ">=3.11",
                "upload-time": "2027-01-27T10:00:00Z",
            }
        ],
    }
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    page["files"][0]["url"] = f"{base}/files/{WHEEL}"
    _Handler.files = {f"/files/{WHEEL}": wheel, "/simple/torch/": json.dumps(page).encode()}
    _Handler.mode = "ranges"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"{base}/simple", _Handler
    httpd.shutdown()
    httpd.server_close()


def test_metadata_is_read_by_ranges_and_recorded(server: Tuple[str, type], tmp_path: Path) -> None:
    registry = _registry()
    base, _ = server
    live = registry.Live(base)
    (wheel,) = wheels(live.index("torch"))
    assert live.metadata(wheel) == METADATA
    live.record(tmp_path, {"torch": {"9.1.0"}})
    replay = registry.Replay(tmp_path)
    assert replay.metadata(wheel) == METADATA
    assert [f["filename"] for f in replay.index("torch")["files"]] == [WHEEL]


def test_a_server_that_ignores_ranges_is_refused(server: Tuple[str, type]) -> None:
    registry = _registry()
    base, handler = server
    live = registry.Live(base)
    (wheel,) = wheels(live.index("torch"))
    handler.mode = "ignore-ranges"  # type: ignore[attr-defined]
    with pytest.raises(registry.RegistryError, match="ignores range requests"):
        live.metadata(wheel)


def test_a_member_cut_short_is_refused(server: Tuple[str, type]) -> None:
    registry = _registry()
    base, handler = server
    live = registry.Live(base)
    (wheel,) = wheels(live.index("torch"))
    handler.mode = "short"  # type: ignore[attr-defined]
    with pytest.raises(MetadataError, match="cut short"):
        live.metadata(wheel)


def test_a_missing_index_page_is_a_registry_error(server: Tuple[str, type]) -> None:
    registry = _registry()
    base, _ = server
    with pytest.raises(registry.RegistryError, match="HTTP 404"):
        registry.Live(base).index("torchvision")
