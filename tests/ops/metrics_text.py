"""Reading a Prometheus exposition the way a scraper does."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Every sample in the exposition as (name, labels, value)."""
    families = text_string_to_metric_families(text)
    return [(s.name, dict(s.labels), s.value) for family in families for s in family.samples]


def value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels` (0 when there are none)."""
    return sum(v for n, ls, v in samples(text) if n == name and all(ls.get(k) == want for k, want in labels.items()))
