"""Sample strips (autophagy/sample_strips.py): PNG round trip, atomic writes, a chain's strips read back."""

import numpy as np
import pytest

from autophagy import sample_strips


def test_grid_strip_round_trips():
    images = np.random.default_rng(0).integers(0, 256, (3, 1, 4, 5), dtype=np.uint8)
    strip = sample_strips.decode(sample_strips.encode(images))
    assert strip.shape == (4, 3 * 6 - 1)
    for i in range(3):
        np.testing.assert_array_equal(strip[:, i * 6:i * 6 + 5], images[i, 0])
    assert (strip[:, 5] == 128).all()


def test_encode_refuses_what_is_not_uint8_images():
    with pytest.raises(ValueError, match="sample_strips.encode: needs uint8"):
        sample_strips.encode(np.zeros((2, 1, 4, 4), np.float32))
    with pytest.raises(ValueError, match="needs uint8"):
        sample_strips.encode(np.zeros((2, 2, 4, 4), np.uint8))  # 2 channels: neither grey nor RGB


def test_a_rewritten_strip_replaces_the_old_one_and_the_chain_reads_back_in_order(tmp_path):
    grey = np.zeros((2, 1, 3, 3), np.uint8)
    rgb = np.full((2, 3, 3, 3), 200, np.uint8)
    for g in (2, 0):
        sample_strips.write(tmp_path, "c", g, sample_strips.encode(grey))
    sample_strips.write(tmp_path, "c", 2, sample_strips.encode(rgb))  # a retried generation
    strips = sample_strips.read_chain(tmp_path, "c")
    assert list(strips) == [0, 2]
    assert strips[0].shape == (3, 7) and strips[2].shape == (3, 7, 3)
    assert not list((tmp_path / "grids" / "c").glob("*.tmp*"))  # no temporary left
    assert sample_strips.read_chain(tmp_path, "absent") == {}
