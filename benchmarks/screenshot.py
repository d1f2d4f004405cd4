"""Screenshots of the HTML reports in headless Chromium, for the docs: reports/screenshots/*.png.

Usage: python benchmarks/screenshot.py [REPORTS_DIR]   (after `make report`; needs chromium)
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cts.reporting.builder import CHROMIUM_FLAGS


def main() -> int:
    reports = Path(sys.argv[1] if len(sys.argv) > 1 else "reports")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("chromium not found: apt-get install chromium", file=sys.stderr)
        return 1
    pages = sorted(p for p in reports.glob("*.html") if not p.name.endswith(".code.html"))
    if not pages:
        print(f"no reports in {reports}: run `make report` first", file=sys.stderr)
        return 1
    out = reports / "screenshots"
    out.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        for page in pages:
            height = 1400 if page.name == "index.html" else 3000
            target = out / f"{page.stem}.png"
            subprocess.run(
                [
                    chromium,
                    *CHROMIUM_FLAGS,
                    f"--user-data-dir={profile}",
                    f"--window-size=1280,{height}",
                    f"--screenshot={target.resolve()}",
                    page.resolve().as_uri(),
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
            print(f"{target} ({target.stat().st_size / 1024:,.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
