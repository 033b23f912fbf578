"""Configs: validation errors that name the key and the allowed values, input sizes inferred, the build."""

from pathlib import Path

import numpy as np
import pytest

from babysit import nn
from babysit.config import ConfigError, dump_config, load_config, read_yaml
from babysit.config.build import build, load_data, make_schedule
from babysit.config.model import build_model

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def tiny(**changes) -> dict:
    """A small valid config on spirals; ``changes`` replace top-level keys."""
    config = {
        "seed": 0,
        "data": {"name": "spirals", "n_train": 60, "n_test": 30},
        "model": [{"type": "Linear", "out_features": 16}, "ReLU", {"type": "Linear", "out_features": 3}],
        "optimizer": {"type": "adam", "lr": 1e-2},
        "epochs": 2,
        "batch_size": 16,
    }
    config.update(changes)
    return config


def problems(config) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    return caught.value.problems


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_every_example_config_is_valid(path):
    config = load_config(path)
    assert config.epochs >= 1 and config.model


def test_an_unknown_layer_names_its_position_the_allowed_layers_and_the_closest():
    config = tiny(model=[{"type": "Linear", "out_features": 8}, "Relu", {"type": "Linear", "out_features": 3}])
    (problem,) = problems(config)
    assert problem.startswith("model[1].type: unknown layer 'Relu' (did you mean 'ReLU'?); allowed: Linear, Conv1d")
    assert "BatchNorm1d" in problem and "Residual" in problem


def test_an_unknown_argument_is_named_with_the_arguments_that_exist():
    (problem,) = problems(tiny(model=[{"type": "Linear", "out_feature": 3}]))
    assert problem == ("model[0]: Linear has no argument 'out_feature' (did you mean 'out_features'?); "
                       "allowed: in_features, out_features, init, bias, bias_init")


def test_a_missing_argument_is_named():
    (problem,) = problems(tiny(model=[{"type": "Conv1d", "out_channels": 4}]))
    assert problem.startswith("model[0]: Conv1d needs 'kernel_size'")


def test_every_problem_is_reported_once_each_led_by_its_key():
    config = tiny(epochs=0, batch_size="many", optimizer={"type": "Adamm"}, checks=["gradcheck"], extra=1,
                  babysitter={"evry": 5})
    found = problems(config)
    assert len(found) == 6
    assert "epochs: Input should be greater than or equal to 1 (got 0)" in found
    assert any(p.startswith("batch_size: Input should be a valid integer") and "'many'" in p for p in found)
    assert any(p.startswith("optimizer.type: unknown optimizer 'Adamm' (did you mean 'adam'?); allowed: sgd,")
               for p in found)
    assert any(p.startswith("checks[0]: unknown check 'gradcheck' (did you mean 'gradient_check'?)") for p in found)
    assert any(p.startswith("extra: unknown key; allowed: seed, data, preprocessing, augment, model,") for p in found)
    assert "babysitter.evry: unknown key (did you mean 'every'?); allowed: enabled, every, good_accuracy, gap" in found


def test_data_keys_and_values_are_checked():
    assert problems(tiny(data={"name": "mnist"})) == [
        "data: data set 'mnist' is read from your files: give data.path (the folder or archive you downloaded)"]
    assert problems(tiny(data={"name": "spirals", "path": "x"}))[0].startswith(
        "data: data set 'spirals' is built in and takes no path")
    (problem,) = problems(tiny(data={"name": "spirals", "nosie": 0.1}))
    assert problem == ("data: data set 'spirals' has no key 'nosie' (did you mean 'noise'?); allowed: name, "
                       "val_size, reshape, seed, n_train, n_test, n_classes, noise")
    (problem,) = problems(tiny(data={"name": "spirals", "val_size": 1.5}))
    assert problem.startswith("data.val_size: must be a fraction in (0, 1) or a number of examples >= 1, got 1.5")
    assert problems(tiny(data={"name": "cifar100"}))[0].startswith(
        "data.name: unknown data set 'cifar100' (did you mean 'cifar10'?); allowed: mnist1d, mnist1d_shuffled,")


def test_rules_across_sections_name_the_key():
    (problem,) = problems(tiny(callbacks=["EarlyStopping"]))
    assert problem.startswith("callbacks[0].monitor: EarlyStopping watches 'val_loss', which needs a validation "
                              "split: set data.val_size")
    config = tiny(data={"name": "spirals", "val_size": 0.2}, schedule="cosine",
                  callbacks=[{"type": "ReduceLROnPlateau", "patience": 2}])
    assert problems(config)[0].startswith("callbacks[0].type: ReduceLROnPlateau sets the rate itself")
    load_config(tiny(callbacks=[{"type": "EarlyStopping", "monitor": "loss"}]))  # no split needed


def test_the_rate_must_be_a_positive_number():
    expected = ["optimizer: sgd's lr must be a number > 0, got 'fast'"]
    assert problems(tiny(optimizer={"type": "sgd", "lr": "fast"})) == expected
    assert problems(tiny(optimizer={"type": "sgd", "lr": 0}))[0].endswith("got 0")


def test_lbfgs_is_refused_with_the_reason():
    (problem,) = problems(tiny(optimizer="lbfgs"))
    assert problem.startswith("optimizer.type: lbfgs needs a closure")


def test_the_file_name_leads_the_message(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("seed: 0\ndata: {name: spirals}\nmodel: [Relu]\noptimizer: adam\nepochs: 1\nbatch_size: 8\n")
    with pytest.raises(ConfigError, match=r"^.*run\.yaml: model\[0\]\.type: unknown layer 'Relu'"):
        load_config(path)


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("seed: 0\nmodel: [Linear\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml: not valid YAML: line 3"):
        load_config(path)


def test_yaml_exponents_without_a_dot_are_numbers():
    assert read_yaml("lr: 1e-3\nn: 10\nname: 1e3x\n") == {"lr": 1e-3, "n": 10, "name": "1e3x"}


def test_shorthands_bare_names_and_nested_args():
    config = load_config(tiny(optimizer={"type": "Adam", "args": {"lr": 0.05, "weight_decay": 1e-4}},
                              loss="MulticlassHinge"))
    assert config.optimizer.type == "adam" and config.optimizer.args == {"lr": 0.05, "weight_decay": 1e-4}
    assert config.loss.type == "MulticlassHinge" and config.model[1].type == "ReLU"
    assert problems(tiny(optimizer={"type": "adam", "lr": 0.1, "args": {"lr": 0.2}}))[0].startswith(
        "optimizer: ['lr'] given both next to type and under args")


def test_dumped_config_reads_back_the_same():
    config = load_config(ROOT / "examples" / "mnist1d_cnn.yaml")
    assert load_config(read_yaml(dump_config(config))) == config


# ---------------------------------------------------------------- input sizes
def _layers(*entries):
    return load_config(tiny(model=list(entries))).model


def test_linear_sizes_are_inferred_along_the_chain():
    model = build_model(_layers({"type": "Linear", "out_features": 7}, "Tanh", {"type": "Linear", "out_features": 3}),
                        np.zeros((2, 5), np.float32), np.random.default_rng(0))
    assert [layer.short_repr() for layer in model] == ["Linear(5 -> 7)", "Tanh()", "Linear(7 -> 3)"]


def test_conv_norm_and_linear_sizes_are_inferred_from_the_shape_that_reaches_them():
    layers = _layers({"type": "Conv1d", "out_channels": 6, "kernel_size": 3, "stride": 2}, "BatchNorm1d", "ReLU",
                     {"type": "GroupNorm", "num_groups": 3}, {"type": "LayerNorm"}, "Flatten",
                     {"type": "Linear", "out_features": 4})
    model = build_model(layers, np.zeros((2, 2, 11), np.float32), np.random.default_rng(0))
    conv, norm, _, group, layer_norm, _, linear = model
    assert (conv.in_channels, norm.num_features, group.num_channels) == (2, 6, 6)
    assert tuple(layer_norm.normalized_shape) == (6, 5)
    assert (linear.in_features, linear.out_features) == (30, 4)
    assert model.training  # built in eval mode for the trial pass, handed over ready to train


def test_residual_blocks_are_inferred_inside():
    layers = _layers({"type": "Linear", "out_features": 8},
                     {"type": "Residual", "block": [{"type": "Linear", "out_features": 8}, "ReLU"], "drop_prob": 0.1})
    model = build_model(layers, np.zeros((2, 3), np.float32), np.random.default_rng(0))
    assert isinstance(model[1], nn.Residual) and model[1].block[0].in_features == 8


def test_a_linear_after_a_conv_asks_for_flatten():
    layers = _layers({"type": "Conv1d", "out_channels": 4, "kernel_size": 3}, {"type": "Linear", "out_features": 2})
    with pytest.raises(ConfigError, match=r"model\[1\] \(Linear\): reads \(N, features\) but receives \(N, 4, 8\): "
                                          r"put \{type: Flatten\} before it"):
        build_model(layers, np.zeros((2, 1, 10), np.float32), np.random.default_rng(0))


def test_a_given_input_size_must_match_the_data():
    layers = _layers({"type": "Linear", "in_features": 4, "out_features": 2})
    with pytest.raises(ConfigError, match=r"model\[0\]\.in_features: is 4 but the input reaching Linear is \(N, 5\)"):
        build_model(layers, np.zeros((2, 5), np.float32), np.random.default_rng(0))


def test_a_layer_that_refuses_its_input_is_named_with_the_input():
    layers = _layers({"type": "Conv1d", "out_channels": 4, "kernel_size": 9})
    with pytest.raises(ConfigError, match=r"model\[0\] \(Conv1d\): .*\(its input: \(N, 1, 5\)\)"):
        build_model(layers, np.zeros((2, 1, 5), np.float32), np.random.default_rng(0))


# ---------------------------------------------------------------- build
def test_the_same_config_builds_the_same_run_and_another_seed_another_on_the_same_data():
    first, second = build(load_config(tiny())), build(load_config(tiny()))
    third = build(load_config(tiny(seed=1)))
    assert np.array_equal(first.model[0].weight.data, second.model[0].weight.data)
    assert not np.array_equal(first.model[0].weight.data, third.model[0].weight.data)
    assert np.array_equal(first.data.x_test, third.data.x_test)  # data.seed draws the data, not the run's seed
    other = build(load_config(tiny(data={"name": "spirals", "n_train": 60, "n_test": 30, "seed": 1})))
    assert not np.array_equal(first.data.x_test, other.data.x_test)


def test_optimizer_loss_penalties_and_callbacks_get_their_arguments(tmp_path):
    config = load_config(tiny(optimizer={"type": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True},
                              loss={"type": "MulticlassHinge", "margin": 2.0},
                              penalties=[{"type": "L2Penalty", "strength": 1e-3}],
                              callbacks=[{"type": "CSVLogger", "path": "log.csv"}, {"type": "ExplosionGuard",
                                                                                    "factor": 5}]))
    setup = build(config, out_dir=tmp_path)
    group = setup.optimizer.param_groups[0]
    assert (type(setup.optimizer).__name__, group["lr"], group["momentum"], group["nesterov"]) == ("SGD", 0.1, 0.9,
                                                                                                   True)
    assert setup.loss.margin == 2.0 and setup.penalties[0].strength == 1e-3
    logger, guard, babysitter = setup.callbacks
    assert logger.path == tmp_path / "log.csv" and guard.factor == 5 and babysitter is setup.babysitter


def test_a_value_the_class_refuses_is_named_by_its_key():
    with pytest.raises(ConfigError, match=r"callbacks\[0\] \(ExplosionGuard\): ExplosionGuard: factor must be"):
        build(load_config(tiny(callbacks=[{"type": "ExplosionGuard", "factor": 0.5}])))


def test_babysitter_off_and_settings():
    assert build(load_config(tiny(babysitter=False))).babysitter is None
    assert build(load_config(tiny(babysitter={"every": 3}))).babysitter.every == 3


def test_schedules_take_the_rate_and_length_from_the_run():
    config = load_config(tiny(schedule="cosine"))  # 60 examples / 16 = 4 batches, 2 epochs
    schedule, per = make_schedule(config, 4)
    assert (schedule.lr, schedule.total_steps, per) == (1e-2, 8, "batch")
    config = load_config(tiny(epochs=10, schedule={"type": "one_cycle", "per": "epoch"}))
    schedule, per = make_schedule(config, 4)
    assert (schedule.max_lr, schedule.total_steps, per) == (1e-2, 10, "epoch")
    warm, _ = make_schedule(load_config(tiny(schedule={"type": "linear_warmup", "warmup_steps": 4})), 4)
    assert warm(0) == 0.0 and warm(4) == pytest.approx(1e-2)
    joined, _ = make_schedule(load_config(tiny(epochs=10, schedule={
        "type": "join", "schedules": [{"type": "linear_warmup", "warmup_steps": 5}, "cosine"], "boundaries": [5]})), 4)
    assert joined.schedules[1].total_steps == 35 and joined(40 - 1) < 1e-4


def test_planned_lr_is_the_schedule_peak():
    setup = build(load_config(tiny(schedule={"type": "one_cycle", "max_lr": 0.3})))
    assert setup.planned_lr == pytest.approx(0.3, rel=0.05)


def test_preprocessing_is_fitted_on_the_training_split_only():
    config = load_config(tiny(data={"name": "blobs", "val_size": 0.2}, preprocessing=["standardize"]))
    setup = build(config)
    raw = load_data(config.data)
    assert np.allclose(setup.data.x_train.mean(axis=0), 0, atol=1e-5)
    assert np.allclose(setup.data.x_train.std(axis=0), 1, atol=1e-4)
    mean, std = raw.x_train.mean(axis=0), raw.x_train.std(axis=0)
    assert np.allclose(setup.data.x_test, (raw.x_test - mean) / std, atol=1e-4)
    assert np.allclose(setup.data.x_val, (raw.x_val - mean) / std, atol=1e-4)


def test_reshape_gives_conv_layers_their_channel_axis():
    config = load_config(tiny(data={"name": "spirals", "n_train": 60, "n_test": 30, "reshape": [1, 2]},
                              model=[{"type": "Conv1d", "out_channels": 2, "kernel_size": 1}, "Flatten",
                                     {"type": "Linear", "out_features": 3}]))
    assert build(config).data.x_test.shape == (30, 1, 2)
    bad = load_config(tiny(data={"name": "spirals", "reshape": [3]}))
    with pytest.raises(ConfigError, match=r"data.reshape: \[3\] holds 3 values but each example of spirals has shape"):
        build(bad)
