"""Single-row INSERTs for the hot write paths, with the statement built once per model and database vendor.

`Model.save()` compiles its INSERT anew on every call (the ORM walks the fields, quotes every name and builds
the SQL); on the busiest paths (an application filed, an audit record) that compiling costs more CPU than the
database spends on the row. `insert(obj)` writes the same row with the same field preparation
(`pre_save` — `auto_now_add` and the like — then `get_db_prep_save`, as the ORM's compiler does) through a
statement kept per model, and sets the primary key on the instance as `save()` would.

Only for models that do not override `save()` and have no `pre_save`/`post_save` receivers (both are
checked; such a model is refused with TypeError rather than silently skipping its behaviour), and for an
auto-incremented primary key.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connections, models, transaction
from django.db.models.signals import post_save, pre_save


@dataclass(frozen=True)
class _Plan:
    sql: str
    fields: tuple[models.Field, ...]
    returning: bool


_PLANS: dict[tuple[type[models.Model], str], _Plan] = {}


def _plan(model: type[models.Model], using: str) -> _Plan:
    connection = connections[using]
    key = (model, connection.vendor)
    plan = _PLANS.get(key)
    if plan is None:
        if model.save is not models.Model.save:
            raise TypeError(f"{model.__name__} overrides save(): use save()")
        meta = model._meta
        if not isinstance(meta.pk, models.AutoField):
            raise TypeError(f"{model.__name__} has no auto-incremented primary key")
        fields = tuple(f for f in meta.concrete_fields if f is not meta.pk)
        quote = connection.ops.quote_name
        sql = (
            f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608 (names from the model)
            f"VALUES ({', '.join(['%s'] * len(fields))})"
        )
        returning = connection.features.can_return_columns_from_insert
        if returning:
            sql += f" RETURNING {quote(meta.pk.column)}"
        plan = _PLANS[key] = _Plan(sql, fields, returning)
    if pre_save.has_listeners(model) or post_save.has_listeners(model):
        raise TypeError(f"{model.__name__} has save signal receivers: use save()")
    return plan


def insert(
    obj: models.Model, *, using: str = "default", also: tuple[str, list] | None = None
) -> models.Model:
    """INSERT `obj` (which must not be saved yet) and set its primary key; returns `obj`.

    `also`: one more data-modifying statement (SQL with %s parameters, and its parameters) that belongs with
    this row, e.g. moving a chain head. On PostgreSQL both go in one statement (a data-modifying WITH), which
    saves a round trip on every call; elsewhere it runs right after the INSERT, both in one transaction (the
    caller's, or one opened here). Either way both are written or neither; `also` must not depend on the new
    row (both see the same snapshot on PostgreSQL) and must be one plain statement (no WITH of its own, no
    trailing semicolon), as it becomes part of a WITH on PostgreSQL."""
    if obj._state.adding is False or obj.pk is not None:
        raise ValueError("insert() writes new rows only")
    plan = _plan(type(obj), using)
    connection = connections[using]
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in plan.fields]
    with connection.cursor() as cursor:
        if also is not None and plan.returning and connection.vendor == "postgresql":
            cursor.execute(
                f"WITH new_row AS ({plan.sql}), also AS ({also[0]}) SELECT * FROM new_row",  # noqa: S608 (callers' SQL)
                [*params, *also[1]],
            )
            obj.pk = cursor.fetchone()[0]
        elif also is not None:
            with transaction.atomic(using=using, savepoint=False):
                cursor.execute(plan.sql, params)
                obj.pk = cursor.fetchone()[0] if plan.returning else cursor.lastrowid
                cursor.execute(*also)
        else:
            cursor.execute(plan.sql, params)
            obj.pk = cursor.fetchone()[0] if plan.returning else cursor.lastrowid
    obj._state.adding = False
    obj._state.db = using
    return obj


_PAIRS: dict[tuple, tuple[str, tuple[models.Field, ...]]] = {}


def insert_with_child(
    parent: models.Model, child: models.Model, *, link: str, using: str = "default"
) -> tuple[models.Model, models.Model]:
    """INSERT `parent`, then `child`, whose foreign key `link` points to it; set both primary keys and the link.

    On PostgreSQL one statement (a data-modifying WITH hands the parent's new key to the child), one round trip
    fewer on a hot path; elsewhere two `insert` calls in one transaction. Either way both rows are written or
    neither. The same rules as `insert` apply to both models."""
    for obj in (parent, child):
        if obj._state.adding is False or obj.pk is not None:
            raise ValueError("insert_with_child() writes new rows only")
    connection = connections[using]
    fk = child._meta.get_field(link)
    if not fk.many_to_one and not fk.one_to_one or fk.related_model is not type(parent):
        raise TypeError(f"{type(child).__name__}.{link} is not a foreign key to {type(parent).__name__}")
    parent_plan, child_plan = _plan(type(parent), using), _plan(type(child), using)
    if not (parent_plan.returning and connection.vendor == "postgresql"):
        with transaction.atomic(using=using, savepoint=False):
            insert(parent, using=using)
            setattr(child, link, parent)  # the link's column, now that the parent has its key
            insert(child, using=using)
        return parent, child
    key = (type(parent), type(child), link, connection.vendor)
    pair = _PAIRS.get(key)
    if pair is None:
        quote = connection.ops.quote_name
        fields = tuple(f for f in child_plan.fields if f is not fk)
        meta = child._meta
        sql = (
            f"WITH new_parent AS ({parent_plan.sql}) INSERT INTO {quote(meta.db_table)} "  # noqa: S608 (model names)
            f"({quote(fk.column)}, {', '.join(quote(f.column) for f in fields)}) "
            f"SELECT new_parent.{quote(type(parent)._meta.pk.column)}, {', '.join(['%s'] * len(fields))} "
            f"FROM new_parent RETURNING {quote(fk.column)}, {quote(meta.pk.column)}"
        )
        pair = _PAIRS[key] = (sql, fields)
    sql, fields = pair
    params = [f.get_db_prep_save(f.pre_save(parent, True), connection) for f in parent_plan.fields]
    params += [f.get_db_prep_save(f.pre_save(child, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        parent.pk, child.pk = cursor.fetchone()
    setattr(child, link, parent)
    for obj in (parent, child):
        obj._state.adding = False
        obj._state.db = using
    return parent, child
