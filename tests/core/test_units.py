"""Durations and quantities: the spellings users write, and one-line errors for the others."""

from __future__ import annotations

import pytest

from daskcloud.core.units import format_cpu, parse_cpu, parse_duration, parse_memory


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("20m", 1200), ("8h", 28800), ("1h30m", 5400), ("2d", 172800), (45, 45)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["soon", "10 minutes", "", "0m", True, 0, "1.5h"])
def test_a_bad_duration_names_the_value_and_a_valid_spelling(bad):
    with pytest.raises(ValueError, match=r"max_time .* (not a duration|longer than zero)") as e:
        parse_duration(bad, "max_time")
    assert "'20m'" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("text", "n"), [("512Mi", 512 * 2**20), ("4Gi", 4 * 2**30), ("1.5G", 1_500_000_000), (64, 64)]
)
def test_memory(text, n):
    assert parse_memory(text) == n


def test_a_memory_typo_suggests_the_quantity_meant():
    with pytest.raises(ValueError, match=r"write '12Gi' or '12G'"):
        parse_memory("12 GB")


@pytest.mark.parametrize(
    ("text", "millicores", "canonical"),
    [("2", 2000, "2"), (2, 2000, "2"), ("1.5", 1500, "1500m"), ("500m", 500, "500m"),
     (".25", 250, "250m")],
)  # fmt: skip
def test_cpu(text, millicores, canonical):
    assert parse_cpu(text) == millicores
    assert format_cpu(millicores) == canonical


@pytest.mark.parametrize("bad", ["0", "-1", "two", "0.0005", "1.5m", True])
def test_a_bad_cpu_says_how_to_write_one(bad):
    with pytest.raises(ValueError, match=r"write cores such as '2' or '1\.5'"):
        parse_cpu(bad)
