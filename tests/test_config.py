"""The config: every key checked against its type and its allowed values wherever a config is made."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from tagger.cli.main import main
from tagger.config import ALLOWED, ConfigError, TaggerConfig

BAD = [
    ("batch_size", 0),
    ("batch_size", -1),
    ("epochs", 0),
    ("patience", 0),
    ("dropout", -0.1),
    ("dropout", 1.0),
    ("lr", 0.0),
    ("lr", -0.001),
    ("lr", math.nan),
    ("lr", math.inf),
    ("hidden", 0),
    ("layers", 0),
    ("char_kernel", 0),
    ("char_kernel", 4),
    ("threads", -1),
    ("dev_fraction", 0.0),
    ("dev_fraction", 1.0),
    ("word_dim", 0),
    ("char_dim", 0),
    ("char_hidden", 0),
    ("casing_dim", -1),
    ("unk_replace", -0.5),
    ("unk_replace", 1.5),
    ("min_word_count", 0),
    ("momentum", -0.1),
    ("momentum", 1.0),
    ("weight_decay", -1e-5),
    ("weight_decay", math.nan),
    ("lr_decay", -0.05),
    ("clip_grad_norm", -1.0),
    ("clip_grad_norm", math.inf),
    ("weight_average", 1.0),  # an average that never moves
    ("weight_average", -0.5),
    ("vectors_keep", -1),
    ("seed", -1),
    ("seed", 2**32),
    ("unfreeze_after", -1),
    ("char_encoder", "gru"),
    ("optimizer", "rprop"),
    ("init", "ones"),
    ("init_scale", -0.1),
    ("beta1", 1.0),
    ("beta2", -0.5),
    ("rho", 1.5),
    ("rmsprop_alpha", -1.0),
    ("eps", -1e-8),
    ("forget_bias", math.nan),
    ("char_lm_layers", 0),
    ("char_lm_hidden", -1),
    ("vectors_format", "bin"),
    ("scheme", "BILOU"),
]
EDGES = {
    "dropout": 0.0,
    "unk_replace": 1.0,
    "casing_dim": 0,
    "threads": 0,
    "clip_grad_norm": 0.0,
    "momentum": 0.0,
    "char_kernel": 1,
    "seed": 0,
    "dev_fraction": 0.999,
}


def test_every_key_declares_what_it_allows():
    assert set(ALLOWED) == {field.name for field in dataclasses.fields(TaggerConfig)}


@pytest.mark.parametrize("key, value", BAD)
def test_a_value_out_of_range_is_refused_naming_the_key(key, value):
    with pytest.raises(ConfigError, match=rf"^{key}\b.* must be "):
        TaggerConfig(**{key: value})
    with pytest.raises(ConfigError, match=rf"^config.json: {key}\b"):
        TaggerConfig.from_dict({key: value}, "config.json")


def test_the_edges_of_each_range_are_allowed():
    config = TaggerConfig(**EDGES)
    assert {key: getattr(config, key) for key in EDGES} == EDGES


def test_a_changed_copy_is_checked_too():
    with pytest.raises(ConfigError, match="patience must be an integer >= 1, not 0"):
        dataclasses.replace(TaggerConfig(), patience=0)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"hidden": "200"}, 'hidden must be an integer, not "200" \\(a string\\)'),
        ({"hidden": True}, "hidden must be an integer, not true \\(a bool\\)"),
        ({"hidden": 1.5}, "hidden must be an integer, not 1.5 \\(a number\\)"),
        ({"lowercase": 1}, "lowercase must be true or false, not 1 \\(an integer\\)"),
        ({"lowercase": "false"}, 'lowercase must be true or false, not "false" \\(a string\\)'),
        ({"lr": "0.01"}, 'lr must be a number, not "0.01" \\(a string\\)'),
        ({"lr": None}, "lr must be a number, not null"),
        ({"char_encoder": 5}, "char_encoder must be a string, not 5 \\(an integer\\)"),
        ({"epochs": [3]}, "epochs must be an integer, not a list"),
        ({"hiden": 3}, "unknown config keys: hiden"),
    ],
)
def test_json_values_must_have_their_keys_type(values, message):
    with pytest.raises(ConfigError, match=f"^model/config.json: {message}"):
        TaggerConfig.from_dict(values, "model/config.json")


def test_json_numbers_are_converted_where_that_loses_nothing():
    config = TaggerConfig.from_dict({"lr": 1, "hidden": 200.0})
    assert (config.lr, config.hidden) == (1.0, 200)
    assert isinstance(config.lr, float) and isinstance(config.hidden, int)
    assert TaggerConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_command_line_values_are_parsed_as_their_keys_type():
    config = TaggerConfig().with_overrides(["lowercase=no", "hidden=64", "lr=1e-3", "vectors=v.txt", "scheme=bioes"])
    assert (config.lowercase, config.hidden, config.lr, config.vectors, config.scheme) == (
        False,
        64,
        0.001,
        "v.txt",
        "IOBES",
    )
    for assignment, message in [
        ("hidden=1.5", "hidden must be an integer, not '1.5'"),
        ("lr=fast", "lr must be a number, not 'fast'"),
        ("lr=nan", "lr must be a finite number > 0, not nan"),
        ("lowercase=maybe", "lowercase must be true or false, not 'maybe'"),
        ("batch_size=-3", "batch_size must be an integer >= 1, not -3"),
        ("hidden", "expected key=value"),
    ]:
        with pytest.raises(ConfigError, match=message):
            TaggerConfig().with_overrides([assignment])


def test_a_config_file_that_is_not_an_object_is_a_clear_error(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("[1, 2]")
    with pytest.raises(ConfigError, match=f"{path}: expected a JSON object of config keys, found list"):
        TaggerConfig.from_file(path)
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"hidden": 8}).encode())  # a byte-order mark is fine
    assert TaggerConfig.from_file(path).hidden == 8
    path.write_text(json.dumps({"config": {"dropout": 2}}))
    with pytest.raises(ConfigError, match=f"{path}: dropout must be a finite number >= 0 and < 1, not 2.0"):
        TaggerConfig.from_file(path)


@pytest.mark.parametrize("setting", ["batch_size=-1", "batch_size=0", "epochs=0", "dropout=1", "lr=0"])
def test_training_with_a_bad_setting_stops_before_it_starts(sample, tmp_path, capsys, setting):
    output = tmp_path / "run"
    code = main(["train", "--train", str(sample / "train.tsv"), "--output", str(output), "--set", setting])
    assert code == 2
    error = capsys.readouterr().err
    assert error.startswith(f"tagger train: error: {setting.split('=')[0]} must be ") and error.count("\n") == 1
    assert not output.exists()


def test_numpy_numbers_count_as_python_ones():
    numpy = pytest.importorskip("numpy")
    config = TaggerConfig(hidden=numpy.int64(64), lr=numpy.float32(0.5), lowercase=numpy.bool_(False))
    assert (type(config.hidden), type(config.lr), config.lowercase) == (int, float, False)
    assert json.loads(json.dumps(config.to_dict()))["hidden"] == 64
    with pytest.raises(ConfigError, match="lowercase must be true or false, not 1"):
        TaggerConfig(lowercase=numpy.int64(1))
