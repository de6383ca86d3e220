"""One-page report of pipeline runs: plots of every run and stage, and a table of the figures.

    .venv/bin/python scripts/report.py runs/demo-sft runs/demo-rm-pairwise runs/demo-grpo --out runs/demo-report

Writes OUT/report.png, OUT/report.md and OUT/report.json. Exit code 2 for a missing run
folder or an existing report (unless --overwrite); nothing is written then.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from align.config import ConfigError  # noqa: E402
from align.workflows.report import write_report  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path, help="run folders (runs/<name>)")
    p.add_argument("--out", type=Path, required=True, help="folder for report.png, report.md, report.json")
    p.add_argument("--overwrite", action="store_true", help="replace an existing report")
    a = p.parse_args(argv)
    try:
        path = write_report(a.runs, a.out, a.overwrite)
    except ConfigError as exc:
        print(f"report: error: {exc}", file=sys.stderr)
        return 2
    print(f"[report] {path} and {a.out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
