"""The same knowledge base against a real Chroma server on loopback (`chroma run`), via `GTM_CHROMA_URL`."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.embeddings import Embedder
from app.kb.service import KnowledgeBase
from app.settings import Settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    if not Path(binary).exists():
        pytest.skip("the chroma CLI is not installed")
    port = _free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    process = subprocess.Popen(
        [binary, "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.skip("chroma server did not start")
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_ingest_and_search_on_a_chroma_server(
    chroma_url: str, kb_settings: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    settings = kb_settings.model_copy(update={"chroma_url": chroma_url})
    kb = KnowledgeBase(settings, embedder)
    first = kb.ingest()
    assert len(first.added) == 5 and first.total_chunks == kb.count()
    assert kb.ingest().chunks_embedded == 0
    assert not (settings.home / "chroma").exists()  # nothing written to the embedded store
    result = kb.search("how much does express shipping cost")
    assert result.passages[0].doc == "shipping-and-delivery.md"
    doc = kb.add_document("Do you ship to Iceland?", "Yes, Express only.")
    assert kb.search("shipping to iceland", k=1).passages[0].doc == doc
