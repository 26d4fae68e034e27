"""Shared fixtures for the fast tests."""

from pathlib import Path

import pytest
from spikefab.golden.vectors import load_vector, vector_paths

VECTOR_DIR = Path(__file__).parent / "vectors"


def _vectors(kind):
    return [v for v in map(load_vector, vector_paths(VECTOR_DIR)) if v["kind"] == kind]


def _extensions(vector) -> set[str]:
    if vector["kind"] == "lif":
        return vector["spec"].extensions()
    return set(vector["net"].spec.semantics.split("+")[1:])


def vectors_within(kind: str, extensions) -> list[dict]:
    """The vectors of ``kind`` that use only the named ``extensions`` (a part that does not
    implement every extension yet is tested on these, and must refuse the others)."""
    return [v for v in _vectors(kind) if _extensions(v) <= set(extensions)]


def vectors_beyond(kind: str, extensions) -> list[dict]:
    """The vectors of ``kind`` that use an extension outside ``extensions``."""
    return [v for v in _vectors(kind) if not _extensions(v) <= set(extensions)]


@pytest.fixture(params=_vectors("lif"), ids=lambda v: v["name"])
def lif_vector(request):
    """Each hand-checked single-neuron trajectory."""
    return request.param


@pytest.fixture(params=_vectors("network"), ids=lambda v: v["name"])
def network_vector(request):
    """Each hand-checked whole-network trajectory."""
    return request.param
