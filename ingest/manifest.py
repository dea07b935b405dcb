"""Read `corpus/manifest.yaml`: per document id, title, publisher, year, source URL and licence."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from ground.errors import ConfigError
from ground.yamlfile import read_yaml

MANIFEST_NAME = "manifest.yaml"
LOCK_NAME = "manifest.lock.yaml"  # written by `dxnavi corpus fetch`: what each download resolved to


class Discovery(BaseModel):
    """Where to find a document's PDF: its official landing page and how to tell its link from the others."""

    page: str
    words: list[str] = Field(default_factory=list)  # all in the link text, its context or the file name
    exclude: list[str] = Field(default_factory=list)  # none in the link text or file name (概要, 英語版)
    file_pattern: str | None = None  # a regular expression the PDF's file name must contain

    @field_validator("file_pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"file_pattern の正規表現が正しくありません: {exc}") from exc
        return value


class DocumentInfo(BaseModel):
    id: str
    title: str
    file: str
    publisher: str | None = None
    year: int | None = None
    url: str | None = None
    download_url: str | None = None  # a fixed PDF URL (else `discover` finds it on the landing page)
    discover: Discovery | None = None
    sha256: str | None = None
    size: int | None = None
    license: str | None = None
    attribution: str | None = None
    # Ids of older versions this document replaces (DGC 3.0 replaces 2.0): answers prefer this one and
    # label quotes from those as 旧版.
    supersedes: list[str] = Field(default_factory=list)

    @field_validator("supersedes", mode="before")
    @classmethod
    def _as_list(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


def load_manifest(corpus_dir: Path) -> dict[str, DocumentInfo]:
    """Manifest entries keyed by file name; an absent manifest is an empty one."""
    path = corpus_dir / MANIFEST_NAME
    if not path.is_file():
        return {}
    try:
        raw = read_yaml(path) or {}
        docs = [DocumentInfo(**entry) for entry in raw.get("documents", [])]
    except (yaml.YAMLError, ValidationError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path} の書式が正しくありません: {exc}") from exc
    return {doc.file: doc for doc in docs}


def doc_id_for(path: Path) -> str:
    """A document id from a file name for files without a manifest entry."""
    slug = re.sub(r"[^\w\-]+", "-", path.stem, flags=re.UNICODE).strip("-").lower()
    return slug or "document"
