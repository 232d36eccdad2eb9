"""Anonymization on the Adult data: the optimal search (best-first with pruning and roll-up) vs the plain search
that evaluates every node of the lattice from the rows (the baseline), side by side in one run.

All 9 columns are quasi-identifiers with their hierarchies (12,960 nodes); k = 5 and k = 100, each with 0 % and
4 % suppression; the objective is non-uniform entropy. For each case it prints the optimal transformation, its
entropy and the times, checks that both searches return the same node, and writes
`results/anonymize_adult.json`. Search times exclude reading and encoding the table (done once, timed apart).
The optimal search is timed as the median (and best) of --repeat runs; the plain search once. The optimal
search without the projection bound (`projection_bound=False`) is timed alongside, interleaved, as an ablation.

    .venv/bin/python bench/anonymize_adult.py [--repeat 7]
"""

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from madoguchi.privacy.engine import PrivacyModel, load_hierarchy_csv  # noqa: E402
from madoguchi.privacy.engine.hierarchy import column_codes, encode_hierarchy  # noqa: E402
from madoguchi.privacy.engine.lattice import Problem  # noqa: E402
from madoguchi.privacy.engine.models import Evaluator  # noqa: E402
from madoguchi.privacy.engine.search import optimal_search, plain_search  # noqa: E402

DATA = ROOT / "src" / "madoguchi" / "privacy" / "data" / "adult"
CASES = [(5, 0.0), (5, 0.04), (100, 0.0), (100, 0.04)]


def load() -> tuple[Problem, float]:
    started = time.perf_counter()
    table = pl.read_csv(DATA / "adult.csv", separator=";", infer_schema=False)
    encoded, codes = [], []
    for column in table.columns:
        h = load_hierarchy_csv(DATA / f"adult_hierarchy_{column}.csv")
        encoded.append(encode_hierarchy(h))
        codes.append(column_codes(h, table[column]))
    problem = Problem(tuple(table.columns), np.stack(codes, axis=1), tuple(encoded))
    return problem, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    problem, prepare = load()
    print(
        f"Adult: {problem.n_rows:,} rows, {len(problem.qi_names)} quasi-identifiers, {problem.n_nodes:,} nodes; "
        f"read + encode {prepare * 1000:.0f} ms"
    )
    print(f"{'case':<14}{'optimal transformation':<30}{'entropy':>14}{'optimal':>11}{'best':>10}"
          f"{'evaluated':>11}{'plain':>10}{'speed-up':>10}  same")  # fmt: skip
    rows = []
    all_same = True
    for k, suppression in CASES:
        evaluator = Evaluator(PrivacyModel(k=k, suppression=suppression), problem.n_rows)
        runs, ablation = [], []
        for _ in range(args.repeat):  # interleaved, so that both see the same load
            runs.append(optimal_search(problem, evaluator))
            ablation.append(optimal_search(problem, evaluator, projection_bound=False))
        times = [r.seconds for r in runs]
        no_projection = statistics.median(r.seconds for r in ablation)
        best = runs[0]
        plain = plain_search(problem, evaluator)
        same = plain.levels == best.levels and all(r.levels == best.levels for r in runs + ablation)
        all_same &= same
        median = statistics.median(times)
        row = {
            "k": k,
            "suppression": suppression,
            "transformation": list(best.levels),
            "columns": list(problem.qi_names),
            "entropy": best.objective,
            "optimal_ms_median": round(median * 1000, 1),
            "optimal_ms_best": round(min(times) * 1000, 1),
            "nodes_evaluated": best.nodes_evaluated,
            "without_projection_bound_ms_median": round(no_projection * 1000, 1),
            "without_projection_bound_nodes_evaluated": ablation[0].nodes_evaluated,
            "plain_s": round(plain.seconds, 2),
            "plain_transformation": list(plain.levels),
            "speedup_median": round(plain.seconds / median, 1),
            "same_optimum": same,
        }
        rows.append(row)
        print(
            f"k={k:<3} s={suppression:<5.0%} {str(best.levels):<30}{best.objective:>14.1f}"
            f"{median * 1000:>9.1f}ms{min(times) * 1000:>8.1f}ms{best.nodes_evaluated:>11,}"
            f"{plain.seconds:>9.2f}s{plain.seconds / median:>9.0f}×  {'yes' if same else 'NO'}",
            flush=True,
        )
        print(
            f"{'':<14}without the projection bound: {no_projection * 1000:.1f} ms, "
            f"{ablation[0].nodes_evaluated:,} nodes evaluated",
            flush=True,
        )
    target_time = rows[0]["optimal_ms_median"] <= 100
    target_ratio = all(r["speedup_median"] >= 100 for r in rows)
    print(
        f"targets: k=5/0% ≤ 100 ms: {'met' if target_time else 'MISSED'} ({rows[0]['optimal_ms_median']} ms); "
        f"≥ 100× the plain search in every case: {'met' if target_ratio else 'MISSED'} "
        f"(lowest {min(r['speedup_median'] for r in rows)}×); same optimum: {'yes' if all_same else 'NO'}"
    )
    result = {
        "benchmark": "anonymize_adult",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "polars": pl.__version__,
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        },
        "rows": problem.n_rows,
        "nodes": problem.n_nodes,
        "metric": "non-uniform entropy",
        "read_and_encode_ms": round(prepare * 1000, 1),
        "repeat": args.repeat,
        "cases": rows,
        "targets": {
            "k5_0pct_le_100ms": target_time,
            "speedup_ge_100x": target_ratio,
            "same_optimum": all_same,
        },
    }
    out = ROOT / "bench" / "results" / "anonymize_adult.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"→ {out.relative_to(ROOT)}")
    return 0 if all_same else 1


if __name__ == "__main__":
    sys.exit(main())
