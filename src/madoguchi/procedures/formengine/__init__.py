"""A pure-Python form engine for procedure forms (docs/procedures-form-schema.md): parse and validate
definitions, evaluate show-if conditions, clean answers, and build the canonical bytes that are signed.

Nothing here imports Django; the Django layer (``procedures/answers.py``) adds messages and the vault.
"""

from .canonical import canonical_bytes, canonical_json
from .cleaners import FILE_TYPES, is_valid_my_number, my_number_check_digit
from .conditions import compile_condition, evaluate_condition
from .evaluate import clean_answers, visible_fields
from .problems import DefinitionError, Problem
from .schema import (
    FIELD_TYPES,
    MAX_FIELDS,
    Field,
    FormDefinition,
    Option,
    Page,
    field_summary,
    parse_definition,
)
from .text import normalize_search_text, to_hiragana, to_katakana

__all__ = [
    "FIELD_TYPES",
    "FILE_TYPES",
    "MAX_FIELDS",
    "DefinitionError",
    "Field",
    "FormDefinition",
    "Option",
    "Page",
    "Problem",
    "canonical_bytes",
    "canonical_json",
    "clean_answers",
    "compile_condition",
    "evaluate_condition",
    "field_summary",
    "is_valid_my_number",
    "my_number_check_digit",
    "normalize_search_text",
    "parse_definition",
    "to_hiragana",
    "to_katakana",
    "visible_fields",
]
