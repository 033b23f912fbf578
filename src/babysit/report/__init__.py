"""Reports: a run directory's plots (PNG, matplotlib Agg) and one self-contained HTML page.

``make_report(run_dir)`` reads history.json, findings.json, monitors.json and lr_find.json
(each optional) and writes ``run_dir/report/*.png`` and ``run_dir/report/index.html``.
"""

from babysit.report.builder import PLOTS, make_report
from babysit.report.plots import MissingData
from babysit.report.rundata import ReportError, RunData, load_run

__all__ = ["PLOTS", "MissingData", "ReportError", "RunData", "load_run", "make_report"]
