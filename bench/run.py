"""Run every benchmark in bench/ (each compares against its baseline in the same run) and list the results."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    "audit_streams.py",
    "points_calc.py",
    "points_ingest.py",
    "points_online.py",
    "points_launch.py",
    "anonymize_adult.py",
    "anonymize_synthetic.py",
    "security_ingest.py",
    "procedures_forms.py",
    "procedures_definition_save.py",
    "grants_calc.py",
    "procedures_submit.py",
]

if __name__ == "__main__":
    failed = 0
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        failed |= subprocess.call([sys.executable, str(HERE / name)])  # noqa: S603
    sys.exit(failed)
