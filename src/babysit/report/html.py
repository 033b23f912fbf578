"""The report page: one self-contained HTML file (inline CSS, plots as base64 data URIs).

Built with the standard library's ``html.escape`` and string joins: every value that comes
from the run directory is escaped, and nothing is fetched from outside the file.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from html import escape
from pathlib import Path

from babysit.report.rundata import RunData

_SEVERITY = {"fail": 0, "warn": 1, "ok": 2}

#: The report pages' style sheet (also used by the search's page).
PAGE_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 1200px; padding: 0 1rem; color: #1f2328; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } h2 { border-bottom: 1px solid #d0d7de; padding-bottom: 0.2rem; margin-top: 2rem; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 0.9em; }
pre { background: #f6f8fa; padding: 0.8rem; overflow-x: auto; border-radius: 6px; }
.meta { color: #57606a; margin-top: 0; }
.verdict { font-size: 1.1rem; padding: 0.6rem 0.9rem; border-radius: 6px; display: inline-block; }
table { border-collapse: collapse; width: 100%; margin: 0.6rem 0; font-size: 0.92rem; }
th, td { border: 1px solid #d0d7de; padding: 0.35rem 0.55rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.fail td { background: #ffebe9; } tr.warn td { background: #fff8c5; } tr.ok td { background: #eefbf0; }
.status { font-weight: 700; text-transform: uppercase; font-size: 0.8rem; }
tr.fail .status, .verdict.fail { color: #a40e26; } tr.warn .status, .verdict.warn { color: #7d4e00; }
tr.ok .status, .verdict.ok { color: #116329; }
.verdict.fail { background: #ffebe9; } .verdict.warn { background: #fff8c5; } .verdict.ok { background: #eefbf0; }
figure { margin: 1.5rem 0; } figure img { max-width: 100%; height: auto; border: 1px solid #d0d7de; }
figcaption { color: #424a53; margin-top: 0.3rem; max-width: 900px; }
.missing { color: #57606a; }
"""


@dataclass
class DrawnPlot:
    """A plot written to disk, with the title and the one-line caption shown under it."""

    path: Path
    title: str
    caption: str


def render_page(run: RunData, plots: list[DrawnPlot], skipped: list[tuple[str, str]]) -> str:
    """The whole page as a string. ``skipped`` holds ``(plot title, why it is missing)``."""
    title = f"babysit report: {run.run_dir.resolve().name}"
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">Run directory <code>{escape(str(run.run_dir.resolve()))}</code></p>',
        _summary(run),
        _findings_section(run),
        _epochs_section(run),
        _plots_section(plots),
        _missing_section(run, skipped),
        _config_section(run),
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{escape(title)}</title>\n<style>{PAGE_CSS}</style>\n</head>\n<body>\n"
            + "\n".join(part for part in body if part) + "\n</body>\n</html>\n")


# ------------------------------------------------------------------------ sections
def _summary(run: RunData) -> str:
    lines = []
    if run.findings is not None:
        counts = {status: sum(f["status"] == status for f in run.findings) for status in _SEVERITY}
        worst = next((status for status in _SEVERITY if counts[status]), "ok")
        text = (f"{counts['fail']} failed, {counts['warn']} warnings, {counts['ok']} passed"
                if run.findings else "no findings recorded")
        lines.append(f'<p class="verdict {worst}">Babysitter: {escape(text)}</p>')
    if run.epochs:
        lines.append(f"<p>{escape(_training_summary(run))}</p>")
    return "\n".join(lines)


def _training_summary(run: RunData) -> str:
    last = run.epochs[-1]
    parts = [f"{len(run.epochs)} epochs"]
    if run.batch_loss is not None and len(run.batch_loss):
        parts.append(f"{len(run.batch_loss)} steps")
    seconds = [row.get("seconds") for row in run.epochs if _finite(row.get("seconds"))]
    if seconds:
        parts.append(f"{sum(seconds):.1f} s")
    final = [f"{label} {last[key]:.3f}" for key, label in (("train_accuracy", "train accuracy"),
                                                            ("val_accuracy", "validation accuracy"))
             if _finite(last.get(key))]
    text = ", ".join(parts) + (". Last epoch: " + ", ".join(final) if final else "")
    scored = [row for row in run.epochs if _finite(row.get("val_accuracy"))]
    if scored:
        best = max(scored, key=lambda row: row["val_accuracy"])
        text += f". Best validation accuracy {best['val_accuracy']:.3f} at epoch {best.get('epoch', '?')}"
    return text + "."


def _findings_section(run: RunData) -> str:
    if run.findings is None:
        return ""  # listed under "Not shown"
    if not run.findings:
        return "<h2>Findings</h2>\n<p>findings.json holds no findings.</p>"
    ordered = sorted(run.findings, key=lambda f: _SEVERITY.get(f["status"], 3))
    rows = "\n".join(
        f'<tr class="{escape(f["status"])}"><td class="status">{escape(f["status"])}</td>'
        f"<td><code>{escape(f['name'])}</code></td><td>{escape(str(f['measured']))}</td>"
        f"<td>{escape(str(f['expected']))}</td><td>{escape(str(f['advice']))}</td></tr>"
        for f in ordered)
    return ("<h2>Findings</h2>\n<p>What the babysitter checked, worst first: what it measured, what it "
            "expected, and what to try.</p>\n<table>\n<thead><tr><th>status</th><th>check</th><th>measured</th>"
            f"<th>expected</th><th>advice</th></tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table>")


_EPOCH_COLUMNS = (("epoch", "epoch", "{:.0f}"), ("loss", "train loss", "{:.4f}"),
                  ("train_accuracy", "train accuracy", "{:.3f}"), ("val_loss", "val loss", "{:.4f}"),
                  ("val_accuracy", "val accuracy", "{:.3f}"), ("lr", "learning rate", "{:.2e}"),
                  ("seconds", "seconds", "{:.2f}"))


def _epochs_section(run: RunData) -> str:
    if not run.epochs:
        return ""
    known = [column for column in _EPOCH_COLUMNS if any(column[0] in row for row in run.epochs)]
    extra = [(key, key, "{:.4g}") for key in dict.fromkeys(k for row in run.epochs for k in row)
             if key not in {column[0] for column in _EPOCH_COLUMNS}]
    columns = known + extra
    head = "".join(f"<th>{escape(label)}</th>" for _, label, _ in columns)
    rows = "\n".join("<tr>" + "".join(f'<td class="num">{_cell(row.get(key), form)}</td>'
                                      for key, _, form in columns) + "</tr>" for row in run.epochs)
    table = f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table>"
    if len(run.epochs) > 30:  # a long run's table folds away so the plots stay near the top
        table = f"<details><summary>{len(run.epochs)} epochs (click to show)</summary>\n{table}\n</details>"
    return f"<h2>Epochs</h2>\n{table}"


def _cell(value, form: str) -> str:
    if value is None:
        return ""
    return escape(form.format(value) if _finite(value) else str(value))


def _plots_section(plots: list[DrawnPlot]) -> str:
    if not plots:
        return ""
    figures = "\n".join(
        f'<figure id="{escape(plot.path.stem)}">\n<h3>{escape(plot.title)}</h3>\n'
        f'<img src="data:image/png;base64,{base64.b64encode(plot.path.read_bytes()).decode("ascii")}" '
        f'alt="{escape(plot.title)}">\n<figcaption>{escape(plot.caption)}</figcaption>\n</figure>'
        for plot in plots)
    return f"<h2>Plots</h2>\n{figures}"


def _missing_section(run: RunData, skipped: list[tuple[str, str]]) -> str:
    items = [f"<li>{escape(title)}: {escape(reason)}</li>" for title, reason in skipped]
    if run.findings is None:
        items.insert(0, "<li>Findings: findings.json not found</li>")
    items += [f"<li>{escape(note)}</li>" for note in run.notes]
    if not items:
        return ""
    return '<h2>Not shown</h2>\n<ul class="missing">\n' + "\n".join(items) + "\n</ul>"


def _config_section(run: RunData) -> str:
    if run.config_text is None:
        return ""
    return f"<h2>Configuration</h2>\n<pre>{escape(run.config_text)}</pre>"


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
