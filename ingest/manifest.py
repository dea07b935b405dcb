"""Read `corpus/manifest.yaml`: per document id, title, publisher, year, source URL and licence."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from ground.errors import ConfigError
from ground.yamlfile import read_yaml

MANIFEST_NAME = "manifest.yaml"


class DocumentInfo(BaseModel):
    id: str
    title: str
    file: str
    publisher: str | None = None
    year: int | None = None
    url: str | None = None
    download_url: str | None = None
    sha256: str | None = None
    size: int | None = None
    license: str | None = None
    attribution: str | None = None


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
