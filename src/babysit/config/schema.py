"""The training config: pydantic models that name every key and every allowed value in their errors.

A config is a YAML mapping (see docs/cli.md). Every named thing (a layer, the loss, the
optimizer, a schedule, a callback, a preprocessing step) is written
``{type: NAME, <argument>: <value>, ...}`` with the arguments of the babysit class it
names, or just ``NAME`` when the defaults do. Unknown keys, unknown names and unknown
arguments are errors that list what is allowed.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from babysit.config.names import (
    AUGMENTATIONS,
    CALLBACKS,
    DATASETS,
    FILE_DATASETS,
    INFERRED,
    LAYERS,
    LOSSES,
    OPTIMIZERS,
    PENALTIES,
    PREFLIGHT_CHECKS,
    PREPROCESSORS,
    SCHEDULES,
    canonical_name,
    check_arguments,
)
from babysit.diagnostics.monitor_base import DEFAULT_EVERY

#: Schedule arguments the builder fills in when left out: the rate from the optimizer's
#: ``lr``, the length from the run (epochs x batches, or the span of a joined piece), and
#: the schedule that ``linear_warmup`` warms up (the optimizer's constant rate).
SCHEDULE_DEFAULTS = ("lr", "max_lr", "total_steps", "schedule")
#: Callbacks that watch an epoch metric, and the metric they watch by default.
MONITORING = {"EarlyStopping": "val_loss", "ModelCheckpoint": "val_loss", "ReduceLROnPlateau": "val_loss"}


class Section(BaseModel):
    """A mapping with fixed keys: an unknown key is an error (the loader lists the allowed ones)."""

    model_config = ConfigDict(extra="forbid")


class Component(BaseModel):
    """``{type: NAME, **arguments}`` (or a bare ``NAME``); arguments are checked against NAME's signature.

    Arguments may also be nested under ``args`` (``{type: Adam, args: {lr: 0.01}}``).
    """

    model_config = ConfigDict(extra="allow")
    kind: ClassVar[str] = "component"
    registry: ClassVar[dict] = {}
    ignore_case: ClassVar[bool] = False

    type: str

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data):
        if isinstance(data, str):
            return {"type": data}
        if isinstance(data, dict) and isinstance(data.get("args"), dict):
            data = dict(data)
            nested = data.pop("args")
            clash = sorted(set(nested) & set(data))
            if clash:
                raise ValueError(f"{clash} given both next to type and under args; give each once")
            return {**data, **nested}
        if not isinstance(data, dict):
            raise ValueError(f"expected a {cls.kind} name or a mapping {{type: NAME, ...}}, got {data!r}")
        return data

    @field_validator("type")
    @classmethod
    def _known_type(cls, value):
        return canonical_name(cls.kind, value, cls.registry, ignore_case=cls.ignore_case)

    @property
    def args(self) -> dict[str, Any]:
        """The arguments given for the class (everything but ``type`` and declared fields)."""
        return dict(self.model_extra or {})

    @property
    def target(self):
        return self.registry[self.type]

    def _given(self) -> dict[str, Any]:
        return self.args

    def _filled(self) -> tuple[str, ...]:
        """Arguments the builder supplies when absent."""
        return ()

    @model_validator(mode="after")
    def _arguments(self):
        check_arguments(self.type, self.target, self._given(), inferred=self._filled())
        return self


class LayerSpec(Component):
    """A layer; its input size (``in_features``, ``in_channels``, ``num_features``...) is inferred.

    ``Residual`` takes ``block`` (a list of layers) and optionally ``shortcut`` (another list).
    """

    kind: ClassVar[str] = "layer"
    registry: ClassVar[dict] = LAYERS

    block: list[LayerSpec] | None = None
    shortcut: list[LayerSpec] | None = None

    def _filled(self):
        return (INFERRED[self.type][0],) if self.type in INFERRED else ()

    def _given(self):
        given = self.args
        given.update({key: value for key in ("block", "shortcut") if (value := getattr(self, key)) is not None})
        return given


class LossSpec(Component):
    kind: ClassVar[str] = "loss"
    registry: ClassVar[dict] = LOSSES


class PenaltySpec(Component):
    kind: ClassVar[str] = "penalty"
    registry: ClassVar[dict] = PENALTIES


class OptimizerSpec(Component):
    """An optimizer of :data:`babysit.optim.OPTIMIZERS` by name (any case) and its arguments."""

    kind: ClassVar[str] = "optimizer"
    registry: ClassVar[dict] = OPTIMIZERS
    ignore_case: ClassVar[bool] = True

    @field_validator("type", mode="before")
    @classmethod
    def _no_lbfgs(cls, value):
        if isinstance(value, str) and value.lower() == "lbfgs":
            raise ValueError("lbfgs needs a closure that recomputes the full-batch loss, which the mini-batch "
                             f"Trainer does not run; allowed: {', '.join(OPTIMIZERS)}")
        return value

    @model_validator(mode="after")
    def _rate(self):
        lr = self.args.get("lr")
        if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < float("inf")):
            raise ValueError(f"{self.type}'s lr must be a number > 0, got {lr!r}")
        return self

    @property
    def lr(self) -> float:
        """The configured rate, or the optimizer's default."""
        if "lr" in self.args:
            return float(self.args["lr"])
        return float(_default(self.target, "lr"))


class ScheduleSpec(Component):
    """A schedule of :mod:`babysit.schedules`; ``lr``/``max_lr`` and ``total_steps`` may be left out.

    ``per``: the clock, ``batch`` (default) or ``epoch``; only on the outer schedule.
    ``linear_warmup`` wraps ``schedule``; ``join`` chains ``schedules`` at ``boundaries``.
    A number in place of a schedule is a constant rate.
    """

    kind: ClassVar[str] = "schedule"
    registry: ClassVar[dict] = SCHEDULES

    per: Literal["batch", "epoch"] | None = None
    schedule: ScheduleSpec | None = None
    schedules: list[ScheduleSpec] | None = None

    @model_validator(mode="before")
    @classmethod
    def _number_is_constant(cls, data):
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            return {"type": "constant", "lr": data}
        return data

    def _filled(self):
        return SCHEDULE_DEFAULTS

    def _given(self):
        given = self.args
        given.update({key: value for key in ("schedule", "schedules") if (value := getattr(self, key)) is not None})
        return given

    def nested(self) -> list[ScheduleSpec]:
        return [self.schedule] if self.schedule is not None else list(self.schedules or ())


class CallbackSpec(Component):
    kind: ClassVar[str] = "callback"
    registry: ClassVar[dict] = CALLBACKS

    @property
    def monitor(self) -> str | None:
        """The epoch metric this callback watches (``None`` for callbacks that watch none)."""
        return self.args.get("monitor", MONITORING.get(self.type))


class PreprocessingSpec(Component):
    """A preprocessing step, fitted on the training set only: zero_center, standardize, pca, pca_whitening,
    zca_whitening."""

    kind: ClassVar[str] = "preprocessing step"
    registry: ClassVar[dict] = PREPROCESSORS


class AugmentationSpec(Component):
    """A data augmentation of :mod:`babysit.data.augment`, applied to each training batch
    (never to validation or test data): RandomHorizontalFlip, RandomCrop, RandomTranslate,
    RandomScale, ColorJitter, AddGaussianNoise, Cutout."""

    kind: ClassVar[str] = "augmentation"
    registry: ClassVar[dict] = AUGMENTATIONS


class DataSpec(BaseModel):
    """``name`` (built in, or a reader of local files with ``path``), ``val_size``, ``reshape``,
    and the data set function's own arguments (``flatten``, ``n_train``, ``noise``...).

    ``seed`` draws the data (spirals, blobs) and its splits (test, validation); it is
    apart from the run's seed, so that runs of several seeds are scored on the same test set.
    """

    model_config = ConfigDict(extra="allow")

    name: str
    path: str | None = None
    val_size: float | None = None
    reshape: list[int] | None = Field(None, min_length=1)
    seed: int = Field(0, ge=0)

    @field_validator("name")
    @classmethod
    def _known_name(cls, value):
        return canonical_name("data set", value, DATASETS)

    @field_validator("val_size", mode="before")
    @classmethod
    def _size(cls, value):
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if value is None or (is_number and (0 < value < 1 or (float(value).is_integer() and value >= 1))):
            return value
        raise ValueError(f"must be a fraction in (0, 1) or a number of examples >= 1, got {value!r}")

    @field_validator("reshape")
    @classmethod
    def _positive(cls, value):
        if value is not None and any(size < 1 for size in value):
            raise ValueError(f"sizes must be >= 1, got {value}")
        return value

    @property
    def args(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    @property
    def validation_size(self) -> float | int | None:
        """``val_size`` as the data functions take it: a fraction, or an int count."""
        if self.val_size is None or self.val_size < 1:
            return self.val_size
        return int(self.val_size)

    @model_validator(mode="after")
    def _arguments(self):
        check_arguments(f"data set {self.name!r}", DATASETS[self.name], self.args, inferred=("path",),
                        fields=[key for key in type(self).model_fields if key != "path" or self.name in FILE_DATASETS])
        if self.name in FILE_DATASETS and self.path is None:
            raise ValueError(f"data set {self.name!r} is read from your files: give data.path (the folder or "
                             "archive you downloaded)")
        if self.name not in FILE_DATASETS and self.path is not None:
            raise ValueError(f"data set {self.name!r} is built in and takes no path; data sets read from files: "
                             f"{', '.join(sorted(FILE_DATASETS))}")
        return self


class BabysitterSpec(Section):
    """The live monitors (:class:`babysit.diagnostics.monitors.Babysitter`): ``true``/``false`` or settings."""

    enabled: bool = True
    every: int = Field(DEFAULT_EVERY, ge=1)  # sampling keeps the monitors' overhead ~5%
    good_accuracy: float = Field(0.9, gt=0, le=1)
    gap: float = Field(0.1, gt=0, lt=1)

    @model_validator(mode="before")
    @classmethod
    def _switch(cls, data):
        return {"enabled": data} if isinstance(data, bool) else data


CheckName = Annotated[str, AfterValidator(lambda name: canonical_name("check", name, dict.fromkeys(PREFLIGHT_CHECKS)))]


class Config(Section):
    """A whole training run. See docs/cli.md for a walk-through of every key."""

    seed: int = Field(0, ge=0)
    data: DataSpec
    preprocessing: list[PreprocessingSpec] = []
    augment: list[AugmentationSpec] = []
    model: list[LayerSpec] = Field(min_length=1)
    loss: LossSpec = LossSpec(type="SoftmaxCrossEntropy")
    penalties: list[PenaltySpec] = []
    optimizer: OptimizerSpec
    schedule: ScheduleSpec | None = None
    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    callbacks: list[CallbackSpec] = []
    babysitter: BabysitterSpec = BabysitterSpec()
    checks: list[CheckName] = list(PREFLIGHT_CHECKS)
    checkpoint_every: int | None = Field(None, ge=1)
    # read and checked by `babysit search` (babysit.search.config_section); a plain training run ignores it
    search: dict[str, Any] | None = None

    @field_validator("checks", mode="before")
    @classmethod
    def _check_switch(cls, value):
        if value is True or value == "all":
            return list(PREFLIGHT_CHECKS)
        if value is False or value is None or value == "none":
            return []
        return value

    def problems(self) -> list[str]:
        """Rules across sections (each key alone is valid): one message per broken rule, led by its key."""
        problems = []
        for index, callback in enumerate(self.callbacks):
            monitor = callback.monitor
            if isinstance(monitor, str) and monitor.startswith("val_") and self.data.val_size is None:
                problems.append(f"callbacks[{index}].monitor: {callback.type} watches {monitor!r}, which needs a "
                                "validation split: set data.val_size (e.g. 0.1), or monitor 'loss'")
            if callback.type == "ReduceLROnPlateau" and self.schedule is not None:
                problems.append(f"callbacks[{index}].type: ReduceLROnPlateau sets the rate itself and cannot be "
                                "combined with schedule; keep one of the two")
        if self.schedule is not None and any(spec.per is not None for spec in _all_nested(self.schedule)):
            problems.append("schedule: only the outer schedule takes per (the clock is the run's)")
        return problems


def _all_nested(spec: ScheduleSpec) -> list[ScheduleSpec]:
    found = []
    for child in spec.nested():
        found += [child, *_all_nested(child)]
    return found


def _default(target, name: str):
    return inspect.signature(target).parameters[name].default


for _model in (LayerSpec, ScheduleSpec, Config):
    _model.model_rebuild()
