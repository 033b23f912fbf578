"""Learning-rate schedules: pure functions ``step -> learning rate``, and combinators.

Every schedule is a small frozen dataclass: call it with a step (``sched(t)``, t = 0, 1,
...), read its settings as attributes, and save it as JSON with :meth:`Schedule.to_config`
and :func:`from_config`. The values equal PyTorch's ``torch.optim.lr_scheduler``
counterparts step for step: ``sched(t)`` is ``get_last_lr()`` after ``t`` calls to
``scheduler.step()``. Whether a step is a batch or an epoch is the caller's choice (the
Trainer applies them either way); reduce-on-plateau needs the validation loss, so it is a
callback rather than a schedule.

>>> warm_cosine = join([linear_warmup(0.1, 5), cosine(0.1, 95)], [5])
>>> round(warm_cosine(5), 3)
0.1
"""

from babysit.schedules.base import SCHEDULES, Schedule, ScheduleLike, as_schedule, from_config
from babysit.schedules.combinators import Join, LinearWarmup, join, linear_warmup
from babysit.schedules.cyclic import Cyclical, OneCycle, cyclical, one_cycle
from babysit.schedules.decay import (
    Constant,
    Cosine,
    Exponential,
    InverseTime,
    Multistep,
    StepDecay,
    WarmRestarts,
    constant,
    cosine,
    exponential,
    inverse_time,
    multistep,
    step_decay,
    warm_restarts,
)

__all__ = [
    "SCHEDULES", "Constant", "Cosine", "Cyclical", "Exponential", "InverseTime", "Join", "LinearWarmup", "Multistep",
    "OneCycle", "Schedule", "ScheduleLike", "StepDecay", "WarmRestarts", "as_schedule", "constant", "cosine",
    "cyclical", "exponential", "from_config", "inverse_time", "join", "linear_warmup", "multistep", "one_cycle",
    "step_decay", "warm_restarts",
]
