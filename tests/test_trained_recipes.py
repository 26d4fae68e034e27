"""spikefab.trained's recipes: the QAT recipe mnist5k-w4 shares mnist5k's float training."""

import pytest
from spikefab import trained


def test_the_w4_recipe_fine_tunes_mnist5k_float_network_to_4_bit_weights():
    assert trained._config("mnist5k-w4", 0) == trained._config("mnist5k", 0)
    base, qat = trained.QAT_RECIPES["mnist5k-w4"]
    assert base == "mnist5k" and qat["w_bits"] == 4
    # its own cache folder: the QAT settings are in the hash
    assert trained._sources_hash("mnist5k-w4", 0) != trained._sources_hash("mnist5k", 0)


def test_an_unknown_recipe_names_every_choice():
    with pytest.raises(ValueError, match="^trained network must be one of digits, digits-spikes, "
                                         "mnist5k, mnist5k-w4, not 'mnist'$"):
        trained.load("mnist")
