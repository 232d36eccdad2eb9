"""The anonymization engine: pure Python on polars and numpy, no Django (so it can be tested and benchmarked
alone, and run in a worker). Public API:

- hierarchies: `load_hierarchy_csv`, `parse_hierarchy_text`, `interval_hierarchy`, `date_hierarchy`,
  `prefix_hierarchy`, `Hierarchy`, `HierarchyError`;
- 匿名加工情報: `anonymize(table, roles=…, hierarchies=…, model=PrivacyModel(…))` → `AnonymizationResult`;
- 仮名加工情報: `pseudonymize(table, roles=…, token_key=…)` → `PseudonymizationResult`;
- the searches on an encoded problem (`find_transformation`, `optimal_search`, `plain_search`, `heuristic_search`) for
  benchmarks and tests.
"""

from .anonymize import AnonymizationResult, Risk, anonymize
from .codes import card_number_luhn_ok, keyed_tokens, my_number_check_digit_ok, normalize_code
from .errors import AnonymizationError, HierarchyError, NoSolutionError
from .hierarchy import (
    Hierarchy,
    date_hierarchy,
    interval_hierarchy,
    load_hierarchy_csv,
    parse_hierarchy_text,
    prefix_hierarchy,
)
from .metrics import METRICS, Metrics
from .models import PrivacyModel
from .processing import PseudonymizationResult, RareCategory, Role, TopCode, pseudonymize
from .search import (
    HEURISTIC_NODE_THRESHOLD,
    SearchOutcome,
    find_transformation,
    heuristic_search,
    optimal_search,
    plain_search,
)

__all__ = [
    "HEURISTIC_NODE_THRESHOLD",
    "METRICS",
    "AnonymizationError",
    "AnonymizationResult",
    "Hierarchy",
    "HierarchyError",
    "Metrics",
    "NoSolutionError",
    "PrivacyModel",
    "PseudonymizationResult",
    "RareCategory",
    "Risk",
    "Role",
    "SearchOutcome",
    "TopCode",
    "anonymize",
    "card_number_luhn_ok",
    "date_hierarchy",
    "find_transformation",
    "heuristic_search",
    "interval_hierarchy",
    "keyed_tokens",
    "load_hierarchy_csv",
    "my_number_check_digit_ok",
    "normalize_code",
    "optimal_search",
    "parse_hierarchy_text",
    "plain_search",
    "prefix_hierarchy",
    "pseudonymize",
]
