"""Distillation lab: a small student learns more from a big teacher's softened outputs than from labels.

Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a Neural Network" (CS231n,
model ensembles and compression): a cumbersome model (here an ensemble of CNNs) gives, for
every training signal, a probability for each class. Softened with a temperature ``T``,
``softmax(z / T)``, they show which wrong classes look like the right one ("dark
knowledge") - information one-hot labels lack. A small student trained to match them,
``alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE(student, labels)``
(:class:`~babysit.nn.DistillationLoss`), generalizes better than the same student trained
on the labels alone, from the same training signals.

Students: MLPs 40-H-H-10 on MNIST-1D (an MLP's published accuracy is 68%, a CNN's 94%:
the students are far from the teacher, and overfit their 4000 signals).
"""

from __future__ import annotations

import numpy as np

from babysit.data import mnist1d
from babysit.evaluation import Ensemble, distill, teacher_scores
from babysit.functional.losses import log_softmax
from babysit.labs.mnist1d_nets import accuracy, as_rows, as_signals, cnn, fit, mlp, steps_for
from babysit.report.plots import new_figure
from babysit.schedules import cosine

ALPHA = 0.9  # weight of the soft targets; Hinton et al. weight the hard labels much less
LR = 1e-2
TEACHER_CHANNELS = 32
#: The temperature the size sweep uses; the temperature sweep uses the ``sweep_width`` student.
BEST_T = 4.0

SETTINGS = {  # quick: a smaller teacher, one student width, two temperatures
    False: {"teachers": 3, "teacher_epochs": 30, "student_epochs": 40, "widths": (16, 32, 64, 128, 256),
            "temperatures": (1.0, 2.0, 4.0, 8.0, 16.0), "sweep_width": 128, "seeds": 3},
    True: {"teachers": 2, "teacher_epochs": 12, "student_epochs": 30, "widths": (128,),
           "temperatures": (1.0, 4.0), "sweep_width": 128, "seeds": 2},
}


def student(width: int, seed: int):
    """The MLP student 40-``width``-``width``-10."""
    return mlp((40, width, width, 10), seed)


def softened(scores, temperature: float) -> np.ndarray:
    """``softmax(scores / T)`` row by row: the teacher's distribution at temperature ``T``."""
    return np.exp(log_softmax(np.asarray(scores, dtype=np.float64) / temperature))


def run_distillation_lab(out_dir, quick: bool = False, seed: int = 0) -> tuple[dict, str]:
    """Train a CNN-ensemble teacher, then MLP students on labels alone and by distillation.

    Returns ``(results, summary)``: ``results["labels"][width]`` and
    ``results["distilled"][width]`` are test accuracies over the seeds (distilled at
    :data:`BEST_T`); ``results["by_temperature"][T]`` those of the ``sweep_width`` student
    distilled at ``T``; ``results["teacher"]`` and ``results["teacher_members"]`` the
    teacher's; ``results["parameters"][width]`` the students' sizes.
    """
    settings = SETTINGS[bool(quick)]
    data = mnist1d()
    train_signals, test_signals = as_signals(data.x_train), as_signals(data.x_test)
    members = [fit(cnn(seed + 10 * i, channels=TEACHER_CHANNELS), (train_signals, data.y_train),
                   settings["teacher_epochs"], LR, seed=seed + i).model for i in range(settings["teachers"])]
    teacher = Ensemble(members)
    rows = teacher.evaluate(test_signals, data.y_test)
    train, test = (as_rows(data.x_train), data.y_train), (as_rows(data.x_test), data.y_test)

    def distilled(width, temperature, run):
        model = student(width, seed + 500 + run)
        distill(teacher, model, train, temperature=temperature, alpha=ALPHA, lr=LR, epochs=settings["student_epochs"],
                schedule=cosine(LR, steps_for(len(train[0]), settings["student_epochs"])), rng=seed + run,
                teacher_view=as_signals)  # the CNN teacher reads (N, 1, 40), the MLP student (N, 40)
        return accuracy(model, *test)

    runs = range(settings["seeds"])
    labels, by_width = {}, {}
    for width in settings["widths"]:
        labels[width] = [accuracy(fit(student(width, seed + 500 + run), train, settings["student_epochs"], LR,
                                      seed=seed + run).model, *test) for run in runs]
        by_width[width] = [distilled(width, BEST_T, run) for run in runs]
    sweep = settings["sweep_width"]
    by_temperature = {t: by_width[sweep] if t == BEST_T else [distilled(sweep, t, run) for run in runs]
                      for t in settings["temperatures"]}
    example = _example(teacher, test_signals, data.y_test)
    results = {
        "teacher": rows[-1]["accuracy"], "teacher_members": [row["accuracy"] for row in rows[:-1]],
        "labels": labels, "distilled": by_width, "by_temperature": by_temperature,
        "parameters": {w: student(w, 0).num_parameters() for w in settings["widths"]},
        "example": example, **settings,
    }
    _plot_sizes(results, out_dir / "distillation_student_sizes.png")
    _plot_temperatures(results, out_dir / "distillation_temperature.png")
    return results, _summary(results)


def _example(teacher, x, y) -> dict:
    """A test signal the teacher gets right with its second guess well above the rest, and its scores."""
    scores = teacher_scores(teacher, x)
    probabilities = softened(scores, 1.0)
    ranked = np.sort(probabilities, axis=1)
    right = probabilities.argmax(axis=1) == y
    # The clearest dark knowledge: a confident right answer whose runner-up is still 0.5-5%.
    candidates = np.flatnonzero(right & (ranked[:, -1] > 0.9) & (ranked[:, -2] > 0.005) & (ranked[:, -2] < 0.05))
    index = int(candidates[0]) if len(candidates) else int(np.flatnonzero(right)[0])
    return {"index": index, "label": int(y[index]), "scores": scores[index].tolist()}


def _mean_std(values) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values))


def _plot_sizes(results, path) -> None:
    widths = list(results["widths"])
    figure, ax = new_figure(8.5, 5.2)
    for key, label, color in (("labels", "trained on the labels alone", "C0"),
                              ("distilled", f"distilled from the teacher (T = {BEST_T:g}, alpha = {ALPHA})", "C1")):
        mean, std = zip(*(_mean_std(results[key][w]) for w in widths), strict=True)
        ax.errorbar(widths, mean, yerr=std, fmt="o-", capsize=3, color=color, label=label)
    ax.set_xscale("log", base=2)
    ax.set_xticks(widths, [f"{w}\n({results['parameters'][w] / 1000:.1f}k)" for w in widths])
    ax.set_xlabel("student hidden width H of MLP 40-H-H-10 (parameters in brackets; log scale)")
    ax.set_ylabel("test accuracy (1000 MNIST-1D signals)")
    ax.set_title(f"MLP students of a teacher (ensemble of {results['teachers']} CNNs, test accuracy "
                 f"{results['teacher']:.3f})\nmean ± std over {results['seeds']} student seeds", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="lower right")
    figure.savefig(path)


def _plot_temperatures(results, path) -> None:
    figure, (dist_ax, temp_ax) = new_figure(13, 5.2, ncols=2)
    example, classes = results["example"], np.arange(10)
    shown = [t for t in (1.0, BEST_T, 16.0) if t in results["temperatures"]] or [1.0, BEST_T]
    width = 0.8 / len(shown)
    for index, t in enumerate(shown):
        dist_ax.bar(classes + (index - (len(shown) - 1) / 2) * width, softened([example["scores"]], t)[0],
                    width=width, color=f"C{index + 2}", label=f"T = {t:g}")
    dist_ax.set_yscale("log")
    dist_ax.set_ylim(1e-6, 1.5)
    dist_ax.set_xticks(classes)
    dist_ax.set_xlabel("class (digit)")
    dist_ax.set_ylabel("teacher probability, softmax(z / T) (log scale)")
    dist_ax.set_title(f"The teacher's targets for test signal {example['index']} (a {example['label']}): a higher\n"
                      "T lifts the wrong classes off the floor: how much each looks like the right one", fontsize=10)
    dist_ax.legend(fontsize=9)
    dist_ax.grid(alpha=0.3, axis="y")
    temperatures = list(results["temperatures"])
    mean, std = zip(*(_mean_std(results["by_temperature"][t]) for t in temperatures), strict=True)
    temp_ax.errorbar(temperatures, mean, yerr=std, fmt="o-", capsize=3, color="C1", label="distilled student")
    label_mean, label_std = _mean_std(results["labels"][results["sweep_width"]])
    temp_ax.axhspan(label_mean - label_std, label_mean + label_std, color="C0", alpha=0.15)
    temp_ax.axhline(label_mean, color="C0", label=f"same student on the labels alone ({label_mean:.3f}; band: ± std)")
    temp_ax.set_xscale("log", base=2)
    temp_ax.set_xticks(temperatures, [f"{t:g}" for t in temperatures])
    temp_ax.set_xlabel("temperature T (log scale)")
    temp_ax.set_ylabel("student test accuracy")
    w = results["sweep_width"]
    temp_ax.set_title(f"Student MLP 40-{w}-{w}-10 distilled at each temperature\n"
                      f"(alpha = {ALPHA}; mean ± std over {results['seeds']} seeds)", fontsize=10)
    temp_ax.grid(alpha=0.3)
    temp_ax.legend(fontsize=9, loc="lower right")
    figure.savefig(path)


def _summary(results) -> str:
    labels = {w: float(np.mean(results["labels"][w])) for w in results["widths"]}
    distilled = {w: float(np.mean(results["distilled"][w])) for w in results["widths"]}
    rows = "\n".join(f"| 40-{w}-{w}-10 | {results['parameters'][w]} | {labels[w]:.3f} | {distilled[w]:.3f} | "
                     f"{100 * (distilled[w] - labels[w]):+.1f} |" for w in results["widths"])
    sweep = results["sweep_width"]
    temperatures = ", ".join(f"T = {t:g}: {np.mean(v):.3f}" for t, v in results["by_temperature"].items())
    return f"""What to look for: distillation_student_sizes.png (each student size trained on the labels alone
and distilled at T = {BEST_T:g}) and distillation_temperature.png (the teacher's soft targets at a few
temperatures for one test signal, and the distilled student's accuracy against T).

- **Teacher**: an ensemble of {results['teachers']} CNNs ({', '.join(f'{a:.3f}' for a in results['teacher_members'])}
  alone), test accuracy **{results['teacher']:.3f}**.
- **Students** (MLPs, mean over {results['seeds']} seeds, the same 4000 training signals, alpha = {ALPHA}):

| student | parameters | labels alone | distilled (T = {BEST_T:g}) | gain (points) |
|---|---|---|---|---|
{rows}

- **Temperature** (student 40-{sweep}-{sweep}-10; labels alone {np.mean(results['labels'][sweep]):.3f}):
  {temperatures}. At T = 1 the targets are nearly one-hot and carry little beyond the labels; a
  higher T lifts the small probabilities of the look-alike classes into the loss.
"""
