"""The pure subsidy arithmetic (grants/calc.py), each built path against its naive baseline in the same run:

1. base amounts (基準額) of all 1,788 bodies (47 prefectures + 1,741 municipalities, 2020 census; a prefecture's
   population is the sum of its municipalities'), 125億円 split 50/50 between the equal and population shares:
   `base_amounts` (numpy, integer largest remainder) vs a per-body loop with Fractions and a sort;
2. 額の確定 of 100,000 synthetic applications: `confirmed_amounts` (numpy int64) vs a Python loop of
   `confirmed_amount`.

Results are compared item by item. Target (issue): ≤ 1 s each for the built path.

    .venv/bin/python bench/grants_calc.py [--applications 100000]
"""

import argparse
import csv
import json
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from madoguchi.grants import calc  # noqa: E402

DATA = ROOT / "src" / "madoguchi" / "core" / "data"
EQUAL_TOTAL = 6_250_000_000
POPULATION_TOTAL = 6_250_000_000
RATES = [(1, 1), (2, 3), (1, 2), (3, 4), (1, 3), (9, 10)]


def load_populations():
    with (DATA / "municipal_population.csv").open(encoding="utf-8") as f:
        population = {row["code"]: int(row["population"]) for row in csv.DictReader(f)}
    with (DATA / "local_governments.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    per_prefecture = {}
    for row in rows:
        if row["city"]:
            per_prefecture[row["prefecture"]] = (
                per_prefecture.get(row["prefecture"], 0) + population[row["code"]]
            )
    return [population[row["code"]] if row["city"] else per_prefecture[row["prefecture"]] for row in rows]


def naive_base_amounts(pops, equal_total, population_total):
    """One body at a time with Fractions, then largest remainder by sorting the Fraction remainders."""
    n, s = len(pops), sum(pops)
    exact = [Fraction(equal_total, n) + Fraction(population_total * p, s) for p in pops]
    out = [x.numerator // x.denominator for x in exact]
    left = equal_total + population_total - sum(out)
    for i in sorted(range(n), key=lambda i: (-(exact[i] - out[i]), i))[:left]:
        out[i] += 1
    return out


def best_of(repeat, fn):
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--applications", type=int, default=100_000)
    args = parser.parse_args()

    # (1) base amounts, real data
    pops = load_populations()
    base_seconds, base = best_of(
        20, lambda: calc.base_amounts(pops, equal_total=EQUAL_TOTAL, population_total=POPULATION_TOTAL)
    )
    naive_seconds, naive = best_of(3, lambda: naive_base_amounts(pops, EQUAL_TOTAL, POPULATION_TOTAL))
    assert base == naive, "base_amounts and the Fraction loop disagree"
    assert sum(base) == EQUAL_TOTAL + POPULATION_TOTAL

    # (2) 額の確定, synthetic applications
    rng = np.random.default_rng(2020)
    n = args.applications
    actual = rng.integers(0, 50_000_001, n)
    which = rng.integers(0, len(RATES), n)
    num = np.array([r[0] for r in RATES])[which]
    den = np.array([r[1] for r in RATES])[which]
    # decided amounts within ±20 % of the subsidy on the actual cost, so both sides of the min() occur
    decided = actual * num // den * rng.integers(80, 121, n) // 100
    vector_seconds, vector = best_of(5, lambda: calc.confirmed_amounts(actual, num, den, decided))
    lists = [x.tolist() for x in (actual, num, den, decided)]

    def loop():
        return [
            calc.confirmed_amount(eligible_actual=a, rate_num=p, rate_den=q, decided=c)
            for a, p, q, c in zip(*lists, strict=True)
        ]

    loop_seconds, reference = best_of(1, loop)
    assert vector.tolist() == reference, "confirmed_amounts and the loop disagree"

    result = {
        "benchmark": "grants_calc",
        "base_amounts": {
            "bodies": len(pops),
            "total_yen": EQUAL_TOTAL + POPULATION_TOTAL,
            "numpy_seconds_best_of_20": round(base_seconds, 6),
            "fraction_loop_seconds_best_of_3": round(naive_seconds, 6),
            "speedup": round(naive_seconds / base_seconds, 1),
            "identical_results": True,
            "target_1s_met": base_seconds <= 1.0,
        },
        "confirmed_amounts": {
            "applications": n,
            "numpy_seconds_best_of_5": round(vector_seconds, 6),
            "loop_seconds": round(loop_seconds, 4),
            "speedup": round(loop_seconds / vector_seconds, 1),
            "capped_at_decided": int((vector < actual * num // den).sum()),
            "identical_results": True,
            "target_1s_met": vector_seconds <= 1.0,
        },
    }
    print(json.dumps(result, indent=2))
    b, c = result["base_amounts"], result["confirmed_amounts"]
    print(
        f"base_amounts {b['bodies']} bodies: {b['numpy_seconds_best_of_20'] * 1e3:.2f} ms vs Fraction loop "
        f"{b['fraction_loop_seconds_best_of_3'] * 1e3:.1f} ms ({b['speedup']}x); "
        f"confirmed_amounts {n:,}: {c['numpy_seconds_best_of_5'] * 1e3:.2f} ms vs loop "
        f"{c['loop_seconds'] * 1e3:.0f} ms ({c['speedup']}x); identical; target <= 1 s each met: "
        f"{b['target_1s_met'] and c['target_1s_met']}"
    )
    (ROOT / "bench" / "results" / "grants_calc.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
