"""List endpoints: bracketed `filter[...]`/`search[...]` query keys, sort, and paging.

The SDK encodes nested objects with brackets and arrays comma-joined
(`filter[custom_fields][owner]=x&search[status]=running,pending`); the docs also show repeated
keys. Filters are exact matches (AND); a search field matches when any of its values is a
substring (OR within a field, AND across fields).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import QueryParams

from .clock import parse_iso
from .errors import validation_error

__all__ = ["ListQuery", "page_of", "parse_list_query"]

_KEY = re.compile(r"^([A-Za-z_]+)((?:\[[^\[\]]*\])*)$")
_SORTS = ("created_at", "-created_at", "updated_at", "-updated_at")
_DATE_OPS = {
    "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "start": lambda a, b: a >= b,
    "end": lambda a, b: a <= b,
}

Nested = dict[str, Any]


@dataclass(frozen=True)
class ListQuery:
    """A parsed list request."""

    page: int
    page_size: int
    sort: str
    filter: Nested
    search: Nested


def _insert(tree: Nested, path: list[str], value: str) -> None:
    node = tree
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    leaf = path[-1]
    previous = node.get(leaf)
    if isinstance(previous, list):
        previous.append(value)
    elif isinstance(previous, str):
        node[leaf] = [previous, value]
    else:
        node[leaf] = value


def _nested(params: QueryParams, root: str) -> Nested:
    tree: Nested = {}
    for key, value in params.multi_items():
        match = _KEY.match(key)
        if not match or match.group(1) != root or not match.group(2):
            continue
        path = re.findall(r"\[([^\[\]]*)\]", match.group(2))
        _insert(tree, path, value)
    return tree


def _int_param(params: QueryParams, name: str, default: int, maximum: int | None = None) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        msg = "Input should be a valid integer, unable to parse string as an integer"
        raise validation_error(("query", name), msg, "int_parsing", raw) from None
    if value < 1:
        raise validation_error(
            ("query", name), "Input should be greater than or equal to 1", "greater_than_equal", raw
        )
    if maximum is not None and value > maximum:
        raise validation_error(
            ("query", name),
            f"Input should be less than or equal to {maximum}",
            "less_than_equal",
            raw,
        )
    return value


def _check_dates(tree: Nested, where: tuple[str, ...]) -> None:
    """422 for a date filter with an unknown operator or a value that is not ISO 8601."""
    for key in ("created_at", "updated_at"):
        ops = tree.get(key)
        if ops is None:
            continue
        if not isinstance(ops, dict):
            raise validation_error(
                (*where, key), "Input should be a valid dictionary", "dict_type", ops
            )
        for op, raw in ops.items():
            loc = (*where, key, op)
            if op not in _DATE_OPS:
                raise validation_error(
                    loc, "Extra inputs are not permitted", "extra_forbidden", raw
                )
            try:
                parse_iso(raw if isinstance(raw, str) else raw[0])
            except (ValueError, IndexError):
                msg = "Input should be a valid datetime"
                raise validation_error(loc, msg, "datetime_parsing", raw) from None


def parse_list_query(params: QueryParams, default_size: int, max_size: int) -> ListQuery:
    """Parse and validate paging, sort, filter and search (422 on bad values)."""
    sort = params.get("sort", "-created_at")
    if sort not in _SORTS:
        msg = "Input should be " + ", ".join(repr(s) for s in _SORTS)
        raise validation_error(("query", "sort"), msg, "literal_error", sort)
    query = ListQuery(
        page=_int_param(params, "page", 1),
        page_size=_int_param(params, "page_size", default_size, max_size),
        sort=sort,
        filter=_nested(params, "filter"),
        search=_nested(params, "search"),
    )
    _check_dates(query.filter, ("query", "filter"))
    _check_dates(query.search, ("query", "search"))
    return query


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _date_matches(actual: Any, ops: dict[str, Any]) -> bool:
    """Every operator holds (values were checked by `_check_dates`)."""
    if not isinstance(actual, str):
        return False
    moment = parse_iso(actual)
    for op, raw in ops.items():
        bound = parse_iso(raw if isinstance(raw, str) else raw[0])
        if not _DATE_OPS[op](moment, bound):
            return False
    return True


def _candidates(actual: Any) -> set[str]:
    """Texts a scalar filter value may equal; an embedded entity matches its `ns/name` or id."""
    if isinstance(actual, dict) and "name" in actual:
        return {f"{actual.get('namespace')}/{actual.get('name')}", str(actual.get("id"))}
    return {_text(actual)}


def _filter_matches(item: dict[str, Any], wanted: Nested) -> bool:
    for key, expected in wanted.items():
        actual = item.get(key)
        if key in ("created_at", "updated_at"):
            ok = _date_matches(actual, expected)
        elif isinstance(expected, dict):
            sub = actual if isinstance(actual, dict) else {}
            ok = _filter_matches(sub, expected)
        else:
            values = expected if isinstance(expected, list) else [expected]
            ok = actual is not None and bool(_candidates(actual) & set(values))
        if not ok:
            return False
    return True


def _search_matches(item: dict[str, Any], wanted: Nested) -> bool:
    for key, needles in wanted.items():
        actual = item.get(key)
        if key in ("created_at", "updated_at"):
            if not _date_matches(actual, needles):
                return False
            continue
        if isinstance(needles, dict):
            needles = [str(v) for v in needles.values()]
        options = needles if isinstance(needles, list) else needles.split(",")
        haystack = "" if actual is None else _text(actual)
        if not any(opt in haystack for opt in options):
            return False
    return True


def page_of(items: Sequence[dict[str, Any]], query: ListQuery) -> dict[str, Any]:
    """Filter, search, sort and cut one page, in NeMo's list envelope.

    `items` come in creation order; the sort is stable, so ties keep that order and paging is
    deterministic.
    """
    kept = [
        it
        for it in items
        if _filter_matches(it, query.filter) and _search_matches(it, query.search)
    ]
    field = query.sort.lstrip("-")
    kept.sort(key=lambda it: parse_iso(it[field]), reverse=query.sort.startswith("-"))
    start = (query.page - 1) * query.page_size
    data = kept[start : start + query.page_size]
    return {
        "object": "list",
        "data": data,
        "pagination": {
            "page": query.page,
            "page_size": query.page_size,
            "current_page_size": len(data),
            "total_pages": math.ceil(len(kept) / query.page_size),
            "total_results": len(kept),
        },
        "sort": query.sort,
        "filter": query.filter,
        "search": query.search,
    }
