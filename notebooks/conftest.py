"""nbval runs the notebooks as committed, with no parameters injected: on the committed sample
(a notebook opened in JupyterLab analyses the last report's panel instead; see
cts.reporting.notebook.report_panel)."""

import os
from pathlib import Path

os.environ.setdefault(
    "CTS_PANEL",
    str(Path(__file__).resolve().parent.parent / "data" / "sample" / "panel_sample.csv"),
)
