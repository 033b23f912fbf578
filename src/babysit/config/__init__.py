"""Training configs: YAML files that name a whole run, validated with errors that name the key.

``load_config(path)`` reads and validates one (:class:`ConfigError` lists every problem,
each led by its key and, for names, the allowed ones); ``build(config)`` turns it into
data, model, loss, optimizer, schedule and callbacks; ``train``, ``run_checks`` and
``run_lr_find`` are what ``babysit train``, ``babysit check`` and ``babysit lr-find`` run.
See docs/cli.md.
"""

from babysit.config.build import Setup, build
from babysit.config.loading import ConfigError, dump_config, load_config, read_yaml, validate
from babysit.config.run import PreflightFailed, RunResult, make_trainer, run_checks, run_lr_find, train
from babysit.config.rundir import RunDirError
from babysit.config.schema import Config

__all__ = [
    "Config", "ConfigError", "PreflightFailed", "RunDirError", "RunResult", "Setup", "build", "dump_config",
    "load_config", "make_trainer", "read_yaml", "run_checks", "run_lr_find", "train", "validate",
]
