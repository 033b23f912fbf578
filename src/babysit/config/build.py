"""Turn a validated config into the objects of a run: data, model, loss, optimizer, schedule, callbacks.

Randomness comes from the config's ``seed`` alone, split into independent streams
(model init and random layers, the trainer's shuffling, the pre-flight checks), so the
same config builds the same run: that is what makes ``--resume`` exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from babysit.config.loading import ConfigError
from babysit.config.model import build_model
from babysit.config.names import (
    AUGMENTATIONS,
    CALLBACKS,
    DATASETS,
    FILE_DATASETS,
    LOSSES,
    PENALTIES,
    PREPROCESSORS,
    SCHEDULES,
)
from babysit.config.schema import Config, DataSpec, ScheduleSpec
from babysit.data import Dataset
from babysit.data.augment import Compose

#: Callback arguments that are file locations: relative ones are taken inside the run directory.
_PATH_ARGUMENTS = {"CSVLogger": "path", "ModelCheckpoint": "directory"}
#: How many training examples the model builder pushes through the layers to read their shapes.
_SHAPE_SAMPLE = 2


@dataclass
class Setup:
    """Everything a run needs, built from a :class:`Config`.

    ``data`` is preprocessed (fitted on its training split only); ``preprocessors`` are
    the fitted steps, in order; ``schedule`` is ``None`` or a callable step -> lr applied
    per ``schedule_per``; ``callbacks`` include the Babysitter when it is on.
    """

    config: Config
    data: Dataset
    preprocessors: list
    model: object
    loss: object
    penalties: list
    optimizer: object
    schedule: object
    schedule_per: str
    callbacks: list
    babysitter: object | None
    trainer_rng: np.random.Generator
    check_rng: np.random.Generator
    steps_per_epoch: int
    notes: list[str] = field(default_factory=list)
    transform: object = None  # the training batches' augmentation (a Compose), or None

    @property
    def planned_lr(self) -> float:
        """The highest rate the run will use: the optimizer's, or the schedule's peak."""
        if self.schedule is None:
            return self.config.optimizer.lr
        total = self.config.epochs * (self.steps_per_epoch if self.schedule_per == "batch" else 1)
        steps = np.unique(np.linspace(0, total - 1, min(total, 1000)).astype(int))
        return max(self.schedule(int(step)) for step in steps)


def build(config: Config, *, out_dir=None, data: Dataset | None = None) -> Setup:
    """Build a run from ``config``.

    Parameters
    ----------
    config : Config
    out_dir : str or Path, optional
        The run directory; relative file paths of callbacks (``CSVLogger.path``,
        ``ModelCheckpoint.directory``) are taken inside it.
    data : Dataset, optional
        Use these arrays instead of loading ``config.data`` (preprocessing still applies).

    Raises
    ------
    ConfigError
        A value the classes refuse (``optimizer: Adam's lr must be > 0``), or a shape that
        does not fit a layer, named by its key.
    """
    model_seed, trainer_seed, check_seed = np.random.SeedSequence(config.seed).spawn(3)
    data = load_data(config.data) if data is None else data
    data, preprocessors = preprocess(data, config)
    model = build_model(config.model, data.x_train[:_SHAPE_SAMPLE], np.random.default_rng(model_seed))
    loss = _make("loss", LOSSES[config.loss.type], config.loss.args)
    penalties = [_make(f"penalties[{i}]", PENALTIES[spec.type], spec.args) for i, spec in enumerate(config.penalties)]
    optimizer = make_optimizer(config, model.parameters())
    steps_per_epoch = -(-len(data.x_train) // config.batch_size)
    schedule, per = make_schedule(config, steps_per_epoch)
    callbacks = make_callbacks(config, out_dir)
    babysitter = make_babysitter(config)
    if babysitter is not None:
        callbacks.append(babysitter)
    return Setup(config, data, preprocessors, model, loss, penalties, optimizer, schedule, per, callbacks,
                 babysitter, np.random.default_rng(trainer_seed), np.random.default_rng(check_seed), steps_per_epoch,
                 transform=make_augmentation(config))


def make_augmentation(config: Config):
    """The config's ``augment`` list as one :class:`~babysit.data.augment.Compose` (``None`` when empty)."""
    if not config.augment:
        return None
    steps = [_make(f"augment[{i}]", AUGMENTATIONS[spec.type], spec.args) for i, spec in enumerate(config.augment)]
    return Compose(*steps)


def load_data(spec: DataSpec) -> Dataset:
    """The data set ``spec`` names, with its validation split and reshape."""
    arguments = {**spec.args, "val_size": spec.validation_size, "seed": spec.seed}
    if spec.name in FILE_DATASETS:
        arguments["path"] = spec.path
    try:
        data = DATASETS[spec.name](**arguments)
    except FileNotFoundError as error:
        raise ConfigError(f"data.path: {error}") from error
    except (TypeError, ValueError, ImportError) as error:
        raise ConfigError(f"data ({spec.name}): {error}") from error
    return data if spec.reshape is None else _reshape(data, spec.reshape)


def _reshape(data: Dataset, shape: list[int]) -> Dataset:
    sample = data.x_train.shape[1:]
    if int(np.prod(shape)) != int(np.prod(sample)):
        raise ConfigError(f"data.reshape: {shape} holds {int(np.prod(shape))} values but each example of "
                          f"{data.name} has shape {list(sample)} ({int(np.prod(sample))} values)")
    arrays = {name: getattr(data, name) for name in ("x_train", "x_val", "x_test")}
    return replace(data, **{name: None if x is None else x.reshape(len(x), *shape) for name, x in arrays.items()})


def preprocess(data: Dataset, config: Config) -> tuple[Dataset, list]:
    """Fit each preprocessing step on the training split, then transform every split with it."""
    fitted = []
    for index, spec in enumerate(config.preprocessing):
        step = _make(f"preprocessing[{index}]", PREPROCESSORS[spec.type], spec.args, name=spec.type)
        try:
            step.fit(data.x_train)
            data = replace(data, x_train=step.transform(data.x_train), x_test=step.transform(data.x_test),
                           x_val=None if data.x_val is None else step.transform(data.x_val))
        except ValueError as error:
            raise ConfigError(f"preprocessing[{index}] ({spec.type}): {error}") from error
        fitted.append(step)
    return data, fitted


def make_optimizer(config: Config, params, lr: float | None = None):
    """The configured optimizer over ``params`` (at rate ``lr`` when given)."""
    arguments = config.optimizer.args if lr is None else {**config.optimizer.args, "lr": lr}
    return _make("optimizer", config.optimizer.target, arguments, params)


def optimizer_factory(config: Config):
    """``(params, lr) -> optimizer`` of the configured kind: what the range test and the checks take."""
    return lambda params, lr: make_optimizer(config, params, lr)


def make_schedule(config: Config, steps_per_epoch: int):
    """``(schedule or None, "batch" or "epoch")``, with left-out rates and lengths filled in."""
    spec = config.schedule
    if spec is None:
        return None, "batch"
    per = spec.per or "batch"
    total = config.epochs * (steps_per_epoch if per == "batch" else 1)
    return _schedule(spec, config.optimizer.lr, total, "schedule"), per


def _schedule(spec: ScheduleSpec, lr: float, total: int, where: str):
    cls = SCHEDULES[spec.type]
    arguments = dict(spec.args)
    accepted = cls.__dataclass_fields__
    for name in ("lr", "max_lr"):
        if name in accepted and name not in arguments:
            arguments[name] = lr
    if "total_steps" in accepted and "total_steps" not in arguments:
        arguments["total_steps"] = total
    if spec.schedule is not None:
        arguments["schedule"] = _schedule(spec.schedule, lr, total, f"{where}.schedule")
    elif "schedule" in accepted:
        arguments["schedule"] = lr
    if spec.schedules is not None:
        edges = [0, *arguments.get("boundaries", ()), total]
        arguments["schedules"] = tuple(
            _schedule(child, lr, max(edges[i + 1] - edges[i], 1), f"{where}.schedules[{i}]")
            for i, child in enumerate(spec.schedules))
    arguments = {key: tuple(value) if isinstance(value, list) else value for key, value in arguments.items()}
    return _make(where, cls, arguments, name=spec.type)


def make_callbacks(config: Config, out_dir=None) -> list:
    """The configured callbacks; relative file paths are placed inside ``out_dir``."""
    callbacks = []
    for index, spec in enumerate(config.callbacks):
        arguments = dict(spec.args)
        key = _PATH_ARGUMENTS.get(spec.type)
        if key and arguments.get(key) is not None and out_dir is not None and not Path(arguments[key]).is_absolute():
            arguments[key] = Path(out_dir) / arguments[key]
        callbacks.append(_make(f"callbacks[{index}]", CALLBACKS[spec.type], arguments))
    return callbacks


def make_babysitter(config: Config):
    """The live monitors as one callback, or ``None`` when ``babysitter: false``."""
    spec = config.babysitter
    if not spec.enabled:
        return None
    from babysit.diagnostics.monitors import Babysitter  # noqa: PLC0415 - imports the train package

    return Babysitter(spec.every, good_accuracy=spec.good_accuracy, gap=spec.gap)


def _make(where: str, cls, arguments: dict, *positional, name: str | None = None):
    try:
        return cls(*positional, **arguments)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where} ({name or cls.__name__}): {error}") from error
