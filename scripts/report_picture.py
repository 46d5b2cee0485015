"""The README's picture of ``tagger evaluate --report``: the released laptop model on the SemEval-2014 laptop test
set, its page rendered by headless Chromium into docs/evaluate-report.png.

python scripts/report_picture.py --data-dir ../shared/corpora   # needs /usr/bin/chromium
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from tagger.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run")
QUIET = ("--disable-background-networking", "--disable-component-update", "--disable-sync")

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "corpora"), help="local corpus mirror")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "evaluate-report.png")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "report.html"
        model = ["--model", "semeval14-laptop-fast", "--corpus", "semeval14-laptop", "--data-dir", args.data_dir]
        if main(["evaluate", *model, "--report", str(page)]) != 0:
            sys.exit(1)
        options = [f"--user-data-dir={Path(folder) / 'profile'}", f"--screenshot={args.output.resolve()}"]
        command = ["/usr/bin/chromium", *CHROMIUM, *QUIET, *options, "--window-size=1200,1600", page.as_uri()]
        subprocess.run(command, check=True, capture_output=True)
