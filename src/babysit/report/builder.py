"""``make_report(run_dir)``: the plots as PNG files and one self-contained HTML page."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from babysit.atomic import write_text
from babysit.report import monitor_plots, plots
from babysit.report.html import DrawnPlot, render_page
from babysit.report.rundata import load_run


@dataclass(frozen=True)
class PlotSpec:
    """One plot of the report: its file name, title, drawing function and what to look for."""

    filename: str
    title: str
    draw: object  # RunData -> Figure, raising plots.MissingData
    caption: str


# Captions follow the lecture's "babysitting the learning process" and the course note.
PLOTS = (
    PlotSpec("loss.png", "Loss per mini-batch", plots.plot_loss,
             "Want a steady fall. A plateau at the start, then a drop: bad initialization. Barely moving: "
             "learning rate too low. Rising, exploding or NaN: learning rate too high."),
    PlotSpec("accuracy.png", "Accuracy and loss per epoch", plots.plot_accuracy,
             "Look at training first: if train accuracy is low it is not overfitting (fix capacity, learning rate, "
             "init). A big gap between train and val accuracy: overfitting, regularize (dropout, L2, augmentation). "
             "No gap: room for more capacity. Val loss rising while train loss falls: stop early at its minimum."),
    PlotSpec("learning_rate.png", "Learning rate", plots.plot_learning_rate,
             "Check the schedule did what you meant: decays where you expected, no rate far from the range "
             "test's suggestion."),
    PlotSpec("lr_find.png", "Learning-rate range test", plots.plot_lr_find,
             "The loss as the rate grows exponentially: too low and it barely moves, too high and it blows up. "
             "Train inside the green range; the suggested rate is a tenth of the one at the lowest loss."),
    PlotSpec("update_ratio.png", "Update / weight ratio", monitor_plots.plot_update_ratio,
             "norm(update) / norm(W) per parameter should be about 1e-3. Far below: the learning rate is too low "
             "for that layer; far above: too high."),
    PlotSpec("activations.png", "Activation histograms", monitor_plots.plot_activation_histograms,
             "Want activations spread out in every layer. Collapsed to zero in deep layers: init too small. "
             "Piled up at -1/+1 (tanh) or 0/1 (sigmoid): saturated, init too large. After a ReLU a spike at 0 is "
             "normal; units never active on a batch (the dead fraction) are not: lower the rate or use He init."),
    PlotSpec("activation_stats.png", "Activation statistics over training", monitor_plots.plot_activation_stats,
             "The std should stay roughly the same from layer to layer. Shrinking toward zero with depth: "
             "activations and gradients vanish; a dead or saturated fraction that grows: lower the learning rate "
             "or fix the init."),
    PlotSpec("gradients.png", "Gradients per layer", monitor_plots.plot_gradients,
             "Gradients far smaller in the first layers than in the last: vanishing gradients (deep sigmoid/tanh "
             "nets); try ReLU, He init or batch normalization. Growing without bound: exploding."),
)


def make_report(run_dir) -> Path:
    """Draw the run's plots and write ``run_dir/report/index.html``.

    Reads only the files of ``run_dir`` (history.json, findings.json, monitors.json,
    lr_find.json, config.yaml), each optional: a plot whose data is missing is skipped and
    the page says why.

    Parameters
    ----------
    run_dir : str or Path
        A run directory, as written by ``Trainer(..., out_dir=...)`` or ``babysit train --out``.

    Returns
    -------
    Path
        ``run_dir/report/index.html``: one self-contained page (plots embedded as base64
        PNG, inline CSS), next to the plots as ``run_dir/report/*.png``.

    Raises
    ------
    ReportError
        ``run_dir`` is not a directory, or one of its files is not valid JSON or holds the
        wrong kind of value (the message names the file and the key).
    """
    run = load_run(run_dir)
    out = Path(run_dir) / "report"
    out.mkdir(exist_ok=True)
    drawn, skipped = [], []
    for spec in PLOTS:
        path = out / spec.filename
        try:
            figure = spec.draw(run)
        except plots.MissingData as missing:
            skipped.append((spec.title, str(missing)))
            path.unlink(missing_ok=True)  # a stale plot from an earlier report would contradict the page
            continue
        _save(figure, path)
        drawn.append(DrawnPlot(path, spec.title, spec.caption))
    page = out / "index.html"
    write_text(page, render_page(run, drawn, skipped))
    return page


def _save(figure, path: Path) -> None:
    figure.savefig(path, format="png", facecolor="white")

