"""OpenAI's attribute filters (`ComparisonFilter`, `CompoundFilter`), checked once and then matched
against each file's attributes. A search keeps the chunks of the files that match: attributes live
on the file's record, so updating them never rewrites vectors."""

from shared import errors
from shared.protocol.vector_stores import Filter

COMPARISONS = {"eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"}
COMPOUNDS = {"and", "or"}


def check(flt: Filter, param: str = "filters") -> None:
    """A 400 naming the part of `flt` that is not a filter."""
    if flt.type in COMPOUNDS:
        if not flt.filters:
            raise errors.invalid_request(f"A `{flt.type}` filter needs `filters`.", param=f"{param}.filters")
        for n, inner in enumerate(flt.filters):
            check(inner, f"{param}.filters[{n}]")
        return
    if flt.key is None or flt.value is None:
        raise errors.invalid_request(f"A `{flt.type}` filter needs `key` and `value`.", param=param)
    if (flt.type in ("in", "nin")) != isinstance(flt.value, list):
        wanted = "a list" if flt.type in ("in", "nin") else "one value"
        raise errors.invalid_request(f"`{flt.type}` compares with {wanted}.", param=f"{param}.value")


def _same_kind(a, b) -> bool:
    number = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    return (isinstance(a, number) and isinstance(b, number)) or (isinstance(a, str) and isinstance(b, str))


def matches(flt: Filter, attributes: dict | None) -> bool:
    if flt.type == "and":
        return all(matches(inner, attributes) for inner in flt.filters)
    if flt.type == "or":
        return any(matches(inner, attributes) for inner in flt.filters)
    attributes = attributes or {}
    if flt.key not in attributes:
        return flt.type in ("ne", "nin")
    have, want = attributes[flt.key], flt.value
    if flt.type in ("in", "nin"):
        found = any(_same_kind(have, v) and have == v for v in want)
        return found if flt.type == "in" else not found
    if not _same_kind(have, want):
        return flt.type == "ne"
    match flt.type:
        case "eq":
            return have == want
        case "ne":
            return have != want
        case "gt":
            return have > want
        case "gte":
            return have >= want
        case "lt":
            return have < want
        case "lte":
            return have <= want
    return False
