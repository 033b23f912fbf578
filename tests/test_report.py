"""Reports: every plot is drawn from the run directory's files, the page is self-contained,
missing files are skipped and said so, malformed ones fail naming the file."""

import base64
import json
import re
import struct
import sys

import numpy as np
import pytest

from babysit import nn, optim
from babysit.diagnostics.lr_finder import find_lr
from babysit.diagnostics.preflight import check
from babysit.report import PLOTS, ReportError, load_run, make_report
from babysit.report.monitor_plots import MAX_PANELS, plot_activation_histograms, plot_update_ratio
from babysit.report.plots import plot_loss, plot_lr_find, smooth
from babysit.train import Trainer

ALL_PNGS = [spec.filename for spec in PLOTS]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- fixtures
def _history(rng, epochs=12, batches=25):
    """A run that learns and then overfits: train accuracy keeps rising, val levels off."""
    steps = np.arange(epochs * batches)
    batch_loss = (0.25 + 2.05 * np.exp(-steps / 90)) * np.exp(0.15 * rng.standard_normal(len(steps)))
    t = np.arange(1, epochs + 1)
    rows = [{"epoch": int(e), "loss": float(batch_loss[(e - 1) * batches:e * batches].mean()),
             "train_accuracy": float(0.97 - 0.75 * np.exp(-e / 3)), "val_loss": float(0.5 + 1.8 * np.exp(-e / 3)),
             "val_accuracy": float(0.84 - 0.62 * np.exp(-e / 3)), "lr": float(1e-2 * 0.5 ** (e // 4)),
             "seconds": 0.5} for e in t]
    return {"batch_loss": batch_loss.tolist(), "epochs": rows}


FINDINGS = [
    {"name": "initial_loss", "status": "ok", "measured": "2.306", "expected": "about 2.303", "advice": "", "data": {}},
    {"name": "update_ratio", "status": "warn", "measured": "4.weight: 4.1e-02", "expected": "about 1e-3",
     "advice": "the learning rate is too high for 4.weight: lower it about 10x", "data": {"4.weight": 0.041}},
    {"name": "batch_independence", "status": "fail", "measured": "leak 3.1e-01", "expected": "0 in eval mode",
     "advice": "a layer mixes examples of the batch <check reshapes & axes>", "data": {}},
]


def _monitors(rng, layers=("1 ReLU", "3 ReLU", "5 Tanh"), params=("0.weight", "0.bias", "2.weight", "4.weight")):
    sampled = np.arange(0, 300, 10)
    update = {name: [[int(s), float(10.0 ** rng.uniform(-4, -1.5))] for s in sampled] for name in params}
    edges = np.linspace(-1.0, 3.0, 41)
    activations = {}
    for depth, layer in enumerate(layers):
        values = rng.standard_normal((len(sampled), 500)) * 0.5 ** depth
        values = np.tanh(2 * values) if "Tanh" in layer else np.maximum(values, 0)
        counts = [np.histogram(row, edges)[0].tolist() for row in values]
        entry = {"steps": sampled.tolist(), "mean": values.mean(axis=1).tolist(), "std": values.std(axis=1).tolist(),
                 "histogram": {"edges": edges.tolist(), "counts": counts}}
        key = "saturated_fraction" if "Tanh" in layer else "dead_fraction"
        entry[key] = np.linspace(0.0, 0.3, len(sampled)).tolist()
        activations[layer] = entry
    gradients = {name: {"steps": sampled.tolist(), "std": (scale * np.exp(-sampled / 300)).tolist()}
                 for name, scale in zip(params, (1e-4, 1e-4, 3e-3, 4e-2), strict=False)}
    return {"update_ratio": update, "activations": activations, "gradients": gradients}


def _lr_find(rng):
    lrs = np.geomspace(1e-7, 10, 200)[:170]
    x = np.log10(lrs)
    losses = 2.3 - 1.6 / (1 + np.exp(-2 * (x + 3))) + 0.02 * np.exp(4 * (x + 1)) + 0.05 * rng.standard_normal(170)
    smoothed = smooth(losses, 10)
    best = float(lrs[int(np.argmin(smoothed))])
    return {"lrs": lrs.tolist(), "losses": losses.tolist(), "smoothed": smoothed.tolist(), "learns_from": 1.2e-5,
            "best_lr": best, "diverges_at": float(lrs[-1]), "suggested_lr": best / 10}


def write_run(run_dir, *, history=True, findings=True, monitors=True, lr_find=True, seed=0):
    """A run directory with synthetic but realistic files, as a training run writes them."""
    rng = np.random.default_rng(seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    files = {"history.json": history and _history(rng), "findings.json": findings and {"findings": FINDINGS},
             "monitors.json": monitors and _monitors(rng), "lr_find.json": lr_find and _lr_find(rng)}
    for name, content in files.items():
        if content:
            (run_dir / name).write_text(json.dumps(content))
    (run_dir / "config.yaml").write_text("seed: 0\ndata: mnist1d\nepochs: 12\n")
    return run_dir


@pytest.fixture(scope="module")
def full_report(tmp_path_factory):
    run_dir = write_run(tmp_path_factory.mktemp("run"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "matplotlib.pyplot", None)  # the report must not need pyplot's global state
        return run_dir, make_report(run_dir)


def png_size(path):
    """(width, height) read from the PNG header, after checking the signature."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def embedded_images(page_text):
    return re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page_text)


# ----------------------------------------------------------------------------- the full report
def test_full_run_gives_every_plot_as_a_sensible_png(full_report):
    run_dir, page = full_report
    assert page == run_dir / "report" / "index.html"
    for name in ALL_PNGS:
        path = run_dir / "report" / name
        width, height = png_size(path)
        assert 600 <= width <= 2200 and 300 <= height <= 1600, (name, width, height)
        assert path.stat().st_size > 15_000, name  # a blank canvas compresses to a few kB


def test_page_is_self_contained_and_embeds_every_plot(full_report):
    run_dir, page = full_report
    text = page.read_text()
    images = embedded_images(text)
    assert len(images) == len(ALL_PNGS)
    assert sorted(base64.b64decode(image) for image in images) == sorted(
        (run_dir / "report" / name).read_bytes() for name in ALL_PNGS)
    assert not re.search(r'(src|href)="(?!data:)', text)  # nothing fetched from outside the file
    assert "<style>" in text and "<script" not in text


def test_page_shows_findings_with_advice_coloured_worst_first(full_report):
    text = full_report[1].read_text()
    for finding in FINDINGS:
        assert f"<code>{finding['name']}</code>" in text
    assert "lower it about 10x" in text
    assert "&lt;check reshapes &amp; axes&gt;" in text  # values from the run are escaped
    rows = re.findall(r'<tr class="(fail|warn|ok)">', text)
    assert rows == ["fail", "warn", "ok"]
    assert "1 failed, 1 warnings, 1 passed" in text


def test_page_shows_the_epoch_table_captions_and_config(full_report):
    text = full_report[1].read_text()
    assert text.count("<tr><td class=\"num\">") == 12  # one row per epoch
    assert "big gap between train and val accuracy: overfitting" in text
    assert "should be about 1e-3" in text
    assert "data: mnist1d" in text
    assert "Not shown" not in text


def test_every_plot_has_titles_and_axis_labels(full_report):
    run = load_run(full_report[0])
    for spec in PLOTS:
        figure = spec.draw(run)
        visible = [ax for ax in figure.axes if ax.get_visible() and ax.has_data()]
        assert visible, spec.filename
        for ax in visible:
            assert ax.get_title(), spec.filename
        # small multiples label only the bottom row and the left column
        assert any(ax.get_xlabel() for ax in visible) and any(ax.get_ylabel() for ax in visible), spec.filename


# ----------------------------------------------------------------------------- a real run
def test_report_of_a_real_short_training_run(tmp_path):
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((3, 5)) * 3
    y = rng.integers(0, 3, 240)
    x = (centers[y] + rng.standard_normal((240, 5))).astype(np.float32)
    model = nn.Sequential(nn.Linear(5, 16, rng=rng), nn.ReLU(), nn.Linear(16, 3, rng=rng))
    loss = nn.SoftmaxCrossEntropy()
    report = check(model, loss, x, y, checks=("initial_loss", "gradient_check"), verbose=False)
    found = find_lr(model, loss, x, y, steps=80)
    trainer = Trainer(model, loss, optim.SGD(model.parameters(), lr=0.05, momentum=0.9), batch_size=32, rng=rng,
                      verbose=False)
    history = trainer.fit((x[:180], y[:180]), val=(x[180:], y[180:]), epochs=4)
    history.save_json(tmp_path / "history.json")
    (tmp_path / "findings.json").write_text(json.dumps(report.to_dict()))
    (tmp_path / "lr_find.json").write_text(json.dumps(found.to_dict()))

    text = make_report(tmp_path).read_text()
    drawn = sorted(path.name for path in (tmp_path / "report").glob("*.png"))
    assert drawn == ["accuracy.png", "learning_rate.png", "loss.png", "lr_find.png"]
    for name in drawn:
        png_size(tmp_path / "report" / name)
    assert len(embedded_images(text)) == 4
    assert "<code>gradient_check</code>" in text and "<code>initial_loss</code>" in text
    assert f"{history.epochs[-1]['val_accuracy']:.3f}" in text
    assert "Update / weight ratio: monitors.json not found" in text


def test_report_of_a_babysat_run_draws_the_monitor_plots(tmp_path):
    monitors = pytest.importorskip("babysit.diagnostics.monitors")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 8)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    model = nn.Sequential(nn.Linear(8, 16, rng=rng), nn.ReLU(), nn.Linear(16, 16, rng=rng), nn.Tanh(),
                          nn.Linear(16, 2, rng=rng))
    babysitter = monitors.Babysitter(every=2)
    trainer = Trainer(model, nn.SoftmaxCrossEntropy(), optim.Adam(model.parameters(), lr=1e-2), batch_size=20,
                      rng=rng, verbose=False, callbacks=[babysitter])
    trainer.fit((x[:150], y[:150]), val=(x[150:], y[150:]), epochs=3)
    trainer.history.save_json(tmp_path / "history.json")
    (tmp_path / "monitors.json").write_text(json.dumps(babysitter.to_dict()))
    (tmp_path / "findings.json").write_text(json.dumps(babysitter.report.to_dict()))

    text = make_report(tmp_path).read_text()
    drawn = {path.name for path in (tmp_path / "report").glob("*.png")}
    assert drawn == set(ALL_PNGS) - {"lr_find.png"}
    assert len(embedded_images(text)) == len(drawn)
    for finding in babysitter.findings:
        assert f"<code>{finding.name}</code>" in text
    run = load_run(tmp_path)
    assert run.notes == []  # every monitor entry was understood
    assert set(run.activations) == {"1", "3"} and run.activations["3"]["kind"] == "tanh"


# ----------------------------------------------------------------------------- missing and malformed
def test_empty_run_directory_gives_a_page_that_says_what_is_missing(tmp_path):
    page = make_report(tmp_path)
    text = page.read_text()
    assert not list((tmp_path / "report").glob("*.png"))
    assert embedded_images(text) == []
    assert "Findings: findings.json not found" in text
    for spec in PLOTS:
        assert f"<li>{spec.title}:" in text
    assert "history.json not found" in text and "lr_find.json not found" in text


def test_history_alone_draws_the_curves_and_skips_the_rest(tmp_path):
    write_run(tmp_path, findings=False, monitors=False, lr_find=False)
    make_report(tmp_path)
    drawn = sorted(path.name for path in (tmp_path / "report").glob("*.png"))
    assert drawn == ["accuracy.png", "learning_rate.png", "loss.png"]


def test_a_plot_whose_data_went_away_is_removed(tmp_path):
    write_run(tmp_path, findings=False, monitors=False, lr_find=False)
    make_report(tmp_path)
    assert (tmp_path / "report" / "accuracy.png").is_file()
    (tmp_path / "history.json").write_text(json.dumps({"batch_loss": [2.3, 2.1, 1.9], "epochs": []}))
    make_report(tmp_path)
    assert sorted(path.name for path in (tmp_path / "report").glob("*.png")) == ["loss.png"]


@pytest.mark.parametrize("name", ["history.json", "findings.json", "monitors.json", "lr_find.json"])
def test_malformed_json_names_the_file(tmp_path, name):
    write_run(tmp_path)
    (tmp_path / name).write_text('{"batch_loss": [1.0, 2.0,')
    with pytest.raises(ReportError, match=rf"{re.escape(str(tmp_path / name))} is not valid JSON .*line 1"):
        make_report(tmp_path)


@pytest.mark.parametrize(("name", "content", "pattern"), [
    ("history.json", [1, 2], r"history.json must hold a JSON object, got a list"),
    ("history.json", {"batch_loss": "2.3"}, r"history.json: 'batch_loss' must be a list of numbers, got str"),
    ("history.json", {"epochs": [{"epoch": 1, "loss": "low"}]}, r"epochs\[0\]\['loss'\] must be a number"),
    ("findings.json", {"findings": [{"name": "x"}]}, r"findings\[0\] must be an object with a 'name' and a 'status'"),
    ("findings.json", {"checks": []}, r"findings.json must hold \{'findings': \[...\]\}"),
    ("lr_find.json", {"lrs": [1e-3, 1e-2], "losses": [2.3]}, r"'lrs' and 'losses' must have the same length"),
    ("lr_find.json", {"lrs": [1e-3], "losses": [2.3], "best_lr": "1e-3"}, r"'best_lr' must be a number or null"),
])
def test_values_of_the_wrong_kind_name_the_file_and_key(tmp_path, name, content, pattern):
    (tmp_path / name).write_text(json.dumps(content))
    with pytest.raises(ReportError, match=pattern):
        make_report(tmp_path)


def test_not_a_directory(tmp_path):
    with pytest.raises(ReportError, match="does not exist or is not a directory"):
        make_report(tmp_path / "nowhere")


def test_monitor_entries_in_an_unknown_shape_are_skipped_and_noted(tmp_path):
    monitors = {"update_ratio": {"0.weight": "fast", "2.weight": {"steps": [0, 10, 20], "ratio": [1e-3, 2e-3, 1e-3]},
                                 "4.weight": [[0, 1e-3], [10, 3e-3]]},
                "activations": {"1": {"steps": [0, 10], "mean": [0.1]},
                                "3": {"kind": "tanh", "steps": [0, 10], "mean": [None, 0.2], "std": [None, 0.5],
                                      "saturated_fraction": [None, 0.1], "histogram": {"edges": None, "counts": []}}},
                "gradients": {"0.weight": {"steps": [0, 10], "max": [1.0, 2.0]}},
                "unknown_section": {"anything": 1}}
    (tmp_path / "monitors.json").write_text(json.dumps(monitors))
    run = load_run(tmp_path)
    assert sorted(run.update_ratio) == ["2.weight", "4.weight"]
    assert run.activations["3"]["histogram"] is None and np.isnan(run.activations["3"]["std"][0])
    text = make_report(tmp_path).read_text()
    assert (tmp_path / "report" / "update_ratio.png").is_file()
    assert "update_ratio[&#x27;0.weight&#x27;] skipped" in text
    assert "activations[&#x27;1&#x27;] skipped" in text
    assert "expected &#x27;std&#x27;, &#x27;norm&#x27; or &#x27;mean&#x27;" in text
    assert (tmp_path / "report" / "activation_stats.png").is_file()  # layer '3' without a histogram still counts
    assert "Activation histograms: monitors.json holds no activation histograms" in text


# ----------------------------------------------------------------------------- plot details
def test_smooth_is_a_bias_corrected_average_that_steps_over_nan():
    values = np.array([2.0, 4.0, np.nan, np.inf, 8.0])
    beta, average, weight, expected = 0.5, 0.0, 0.0, []
    for value in values:  # the textbook loop the vectorized filter must match
        if np.isfinite(value):
            average, weight = beta * average + (1 - beta) * value, beta * weight + (1 - beta)
        else:
            average, weight = beta * average, beta * weight
        expected.append(average / weight)
    np.testing.assert_allclose(smooth(values, window=2), expected)
    assert smooth(np.full(50, 3.0))[0] == 3.0  # no start-up bias toward 0
    assert np.isnan(smooth(np.array([np.nan, 1.0]), 2)[0])


def test_loss_axis_goes_log_when_the_loss_spans_decades(tmp_path):
    (tmp_path / "history.json").write_text(json.dumps({"batch_loss": list(np.geomspace(10, 1e-3, 100))}))
    assert plot_loss(load_run(tmp_path)).axes[0].get_yscale() == "log"
    (tmp_path / "history.json").write_text(json.dumps({"batch_loss": [2.3, 2.0, 1.8, None, 1.7]}))
    figure = plot_loss(load_run(tmp_path))
    assert figure.axes[0].get_yscale() == "linear"
    assert "first NaN/inf loss (step 3" in " ".join(figure.axes[0].get_legend_handles_labels()[1])


def test_range_test_plot_marks_the_rates(full_report):
    run = load_run(full_report[0])
    labels = " ".join(plot_lr_find(run).axes[0].get_legend_handles_labels()[1])
    suggested = f"suggested (lowest / 10): {run.lr_find['suggested_lr']:.1e}"
    for word in ("starts to learn: 1.2e-05", "lowest loss", suggested, "diverges", "usable range"):
        assert word in labels
    assert plot_lr_find(run).axes[0].get_xscale() == "log"


def test_update_ratio_plot_shows_the_target_band(full_report):
    figure = plot_update_ratio(load_run(full_report[0]))
    over_time = figure.axes[0]
    assert over_time.get_yscale() == "log"
    assert "target 1e-3" in over_time.get_legend_handles_labels()[1]


def test_many_layers_are_capped_and_said_so(tmp_path):
    rng = np.random.default_rng(1)
    layers = tuple(f"layer{i} ReLU" for i in range(MAX_PANELS + 4))
    (tmp_path / "monitors.json").write_text(json.dumps(_monitors(rng, layers=layers)))
    figure = plot_activation_histograms(load_run(tmp_path))
    assert sum(ax.get_visible() for ax in figure.axes) == MAX_PANELS
    assert f"(first {MAX_PANELS} of {MAX_PANELS + 4} layers)" in figure.get_suptitle()
