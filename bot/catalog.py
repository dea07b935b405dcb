"""Load the agency, stage and clause catalogs (YAML data files in bot/data/)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import get_args

from pydantic import BaseModel, Field

from bot.schemas import Intent
from ground.yamlfile import read_yaml

DATA_DIR = Path(__file__).resolve().parent / "data"


class Agency(BaseModel):
    id: str
    name: str
    keywords: list[str] = Field(default_factory=list)  # words of the agency or of what it helps with
    names: list[str] = Field(default_factory=list)  # words that name the agency itself (ASCII lower-case)
    needs: list[str] = Field(default_factory=list)
    helps_with: str
    when_to_go: str
    reason: str
    what_to_ask: list[str]
    quotes: list[str]
    regions: list[str] = Field(default_factory=list)


class Stage(BaseModel):
    level: int
    label: str
    description_quote: str
    example_quotes: list[str]
    cues: list[str]
    next_step_quotes: list[str] = Field(default_factory=list)


class Clauses(BaseModel):
    pillars: dict[str, str]
    viewpoints: dict[str, str]


@lru_cache(maxsize=1)
def agencies() -> list[Agency]:
    raw = read_yaml(DATA_DIR / "agencies.yaml")
    return [Agency(**entry) for entry in raw]


@lru_cache(maxsize=1)
def stages() -> list[Stage]:
    raw = read_yaml(DATA_DIR / "stages.yaml")
    return sorted((Stage(**entry) for entry in raw), key=lambda s: s.level)


@lru_cache(maxsize=1)
def clauses() -> Clauses:
    return Clauses(**read_yaml(DATA_DIR / "clauses.yaml"))


def lab_regions() -> list[str]:
    return [r for a in agencies() for r in a.regions]


@lru_cache(maxsize=1)
def intent_examples() -> dict[Intent, list[str]]:
    """Example questions per intent, for the nearest-neighbour router."""
    raw = read_yaml(DATA_DIR / "intent_examples.yaml") or {}
    valid = set(get_args(Intent))
    unknown = set(raw) - valid
    if unknown:
        raise ValueError(f"intent_examples.yaml: unknown intents {sorted(unknown)}; valid: {sorted(valid)}")
    return {intent: [str(q) for q in questions] for intent, questions in raw.items()}
