"""Shared fixtures: paths to the bundled fixtures and the external corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def corpus() -> Path:
    """``../shared/corpus``; tests using it skip (with the reason) when it is absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"external corpus not found at {CORPUS} (clone the project beside shared/ to run these)")
    return CORPUS
