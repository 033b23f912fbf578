"""The search's page: ``OUT/index.html``, one self-contained file (plots inline) to look at.

It shows what ``babysit search`` prints (statuses, the notes, the time the early stops
saved, the best trial) with the results table and the plots, each with a line saying what
to look for. Every value from the search is escaped; nothing is fetched from outside.
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from babysit.atomic import write_text
from babysit.report.html import PAGE_CSS
from babysit.search.records import format_cell

#: What each plot shows, by the key ``write_outputs`` gives it.
CAPTIONS = {
    "scores": ("Score against each hyperparameter",
               "Look for the region where the good trials cluster, and for red x's: diverged trials, where the "
               "learning rate (or another setting) is too high. Hollow dots were pruned early."),
    "command_center": ("Command center: every trial's validation curve",
                       "Curves that are still rising at the end want more epochs; diverged trials end in a red x; "
                       "pruned ones are faint and stop at a rung; the best trial is black."),
    "stages": ("Coarse to fine: each stage's ranges",
               "Each bar is a stage's range, its dots the trials. A bar reaching past the previous one is the edge "
               "rule widening a range whose best value sat at its edge."),
}


def write_search_page(run, files: dict, path) -> Path:
    """Write the page of ``run`` (a :class:`~babysit.search.config_search.ConfigSearchRun`) to ``path``.

    ``files`` maps names (``results``, ``best``, ``scores``, ``command_center``, ``stages``) to the
    files written beside it; the PNGs among them are embedded.
    """
    path = Path(path)
    result, metric = run.result, run.plan.metric
    counts = ", ".join(f"{count} {status}" for status, count in result.status_counts().items())
    body = [
        "<h1>babysit search</h1>",
        f'<p class="meta">{len(result.trials)} trials ({escape(counts)}) in {result.seconds:.1f} s, ranked by '
        f"<code>{escape(metric)}</code>; early stops saved about {result.seconds_saved():.1f} s of training.</p>",
        _best(result, metric, files),
        _notes(result.notes),
        "<h2>Plots</h2>",
        *(_figure(files[key], *CAPTIONS[key]) for key in CAPTIONS if key in files),
        "<h2>Trials, best first</h2>",
        _table(result.rows()),
        f'<p class="meta">Also as CSV: <code>{escape(str(files.get("results", "")))}</code></p>',
    ]
    page = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>babysit search</title>\n"
            f"<style>{PAGE_CSS}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n")
    write_text(path, page)
    return path


def _best(result, metric, files) -> str:
    try:
        best = result.best
    except ValueError as error:
        return f'<p class="verdict fail">No best trial: {escape(str(error))}</p>'
    values = ", ".join(f"<code>{escape(name)}={escape(format_cell(value))}</code>"
                       for name, value in best.params.items())
    retrain = (f" Re-train it with the checks and the Babysitter: <code>babysit train {escape(str(files['best']))}"
               "</code>.") if "best" in files else ""
    return (f'<p class="verdict ok">Best: stage {best.stage}, trial {best.number}: {escape(metric)} '
            f"{best.score:.4f} in {best.epochs} epochs with {values}.</p><p>{retrain}</p>")


def _notes(notes) -> str:
    if not notes:
        return "<h2>What the search said</h2><p>Nothing to report: no best value at the edge of its range.</p>"
    items = "".join(f"<li>{escape(note)}</li>" for note in notes)
    return f"<h2>What the search said</h2><ul>{items}</ul>"


def _figure(path, title, caption) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return (f"<figure><h3>{escape(title)}</h3><img alt=\"{escape(title)}\" src=\"data:image/png;base64,{data}\">"
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def _table(rows) -> str:
    if not rows:
        return "<p>No trials.</p>"
    columns = list(rows[0])
    head = "".join(f"<th>{escape(column)}</th>" for column in columns)
    status_class = {"complete": "ok", "pruned": "", "diverged": "fail", "failed": "fail"}
    lines = []
    for row in rows:
        cells = "".join(_td(row[column]) for column in columns)
        lines.append(f'<tr class="{status_class.get(row["status"], "")}">{cells}</tr>')
    return f"<table><tr>{head}</tr>{''.join(lines)}</table>"


def _td(value) -> str:
    """A table cell; numbers align right."""
    numeric = ' class="num"' if isinstance(value, (int, float)) else ""
    return f"<td{numeric}>{escape(format_cell(value))}</td>"
