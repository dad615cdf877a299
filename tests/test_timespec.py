"""Time limits, delays and their display (spec §1.3 delays, §1.8 T1, §1.17 item 28)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jupyter_jobflow.core.errors import InvalidSpec
from jupyter_jobflow.core.timespec import UNITS, format_duration, parse_delay, parse_time_limit

E22_TAIL = ": expected minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS"


# --- parse_time_limit -------------------------------------------------------------------------


def test_time_limit_checklist_item_28():
    assert parse_time_limit("30") == 1800  # a bare number is minutes
    assert parse_time_limit("0:30") == 30  # M:S
    assert parse_time_limit("1-0") == 86400  # D-H


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("5", 300),
        ("5:30", 330),
        ("1:02:03", 3723),
        ("2:00:00", 7200),
        ("1-2", 93600),
        ("1-2:30", 95400),
        ("1-02:30:15", 95415),
        ("90s", 90),
        ("2h30m", 9000),
        ("1d", 86400),
        ("1w", 604800),
        ("45min", 2700),
        ("  1:00:00  ", 3600),
    ],
)
def test_time_limit_slurm_and_unit_forms(text, seconds):
    assert parse_time_limit(text) == seconds


@pytest.mark.parametrize("text", ["UNLIMITED", "unlimited", "Infinite", "INFINITE"])
def test_time_limit_unlimited_is_none(text):
    assert parse_time_limit(text) is None


@pytest.mark.parametrize("text", ["1:2:3:4", "abc", "", "-5", "1.5", "1-", "1:", "1h 30m", "2x", "1--2"])
def test_time_limit_bad_input_is_e22(text):
    with pytest.raises(InvalidSpec) as err:
        parse_time_limit(text)
    assert str(err.value) == f'Invalid --time "{text}"' + E22_TAIL


def test_time_limit_e22_exact_text():
    with pytest.raises(InvalidSpec) as err:
        parse_time_limit("1:2:3:4")
    assert str(err.value) == (
        'Invalid --time "1:2:3:4": expected minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS'
    )


@pytest.mark.parametrize("text", ["0", "0:00", "0-0", "0s"])
def test_time_limit_zero_is_rejected(text):
    with pytest.raises(InvalidSpec) as err:
        parse_time_limit(text)
    assert str(err.value) == f'Invalid --time "{text}": a time limit must be positive (use UNLIMITED for no limit)'


@given(st.text())
def test_time_limit_any_text_gives_seconds_or_invalid_spec(text):
    try:
        result = parse_time_limit(text)
    except InvalidSpec:
        return
    assert result is None or (isinstance(result, int) and result > 0)


@given(st.text(alphabet="0123456789:-smhdw UNLIMITEDinf", max_size=12))
def test_time_limit_near_miss_text_gives_seconds_or_invalid_spec(text):
    try:
        parse_time_limit(text)
    except InvalidSpec:
        pass


# --- parse_delay ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("10", 600),  # uint alone = minutes (Slurm & Crane)
        ("0", 0),
        ("10s", 10),
        ("30m", 1800),
        ("2h", 7200),
        ("1d", 86400),
        ("1w", 604800),
        ("1h30m", 5400),
        ("2hours", 7200),
        ("1day12hours", 129600),
        ("01:30:00", 5400),
        ("1:30:00", 5400),
        ("1-00:00:00", 86400),
        ("2-12:00:00", 216000),
    ],
)
def test_delay_forms(text, seconds):
    assert parse_delay(text) == seconds


@pytest.mark.parametrize("unit, factor", sorted(UNITS.items()))
def test_delay_every_unit_name(unit, factor):
    assert parse_delay(f"3{unit}") == 3 * factor


@pytest.mark.parametrize("text", ["5:30", "invalid", "", "01:75:00", "01:00:75", "1-24:00:00", "1-00", "1h 30m", "m", "10x"])
def test_delay_bad_input_raises_value_error(text):
    with pytest.raises(ValueError):
        parse_delay(text)


def test_delay_mm_ss_is_not_a_delay():
    # MM:SS collides with the job separator in dependency strings (rule L3).
    with pytest.raises(ValueError):
        parse_delay("5:30")


@given(st.text())
def test_delay_any_text_gives_seconds_or_value_error(text):
    try:
        result = parse_delay(text)
    except ValueError:
        return
    assert isinstance(result, int) and result >= 0


# --- format_duration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "seconds, text",
    [
        (None, "UNLIMITED"),
        (0, "00:00:00"),
        (59, "00:00:59"),
        (5400, "01:30:00"),
        (86399, "23:59:59"),
        (86400, "1-00:00:00"),
        (90061, "1-01:01:01"),
        (12.9, "00:00:12"),
        (float("inf"), "UNLIMITED"),
    ],
)
def test_format_duration_gflow_display(seconds, text):
    assert format_duration(seconds) == text


@given(st.integers(min_value=1, max_value=366 * 86400))
def test_format_duration_parses_back(seconds):
    text = format_duration(seconds)
    assert parse_delay(text) == seconds
    assert parse_time_limit(text) == seconds
