"""Reading the app's YAML files (settings, manifest, catalogue, advice cards) with libyaml where present:
the advice cards alone took a second to parse in pure Python on every start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str) -> Any:
    """Safe-load YAML text (no Python objects), with the C parser when PyYAML was built with it."""
    return yaml.load(text, Loader=Loader)


def read_yaml(path: Path) -> Any:
    return parse_yaml(path.read_text(encoding="utf-8"))
