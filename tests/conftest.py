"""Shared fixtures for the fast tests."""

from pathlib import Path

import pytest
from spikefab.golden.vectors import load_vector, vector_paths

VECTOR_DIR = Path(__file__).parent / "vectors"


def _vectors(kind):
    return [v for v in map(load_vector, vector_paths(VECTOR_DIR)) if v["kind"] == kind]


@pytest.fixture(params=_vectors("lif"), ids=lambda v: v["name"])
def lif_vector(request):
    """Each hand-checked single-neuron trajectory."""
    return request.param


@pytest.fixture(params=_vectors("network"), ids=lambda v: v["name"])
def network_vector(request):
    """Each hand-checked whole-network trajectory."""
    return request.param
