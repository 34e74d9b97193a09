import numpy as np
import pytest

from autophagy import checkpoint


def _files():
    arrays = {"backend/w": np.arange(6, dtype=np.float32).reshape(2, 3), "history/0/x": np.zeros((4, 1, 8, 8), np.uint8)}
    return checkpoint.pack(arrays, {"chain_id": "c", "next_generation": 1})


def test_round_trip(tmp_path):
    checkpoint.write_dir(_files(), tmp_path / "ck")
    arrays, meta = checkpoint.unpack(checkpoint.read_dir(tmp_path / "ck"))
    assert np.array_equal(arrays["backend/w"], np.arange(6, dtype=np.float32).reshape(2, 3))
    assert arrays["history/0/x"].dtype == np.uint8 and meta["next_generation"] == 1


def test_corrupt_state_is_detected_by_checksum():
    files = _files()
    blob = bytearray(files[checkpoint.STATE])
    blob[-1] ^= 0xFF
    files[checkpoint.STATE] = bytes(blob)
    with pytest.raises(checkpoint.CheckpointError, match=r"ck/state.safetensors: corrupt \(sha256"):
        checkpoint.unpack(files, "ck")


@pytest.mark.parametrize("missing", [checkpoint.STATE, checkpoint.META])
def test_missing_file_is_named(missing):
    files = _files()
    del files[missing]
    with pytest.raises(checkpoint.CheckpointError, match=f"incomplete checkpoint, {missing} is missing"):
        checkpoint.unpack(files, "ck")


def test_garbled_meta_is_named():
    files = _files()
    files[checkpoint.META] = b"{not json"
    with pytest.raises(checkpoint.CheckpointError, match="ck/meta.json: corrupt"):
        checkpoint.unpack(files, "ck")


def test_checkpoint_is_not_pickle():
    assert not _files()[checkpoint.STATE].startswith(b"\x80")  # pickle protocol marker
