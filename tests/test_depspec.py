"""The dependency grammar (spec §1.3), its messages (§1.5) and checklist items 1-4 (§1.17)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jupyter_jobflow.core.depspec import CONDITION_TYPES, Condition, DepSpec, from_flags, parse, resolve
from jupyter_jobflow.core.errors import InvalidSpec

E2_TAIL = (
    ": expected <type>:<job_id>[+<delay>][:<job_id>[+<delay>]]... where <type> is "
    'after, afterok, afternotok, afterany, aftercorr; or "singleton"'
)
E4_TAIL = ": expected minutes (10), a unit (10s, 30m, 2h, 1d, 1w, 1h30m) or [D-]HH:MM:SS"


def error_of(fn, *args, **kwargs) -> str:
    with pytest.raises(InvalidSpec) as err:
        fn(*args, **kwargs)
    return str(err.value)


def and_(*conditions: Condition, singleton: bool = False) -> DepSpec:
    return DepSpec("and", conditions, singleton)


def ok(target, delay=0) -> Condition:
    return Condition("afterok", target, delay)


# --- §1.17 checklist, items 1-4 ---------------------------------------------------------------


def test_parse_item1_clock_delay_is_one_clause():
    assert parse("afterok:100+01:30:00") == and_(ok(100, 5400))


def test_parse_item1_minutes_delay_then_next_job():
    assert parse("afterok:100+90:101") == and_(ok(100, 5400), ok(101))


def test_parse_item2_day_clock_delay():
    assert parse("afterok:100+1-00:00:00") == and_(ok(100, 86400))


def test_parse_item2_mm_ss_delay_is_e4_with_suggestion():
    assert error_of(parse, "afterok:100+5:30") == (
        'Invalid delay "+5:30" for job 100 in "afterok:100+5:30"' + E4_TAIL + " (MM:SS is not a delay; write +5m30s)"
    )


def test_parse_item3_mixed_separators_is_e1():
    assert error_of(parse, "afterok:1,afterok:2?afterok:3") == (
        "Invalid dependency \"afterok:1,afterok:2?afterok:3\": cannot mix ',' (AND) and '?' (OR) in one "
        "dependency; use one separator (AND and OR cannot be nested)"
    )


def test_parse_item3_same_job_twice_is_e5():
    assert error_of(parse, "afterok:1:1") == 'Invalid dependency "afterok:1:1": job 1 appears more than once'


def test_resolve_item3_same_job_after_resolution_is_e5():
    spec = parse("afterok:@,afterok:@~0")
    assert error_of(resolve, spec, [7, 6]) == (
        'Invalid dependency "afterok:@,afterok:@~0": job 7 appears more than once'
    )


def test_parse_item4_bare_id_is_e2b():
    assert error_of(parse, "123") == (
        'Invalid dependency "123": missing dependency type. Write "afterok:123" (run only if 123 succeeds; '
        "gflow --depends-on) or \"afterany:123\" (run after 123 ends either way; Slurm's default)"
    )


def test_parse_item4_miscased_type_is_e3():
    assert error_of(parse, "afterOK:1") == 'Unknown dependency type "afterOK" in "afterOK:1" (did you mean "afterok"?)'


def test_parse_item4_missing_target_is_e2():
    assert error_of(parse, "afterok:") == 'Invalid dependency "afterok:" (col 1)' + E2_TAIL


def test_parse_item4_leading_zero_is_e11():
    assert error_of(parse, "afterok:01") == (
        'Invalid job ID "01" in dependency: job IDs are positive integers without leading zeros'
    )


def test_parse_item4_singleton_in_or_is_e13():
    assert error_of(parse, "singleton?afterok:1") == "\"singleton\" takes no job IDs and can only be combined with ','"


# --- every message, exactly -------------------------------------------------------------------


def test_parse_e2_spec_example():
    assert error_of(parse, "after100") == 'Invalid dependency "after100" (col 1)' + E2_TAIL


def test_parse_e2_quotes_the_clause_and_its_column():
    assert error_of(parse, "afterok:1,after100") == 'Invalid dependency "after100" (col 11)' + E2_TAIL


def test_parse_e2_quotes_a_bad_target_and_its_column():
    assert error_of(parse, "afterok:1:x!y") == 'Invalid dependency "x!y" (col 11)' + E2_TAIL


def test_parse_e2_empty_clause_points_at_the_separator():
    assert error_of(parse, "afterok:1,,afterok:2") == 'Invalid dependency "afterok:1,,afterok:2" (col 10)' + E2_TAIL
    assert error_of(parse, "afterok:1?") == 'Invalid dependency "afterok:1?" (col 10)' + E2_TAIL
    assert error_of(parse, ",afterok:1") == 'Invalid dependency ",afterok:1" (col 1)' + E2_TAIL


def test_parse_e2_columns_count_from_the_first_non_blank():
    assert error_of(parse, "   afterok:1, after100") == 'Invalid dependency "after100" (col 12)' + E2_TAIL


def test_parse_e2b_for_at_references():
    assert error_of(parse, "afterok:1,@~2").startswith('Invalid dependency "@~2": missing dependency type. Write "afterok:@~2"')


def test_parse_e3_suggests_a_close_type():
    assert error_of(parse, "aftrok:5") == 'Unknown dependency type "aftrok" in "aftrok:5" (did you mean "afterok"?)'
    assert error_of(parse, "Singleton") == 'Unknown dependency type "Singleton" in "Singleton" (did you mean "singleton"?)'


def test_parse_e3_without_a_close_type_lists_the_types():
    assert error_of(parse, "foo:5") == (
        'Unknown dependency type "foo" in "foo:5" '
        "(expected one of after, afterok, afternotok, afterany, aftercorr, singleton)"
    )


def test_parse_e4_spec_example():
    assert error_of(parse, "afterok:100+invalid") == (
        'Invalid delay "+invalid" for job 100 in "afterok:100+invalid"' + E4_TAIL
    )


@pytest.mark.parametrize(
    "text, shown",
    [
        ("afterok:100+", "+"),
        ("afterok:100+:101", "+"),
        ("afterok:100+01:75:00", "+01:75:00"),
        ("afterok:100+1-00:00", "+1-00:00"),
        ("afterok:100+123:00:00", "+123:00:00"),
        ("afterok:100+5:30:101", "+5:30:101"),
        ("afterok:100+10x", "+10x"),
    ],
)
def test_parse_e4_other_bad_delays(text, shown):
    assert error_of(parse, text) == f'Invalid delay "{shown}" for job 100 in "{text}"' + E4_TAIL


def test_parse_e4_mm_ss_hint_only_for_mm_ss():
    assert error_of(parse, "afterok:7,afterany:100 + 05:00").endswith("(MM:SS is not a delay; write +5m)")
    assert "is not a delay" not in error_of(parse, "afterok:100+invalid")


def test_parse_e5_spec_example():
    assert error_of(parse, "afterok:100,afternotok:100") == (
        'Invalid dependency "afterok:100,afternotok:100": job 100 appears more than once'
    )


def test_parse_e5_across_or_clauses_and_references():
    assert error_of(parse, "afterok:3?afterany:3") == 'Invalid dependency "afterok:3?afterany:3": job 3 appears more than once'
    assert error_of(parse, "afterok:@:@") == 'Invalid dependency "afterok:@:@": "@" appears more than once'


def test_resolve_e9_spec_example():
    spec = parse("afterok:@~5")
    assert error_of(resolve, spec, [3, 2, 1]) == (
        '"@~5" refers to the 6th most recent submission, but this notebook has submitted only 3 jobs'
    )


@pytest.mark.parametrize(
    "ref, history, message",
    [
        ("@", [], '"@" refers to the most recent submission, but this notebook has submitted no jobs'),
        ("@~1", [9], '"@~1" refers to the 2nd most recent submission, but this notebook has submitted only 1 job'),
        ("@~2", [9, 8], '"@~2" refers to the 3rd most recent submission, but this notebook has submitted only 2 jobs'),
        ("@~10", [9], '"@~10" refers to the 11th most recent submission, but this notebook has submitted only 1 job'),
        ("@~11", [9], '"@~11" refers to the 12th most recent submission, but this notebook has submitted only 1 job'),
        ("@~12", [9], '"@~12" refers to the 13th most recent submission, but this notebook has submitted only 1 job'),
        ("@~20", [9], '"@~20" refers to the 21st most recent submission, but this notebook has submitted only 1 job'),
        ("@~21", [9], '"@~21" refers to the 22nd most recent submission, but this notebook has submitted only 1 job'),
        ("@~111", [9], '"@~111" refers to the 112th most recent submission, but this notebook has submitted only 1 job'),
    ],
)
def test_resolve_e9_ordinals_and_counts(ref, history, message):
    assert error_of(resolve, parse(f"afterok:{ref}"), history) == message


def test_resolve_e9_names_the_scope():
    assert error_of(resolve, parse("afterok:@~3"), [5], scope_name="user alice") == (
        '"@~3" refers to the 4th most recent submission, but user alice has submitted only 1 job'
    )


def test_from_flags_e10():
    assert error_of(from_flags, dependency="afterok:1", depends_on="2") == (
        "--dependency cannot be combined with --depends-on/--depends-on-all/--depends-on-any"
    )
    assert error_of(from_flags, depends_on="1", depends_on_any="2") == "--depends-on cannot be combined with --depends-on-any"


def test_parse_e11_zero_and_padded_ids():
    for token in ("0", "007"):
        assert error_of(parse, f"afterany:5:{token}") == (
            f'Invalid job ID "{token}" in dependency: job IDs are positive integers without leading zeros'
        )


def test_parse_e13_singleton_with_ids():
    assert error_of(parse, "singleton:5") == "\"singleton\" takes no job IDs and can only be combined with ','"
    assert error_of(parse, "afterok:1?singleton") == "\"singleton\" takes no job IDs and can only be combined with ','"


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_parse_e14_empty(text):
    assert error_of(parse, text) == "Empty dependency string"


def test_resolve_e15_task_ref_outside_a_flow():
    assert error_of(resolve, parse("afterok:prep"), [1]) == (
        '"prep" is not a job ID: a dependency names jobs by ID, @ or @~N'
    )


def test_resolve_task_refs_kept_inside_a_flow():
    spec = resolve(parse("afterok:prep:@"), [4], allow_task_refs=True)
    assert spec == and_(ok("prep"), ok(4))


# --- meaning ----------------------------------------------------------------------------------


def test_resolve_at_references_use_history_most_recent_first():
    spec = resolve(parse("afterok:@+10m,afterany:@~2"), [30, 20, 10])
    assert spec == and_(ok(30, 600), Condition("afterany", 10))
    assert spec.job_ids() == (30, 10)
    assert str(spec) == "afterok:30+00:10:00,afterany:10"


def test_resolve_keeps_the_operator():
    assert resolve(parse("afterok:@?afternotok:@~1"), [8, 7]) == parse("afterok:8?afternotok:7")


def test_parse_singleton_alone_and_with_clauses():
    assert parse("singleton") == DepSpec(singleton=True)
    assert parse("afterok:5,singleton") == and_(ok(5), singleton=True)
    assert str(parse("afterok:5,singleton")) == "singleton,afterok:5"


def test_parse_delays_on_every_type():
    spec = parse("after:1+10s,afterok:2+30m,afternotok:3+2h,afterany:4+1d,aftercorr:5+1w")
    assert [c.delay for c in spec.conditions] == [10, 1800, 7200, 86400, 604800]
    assert [c.type for c in spec.conditions] == list(CONDITION_TYPES)


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("afterok:1,afterok:2,afterany:3", "afterok:1:2,afterany:3"),
        ("afterok:1,afterany:3,afterok:2", "afterok:1:2,afterany:3"),
        ("afterok:1:2?afterany:3", "afterok:1?afterok:2?afterany:3"),
        ("afterok:100+90:101", "afterok:100+01:30:00:101"),
        ("afterok:1+1d2h", "afterok:1+1-02:00:00"),
        ("afterok:1+0", "afterok:1"),
        ("singleton,afterany:5", "singleton,afterany:5"),
        ("afterok:@:@~03:prep", "afterok:@:@~3:prep"),
    ],
)
def test_str_is_canonical(text, canonical):
    assert str(parse(text)) == canonical
    assert parse(canonical) == parse(text)


def test_parse_whitespace_does_not_matter():
    spaced = "  afterok : 1 + 10m : 2 ,  afterany :3 + 01:00:00  "
    assert parse(spaced) == parse("afterok:1+10m:2,afterany:3+01:00:00")
    assert parse("afterok:1 ? afterok:2") == parse("afterok:1?afterok:2")


def test_parse_delay_spellings_mean_the_same():
    forms = ["afterok:1+90", "afterok:1+1h30m", "afterok:1+01:30:00", "afterok:1+5400s", "afterok:1+90min"]
    assert len({parse(f) for f in forms}) == 1


def test_from_flags_gflow_and_slurm_spellings_parse_equal():
    assert from_flags(depends_on="5") == parse("afterok:5")
    assert from_flags(depends_on="@") == parse("afterok:@")
    assert from_flags(depends_on_all="1,2,3") == parse("afterok:1:2:3") == parse("afterok:1,afterok:2,afterok:3")
    assert from_flags(depends_on_all=["1", "2, 3"]) == parse("afterok:1:2:3")
    assert from_flags(depends_on_any="1,@,@~2") == parse("afterok:1?afterok:@?afterok:@~2")
    assert from_flags(depends_on_any="5") == parse("afterok:5")  # an OR of one is just that one
    assert from_flags(depends_on=7) == parse("afterok:7")
    assert from_flags(dependency="afterany:4") == parse("afterany:4")


def test_from_flags_nothing_given_is_none():
    assert from_flags() is None


def test_from_flags_bad_values():
    assert error_of(from_flags, depends_on_all="1,,2") == (
        'Invalid --depends-on-all value "1,,2": expected job IDs, @ or @~N separated by commas'
    )
    assert error_of(from_flags, depends_on="01").startswith('Invalid job ID "01"')
    assert error_of(from_flags, depends_on_all="4,4") == 'Invalid dependency "afterok:4:4": job 4 appears more than once'


def test_depspec_is_hashable_and_compares_by_value():
    a, b = parse("afterok:1:2"), DepSpec("and", (ok(1), ok(2)))
    assert a == b and hash(a) == hash(b)
    assert parse("afterok:1?afterok:2") != parse("afterok:1,afterok:2")


def test_depspec_constructor_normalises():
    assert DepSpec("or", (ok(1),)) == DepSpec("and", (ok(1),))
    built = DepSpec("and", (ok(1), Condition("afterany", 2), ok(3)))
    assert built.conditions == (ok(1), ok(3), Condition("afterany", 2))
    with pytest.raises(ValueError):
        DepSpec("xor", ())


# --- properties -------------------------------------------------------------------------------

GRAMMAR_CHARS = "afterokny:,?+@~0123456789- smhdwsingleton\tOK"


@given(st.text())
def test_parse_any_text_gives_a_spec_or_invalid_spec(text):
    try:
        assert isinstance(parse(text), DepSpec)
    except InvalidSpec:
        pass


@given(st.text(alphabet=GRAMMAR_CHARS, max_size=40))
def test_parse_grammar_like_text_gives_a_spec_or_invalid_spec(text):
    try:
        spec = parse(text)
    except InvalidSpec:
        return
    assert parse(str(spec)) == spec


@given(st.text(max_size=30))
def test_parse_any_delay_text_gives_a_spec_or_invalid_spec(delay):
    # parse_delay raises ValueError; inside a dependency that must become E4 (or another InvalidSpec).
    try:
        parse(f"afterok:100+{delay}")
    except InvalidSpec:
        pass


def _conditions(targets, delays):
    return st.lists(
        st.builds(Condition, st.sampled_from(CONDITION_TYPES), targets, delays),
        min_size=1,
        max_size=6,
        unique_by=lambda c: c.target,
    )


@st.composite
def resolved_specs(draw, targets=st.integers(1, 10**12), delays=st.integers(0, 10**7)):
    op = draw(st.sampled_from(["and", "or"]))
    singleton = op == "and" and draw(st.booleans())
    return DepSpec(op, tuple(draw(_conditions(targets, delays))), singleton)


REFERENCES = st.one_of(
    st.just("@"),
    st.integers(1, 50).map(lambda n: f"@~{n}"),
    st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True),
)


@given(resolved_specs())
def test_str_round_trips_resolved_specs(spec):
    assert parse(str(spec)) == spec


@given(resolved_specs(REFERENCES))
def test_str_round_trips_unresolved_specs(spec):
    assert parse(str(spec)) == spec


@given(resolved_specs(delays=st.just(0)), st.sampled_from([" ", "  ", "\t", " \n "]))
def test_whitespace_around_separators_does_not_change_the_spec(spec, space):
    text = str(spec)
    for sep in ",?:":
        text = text.replace(sep, f"{space}{sep}{space}")
    assert parse(f"{space}{text}{space}") == spec
