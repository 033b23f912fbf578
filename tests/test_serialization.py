"""Saving and loading: exact round trips, and clear errors for every kind of bad file."""

import json
import pickle
import zipfile

import numpy as np
import pytest

import babysit
from babysit import nn
from babysit.errors import CheckpointError
from babysit.serialization import load_arrays, save_arrays


def model():
    rng = np.random.default_rng(0)
    return nn.Sequential(
        nn.Linear(4, 6, rng=rng), nn.PReLU(), nn.Residual(nn.Sequential(nn.Linear(6, 6, rng=rng), nn.Tanh())),
        nn.Maxout(6, 3, pieces=2, rng=rng), nn.Linear(3, 2, bias=False, rng=rng),
    )


def test_round_trip_rebuilds_architecture_and_weights(tmp_path):
    original = model()
    original.save(tmp_path / "model.npz")
    loaded = babysit.load(tmp_path / "model.npz")
    assert repr(loaded) == repr(original)
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded(x), original(x))


def test_float64_models_stay_float64(tmp_path):
    original = model().double()
    original.save(tmp_path / "m")
    assert babysit.load(tmp_path / "m").dtype == np.float64


def test_saved_head_replacement_is_kept(tmp_path):
    original = model()
    original[-1] = nn.Linear(3, 5, rng=0)
    original.save(tmp_path / "m.npz")
    assert babysit.load(tmp_path / "m.npz")(np.ones((1, 4), dtype=np.float32)).shape == (1, 5)


def test_truncated_file_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    model().save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"m\.npz.*truncated or corrupted"):
        babysit.load(path)


def test_flipped_byte_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    model().save(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError):
        babysit.load(path)


def test_rewritten_arrays_fail_their_digest(tmp_path):
    """A consistent zip with a changed weight: the zip's CRCs pass, our digests do not."""
    path, forged = tmp_path / "m.npz", tmp_path / "forged.npz"
    model().save(path)
    with np.load(path) as archive:
        contents = {name: archive[name] for name in archive.files}
    contents["a/0.weight"] = contents["a/0.weight"] + 1
    np.savez(forged, **contents)
    with pytest.raises(CheckpointError, match=r"'0\.weight' does not match its digest"):
        babysit.load(forged)


def test_mismatched_arrays_are_refused(tmp_path):
    path = tmp_path / "m.npz"
    architecture = babysit.serialization.encode_module(model())
    save_arrays(path, {"0.weight": np.zeros((2, 2))}, {"kind": "model", "architecture": architecture})
    with pytest.raises(CheckpointError, match="do not fit the architecture"):
        babysit.load(path)


def test_unknown_class_is_refused_without_running_anything(tmp_path):
    path = tmp_path / "m.npz"
    architecture = {"class": "os.system", "config": {"command": "touch pwned"}}
    save_arrays(path, {}, {"kind": "model", "architecture": architecture})
    with pytest.raises(CheckpointError, match=r"unknown module class 'os\.system'"):
        babysit.load(path)
    assert not (tmp_path / "pwned").exists()


def test_pickled_payload_is_never_unpickled(tmp_path):
    """An .npz entry holding a pickle (object array) is refused by allow_pickle=False."""

    class Exploit:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    path = tmp_path / "evil.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("__metadata__.npy", b"")
        with archive.open("a/x.npy", "w") as stream:
            np.lib.format.write_array(stream, np.array([Exploit()], dtype=object), allow_pickle=True)
    with pytest.raises(CheckpointError):
        babysit.load(path)
    assert not (tmp_path / "pwned").exists()
    assert pickle  # the exploit above is a real pickle payload


def test_not_a_babysit_file(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, x=np.zeros(3))
    with pytest.raises(CheckpointError, match="not a babysit file"):
        babysit.load(path)
    with pytest.raises(CheckpointError, match="no such file"):
        babysit.load(tmp_path / "missing.npz")


def test_interrupted_save_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    original = model()
    original.save(path)
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", fail)
    with pytest.raises(KeyboardInterrupt):
        original.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary left behind


def test_save_arrays_round_trip_with_metadata(tmp_path):
    arrays = {"a": np.arange(6.0).reshape(2, 3), "b": np.array([1, 2], dtype=np.int64)}
    save_arrays(tmp_path / "s.npz", arrays, {"kind": "state", "step": 7})
    loaded, metadata = load_arrays(tmp_path / "s.npz")
    assert metadata["step"] == 7 and metadata["kind"] == "state"
    for name, value in arrays.items():
        np.testing.assert_array_equal(loaded[name], value)
        assert loaded[name].dtype == value.dtype


def test_unsaveable_argument_is_named(tmp_path):
    class Odd(nn.Module):
        def __init__(self, thing):
            super().__init__()
            self.thing = thing

        def forward(self, x):
            return x

    try:
        with pytest.raises(TypeError, match=r"Odd.thing=<object"):
            Odd(object()).save(tmp_path / "odd.npz")
    finally:
        nn.MODULE_REGISTRY.pop("Odd", None)
    assert json  # metadata is JSON
