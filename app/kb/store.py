"""The chunk store: one Chroma collection per knowledge-base folder, in cosine space, with our own embeddings.

Embedded Chroma (`PersistentClient` under `settings.home / "chroma"`) by default, a Chroma server
(`HttpClient`) when `settings.chroma_url` is set; everything else is the same code. Chroma's default
embedding function is never used (it would download a model): vectors always come from the caller.

Each chunk's metadata holds `doc` (file name relative to the KB folder), `section`, `chunk` (index),
`hash` (the document's content hash), `n_chunks` (how many chunks the document has) and `title`.
The collection's metadata holds a `revision` token that changes whenever the contents change, so
readers in this or another process know when to rebuild their keyword index.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np

from app.kb.chunking import CHUNKER_VERSION, Chunk

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from app.settings import Settings

EMBEDDING_MODEL = "all-MiniLM-L6-v2"
"""Recorded in the collection metadata: vectors from another model must not be mixed in."""


HNSW_CONFIGURATION = {"space": "cosine", "ef_construction": 200, "ef_search": 200, "max_neighbors": 32}
"""Cosine space; a denser graph and wider search than Chroma's defaults (100/100/16), which now and then
missed a top-3 chunk of a 320-chunk collection. Applies to collections created from now on."""


def collection_name(kb_dir: Path) -> str:
    """A valid Chroma collection name derived from the KB folder: `kb-<folder>-<hash of the full path>`.

    Chroma names are 3–512 characters of `[a-zA-Z0-9._-]`, start and end alphanumeric, with no `..`.
    """
    resolved = str(Path(kb_dir).expanduser().resolve())
    slug = re.sub(r"[^a-zA-Z0-9_-]+", "-", Path(resolved).name).strip("-_")[:48] or "root"
    digest = hashlib.sha1(resolved.encode()).hexdigest()[:10]
    return f"kb-{slug}-{digest}"


def chunk_id(doc: str, index: int) -> str:
    """The record id of one chunk."""
    return f"{doc}#{index}"


@dataclass(slots=True)
class ChunkTable:
    """Every chunk in the store, as parallel lists (the input of the keyword index)."""

    ids: list[str] = field(default_factory=list)
    docs: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    indexes: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        """Number of chunks."""
        return len(self.ids)


class ChromaStore:
    """A Chroma collection of chunks for one knowledge-base folder."""

    def __init__(self, name: str, *, path: Path | None = None, url: str | None = None) -> None:
        """Open (or create) collection `name` in embedded Chroma at `path`, or on the server at `url`.

        Args:
            name: Collection name (see `collection_name`).
            path: Folder of the embedded database (ignored when `url` is given).
            url: A Chroma server, `http://host:port`.
        """
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if url:
            parsed = urlparse(url)
            self._client: Any = chromadb.HttpClient(
                host=parsed.hostname or "localhost",
                port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                ssl=parsed.scheme == "https",
                settings=chroma_settings,
            )
            self.location = url
        else:
            if path is None:
                raise ValueError("ChromaStore needs a path (embedded Chroma) or a url (Chroma server)")
            path.mkdir(parents=True, exist_ok=True)
            self._client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
            self.location = str(path)
        self.name = name
        self._collection: Any = self._client.get_or_create_collection(
            name,
            configuration={"hnsw": HNSW_CONFIGURATION},
            metadata={"revision": uuid.uuid4().hex, "embedding_model": EMBEDDING_MODEL, "chunker": CHUNKER_VERSION},
            embedding_function=None,
        )
        self._max_batch = int(getattr(self._client, "get_max_batch_size", lambda: 5000)())

    @classmethod
    def for_settings(cls, settings: Settings, kb_dir: Path | None = None) -> ChromaStore:
        """The store of `kb_dir` (default `settings.kb_dir`) as the settings say: server or embedded."""
        folder = Path(kb_dir or settings.kb_dir)
        name = collection_name(folder)
        if settings.chroma_url:
            return cls(name, url=settings.chroma_url)
        return cls(name, path=settings.home / "chroma")

    def count(self) -> int:
        """Number of chunks."""
        return int(self._collection.count())

    def revision(self) -> str:
        """A token that changes whenever the contents change (read from the server each call)."""
        metadata = self._client.get_collection(self.name, embedding_function=None).metadata or {}
        return str(metadata.get("revision", ""))

    def bump_revision(self) -> str:
        """Record that the contents changed; returns the new token."""
        token = uuid.uuid4().hex
        metadata = dict(self._collection.metadata or {})
        metadata.pop("hnsw:space", None)
        metadata.update(revision=token, embedding_model=EMBEDDING_MODEL, chunker=CHUNKER_VERSION)
        self._collection.modify(metadata=metadata)
        return token

    def doc_index(self) -> dict[str, tuple[str | None, set[str]]]:
        """Every stored document's content hash and chunk ids, from one read of all metadata.

        The hash is None for an incomplete document (chunks missing, or chunks with different hashes).
        """
        result = self._collection.get(include=["metadatas"])
        found: dict[str, tuple[set[str], set[str], set[int]]] = {}
        for record_id, meta in zip(result["ids"], result["metadatas"] or [], strict=True):
            hashes, ids, totals = found.setdefault(str(meta["doc"]), (set(), set(), set()))
            hashes.add(str(meta.get("hash", "")))
            ids.add(record_id)
            totals.add(int(meta.get("n_chunks", 0)))
        index: dict[str, tuple[str | None, set[str]]] = {}
        for doc, (hashes, ids, totals) in found.items():
            complete = len(hashes) == 1 and totals == {len(ids)}
            index[doc] = (next(iter(hashes)) if complete else None, ids)
        return index

    def doc_hashes(self) -> dict[str, str]:
        """Content hash of every stored document that is complete (all its chunks present, one hash)."""
        return {doc: digest for doc, (digest, _) in self.doc_index().items() if digest is not None}

    def doc_names(self) -> set[str]:
        """Names of all documents with at least one chunk."""
        return set(self.doc_index())

    def replace_document(self, doc: str, digest: str, chunks: Sequence[Chunk], embeddings: NDArray[np.float32]) -> None:
        """Store one document's chunks, replacing whatever was stored under its name."""
        stale = set(self._collection.get(where={"doc": doc}, include=[])["ids"])
        self.replace_documents(chunks, embeddings, {doc: digest}, stale)

    def replace_documents(
        self, chunks: Sequence[Chunk], embeddings: NDArray[np.float32], digests: dict[str, str], stale: set[str]
    ) -> None:
        """Store the chunks of several documents in one write, then delete their `stale` chunk ids that remain.

        New chunks are written first and surplus old ones deleted after, so a reader never finds a
        document missing; a half-written document fails the completeness check of `doc_index` and is
        re-embedded by the next ingest.
        """
        if len(chunks) != len(embeddings):
            raise ValueError(f"{len(chunks)} chunks but {len(embeddings)} embeddings")
        if chunks:
            self.upsert(chunks, embeddings, digests)
        surplus = sorted(stale - {chunk_id(c.doc, c.index) for c in chunks})
        for start in range(0, len(surplus), self._max_batch):
            self._collection.delete(ids=surplus[start : start + self._max_batch])

    def upsert(self, chunks: Sequence[Chunk], embeddings: NDArray[np.float32], digests: dict[str, str]) -> None:
        """Write chunks (of any documents) with their embeddings; `digests` maps each doc to its hash."""
        totals: dict[str, int] = {}
        for chunk in chunks:
            totals[chunk.doc] = max(totals.get(chunk.doc, 0), chunk.index + 1)
        vectors = np.asarray(embeddings, dtype=np.float32)
        for start in range(0, len(chunks), self._max_batch):
            part = chunks[start : start + self._max_batch]
            self._collection.upsert(
                ids=[chunk_id(c.doc, c.index) for c in part],
                embeddings=vectors[start : start + len(part)],
                documents=[c.text for c in part],
                metadatas=[
                    {
                        "doc": c.doc,
                        "section": c.section,
                        "chunk": c.index,
                        "hash": digests[c.doc],
                        "n_chunks": totals[c.doc],
                        "title": c.title,
                    }
                    for c in part
                ],
            )

    def delete_documents(self, docs: Iterable[str]) -> None:
        """Remove every chunk of `docs`."""
        names = sorted(set(docs))
        for start in range(0, len(names), 500):
            self._collection.delete(where={"doc": {"$in": names[start : start + 500]}})

    def query(self, embedding: NDArray[np.float32], n: int) -> tuple[list[str], NDArray[np.float64]]:
        """The `n` nearest chunks to one normalised query vector: ids and cosine similarities."""
        if n <= 0:
            return [], np.zeros(0)
        result = self._collection.query(
            query_embeddings=np.asarray(embedding, dtype=np.float32).reshape(1, -1),
            n_results=n,
            include=["distances"],
        )
        ids = list(result["ids"][0])
        similarity = 1.0 - np.asarray(result["distances"][0], dtype=np.float64)
        return ids, similarity

    def table(self) -> ChunkTable:
        """Every chunk's id, document, title, section, text and index (sorted by id)."""
        table = ChunkTable()
        total = self.count()
        page = 5000
        rows: list[tuple[str, dict[str, Any], str]] = []
        for offset in range(0, total, page):
            result = self._collection.get(include=["metadatas", "documents"], limit=page, offset=offset)
            rows.extend(zip(result["ids"], result["metadatas"] or [], result["documents"] or [], strict=True))
        for record_id, meta, text in sorted(rows, key=lambda row: row[0]):
            table.ids.append(record_id)
            table.docs.append(str(meta["doc"]))
            table.titles.append(str(meta.get("title", "")))
            table.sections.append(str(meta.get("section", "")))
            table.texts.append(text or "")
            table.indexes.append(int(meta.get("chunk", 0)))
        return table

    def drop(self) -> None:
        """Delete the whole collection (used by tests and benchmarks)."""
        self._client.delete_collection(self.name)
