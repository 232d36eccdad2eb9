"""Metric values on a tiny table, computed by hand."""

import math

import numpy as np
import polars as pl
import pytest

from madoguchi.privacy.engine import PrivacyModel, anonymize, parse_hierarchy_text
from madoguchi.privacy.engine.hierarchy import column_codes, encode_hierarchy
from madoguchi.privacy.engine.lattice import Problem, group, row_classes
from madoguchi.privacy.engine.metrics import all_metrics
from madoguchi.privacy.engine.models import Evaluator

# Seven people. The age hierarchy also lists 25, which no one has: it counts for loss (hierarchy leaves), not
# for entropy (counts over the data).
AGE = parse_hierarchy_text(
    "21;20-29;*\n22;20-29;*\n23;20-29;*\n24;20-29;*\n25;20-29;*\n31;30-39;*\n32;30-39;*\n33;30-39;*\n",
    source="age",
)
SEX = parse_hierarchy_text("M;*\nF;*\n", source="sex")
TABLE = pl.DataFrame(
    {
        "age": ["21", "22", "23", "24", "31", "32", "33"],
        "sex": ["M", "M", "F", "M", "F", "M", "M"],
    }
)
ROLES = {"age": "quasi_identifier", "sex": "quasi_identifier"}


def test_metrics_by_hand_at_the_optimum():
    # k = 3, no suppression. Classes per node (age level, sex level):
    #   (0,*) every age alone → fails;  (1,0): 20-29/M = 3, 20-29/F = 1, 30-39/F = 1, 30-39/M = 2 → fails;
    #   (2,0): M = 5, F = 2 → fails;    (1,1): 20-29 = 4, 30-39 = 3 → satisfies;  (2,1): 7 → satisfies.
    # Non-uniform entropy at (1,1):
    #   age: four records in 20-29, each −log2(1/4) = 2 → 8; three in 30-39, each log2 3 → 3·log2 3;
    #   sex: five M, each log2(7/5); two F, each log2(7/2).
    #   = 8 + 3·log2 3 + 5·log2 1.4 + 2·log2 3.5 = 8 + 4.7548875 + 2.4271340 + 3.6147098 = 18.7967313
    # (2,1) adds more (7·log2 7 for age alone), so (1,1) is the optimum.
    # Loss (value-count based): age 20-29 covers 5 of the hierarchy's 8 values → (5−1)/(8−1) = 4/7 for four
    #   records; 30-39 covers 3 → 2/7 for three records; mean (16/7 + 6/7)/7 = 22/49. sex at * → 1.
    #   Averaged over the two quasi-identifiers: (22/49 + 1)/2 = 71/98 = 0.724490.
    # Precision: 1 − (1/2 + 1/1)/2 = 0.25.   Discernibility: 4² + 3² = 25.   AECS: 7 records / 2 classes = 3.5.
    # Risk: highest 1/3; average = classes/records = 2/7; records in classes below 4: the class of 3 → 3/7.
    r = anonymize(
        TABLE,
        roles=ROLES,
        hierarchies={"age": AGE, "sex": SEX},
        model=PrivacyModel(k=3),
        risk_class_size=4,
    )
    assert r.transformation == (1, 1)
    expected_entropy = 8 + 3 * math.log2(3) + 5 * math.log2(7 / 5) + 2 * math.log2(7 / 2)
    assert r.metrics.entropy == pytest.approx(expected_entropy) == pytest.approx(18.7967313, abs=1e-6)
    assert r.metrics.loss == pytest.approx(71 / 98)
    assert r.metrics.precision == pytest.approx(0.25)
    assert r.metrics.discernibility == 25
    assert r.metrics.aecs == pytest.approx(3.5)
    assert r.risk.highest == pytest.approx(1 / 3)
    assert r.risk.average == pytest.approx(2 / 7)
    assert r.risk.share_below_threshold == pytest.approx(3 / 7)
    assert r.suppressed == 0
    assert r.table["age"].to_list() == ["20-29"] * 4 + ["30-39"] * 3
    assert set(r.table["sex"].to_list()) == {"*"}


def test_metrics_by_hand_with_suppression():
    # Node (2,0) with k = 3 and up to 2 records suppressed: class M (5) released, class F (2) suppressed.
    # Entropy: age at * → each of 7 records log2 7; sex at level 0 → 0. The two suppressed records are
    #   counted at their generalized value, not priced: 7·log2 7 = 19.651484.
    # Discernibility: 5² + 2 suppressed × 7 rows = 39.   AECS: 7 / (1 released class + 1 suppressed) = 3.5.
    # Loss: age at * → 1 for every record; sex at level 0 → 0; (1 + 0)/2 = 0.5.   Precision: 1 − (1 + 0)/2 = 0.5.
    h_age, h_sex = encode_hierarchy(AGE), encode_hierarchy(SEX)
    codes = np.stack([column_codes(AGE, TABLE["age"]), column_codes(SEX, TABLE["sex"])], axis=1)
    problem = Problem(("age", "sex"), codes, (h_age, h_sex))
    classes = group(problem, row_classes(problem), (2, 0))
    failing = Evaluator(PrivacyModel(k=3, suppression=0.3), 7).failing(classes.counts, None)
    assert sorted(classes.counts[failing].tolist()) == [2]
    m = all_metrics(problem, (2, 0), classes.counts, failing)
    assert m.entropy == pytest.approx(7 * math.log2(7))
    assert m.discernibility == 39
    assert m.aecs == pytest.approx(3.5)
    assert m.loss == pytest.approx(0.5)
    assert m.precision == pytest.approx(0.5)


def test_entropy_is_zero_without_generalization():
    r = anonymize(TABLE, roles=ROLES, hierarchies={"age": AGE, "sex": SEX}, model=PrivacyModel(k=1))
    assert r.transformation == (0, 0)
    assert r.metrics.entropy == 0.0 and r.metrics.precision == 1.0 and r.metrics.discernibility == 7
