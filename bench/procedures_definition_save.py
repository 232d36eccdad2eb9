"""Saving a 200-field form definition end to end, as the builder does, on PostgreSQL: the work vs a baseline.

The work: `procedures.services.form_draft_save` — parse and validate with the engine, compute the hash, write the
draft version's JSON, and append the audit record, in one transaction. Each repetition changes one label so
that every save really writes (an unchanged definition is a no-op by design).
Baseline: the same JSON written with a bare ORM `UPDATE … SET definition = …` (no validation, no audit).
Target (issue #5): saving a 200-field definition ≤ 1 s.

    .venv/bin/python bench/procedures_definition_save.py [--repeat 50]
"""

import argparse
import copy
import json
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from _common import django_setup, throwaway_databases
from procedures_forms import big_definition

RESULTS = Path(__file__).resolve().parent / "results" / "procedures_definition_save.json"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    with throwaway_databases("defsave") as url:
        django_setup(url, migrate=True)
        from django.db import transaction

        from madoguchi.core.tests.factories import MunicipalityFactory
        from madoguchi.procedures import services
        from madoguchi.procedures.models import FormVersion

        municipality = MunicipalityFactory()
        procedure = services.procedure_create(
            municipality=municipality, actor=None, code="bench", name="bench", category="kurashi"
        )
        document = big_definition(200, 100)
        work, baseline = [], []
        for i in range(args.repeat):
            doc = copy.deepcopy(document)
            doc["title"] = {"ja": f"ベンチマーク {i}"}
            started = time.perf_counter()
            draft = services.form_draft_save(procedure=procedure, definition=json.dumps(doc), actor=None)
            work.append(time.perf_counter() - started)
            doc["title"] = {"ja": f"基準 {i}"}
            started = time.perf_counter()
            with transaction.atomic():
                FormVersion.objects.filter(pk=draft.pk).update(definition=doc)
            baseline.append(time.perf_counter() - started)
        fields = draft.field_count
    result = {
        "date": datetime.now(UTC).date().isoformat(),
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        "fields": fields,
        "repeat": args.repeat,
        "save_ms_median": round(statistics.median(work) * 1000, 2),
        "save_ms_p95": round(sorted(work)[int(len(work) * 0.95) - 1] * 1000, 2),
        "bare_update_ms_median": round(statistics.median(baseline) * 1000, 2),
        "ratio": round(statistics.median(work) / statistics.median(baseline), 1),
        "target_ms": 1000,
    }
    result["target_met"] = result["save_ms_p95"] <= 1000
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
