"""Env-var sync planning: sources, validation and the diff (no server involved)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_trigger.operators.envvars import (
    CurrentVar,
    merge_sources,
    normalize_environment,
    plan_sync,
    read_env_file,
    secret_matcher,
    validate_variables,
)


def _plain(**values: str) -> list[CurrentVar]:
    return [CurrentVar(name=k, value=v, is_secret=False) for k, v in values.items()]


def test_plan_sorts_names_into_added_changed_unchanged() -> None:
    plan = plan_sync(
        {"A": "1", "B": "new", "C": "same"},
        _plain(B="old", C="same", D="gone"),
        is_declared_secret=secret_matcher(None),
    )
    assert plan.summary() == {"added": ["A"], "changed": ["B"], "removed": [], "unchanged": ["C"]}
    assert dict(plan.plain_writes) == {"A": "1", "B": "new"}
    assert not plan.secret_writes


def test_prune_lists_undeclared_variables_for_removal() -> None:
    plan = plan_sync(
        {"A": "1"}, _plain(A="1", D="x", E="y"), is_declared_secret=secret_matcher(None), prune=True
    )
    assert plan.removed == ("D", "E")
    assert plan.has_writes and not plan.plain_writes


def test_nothing_to_do_means_no_writes() -> None:
    plan = plan_sync({"A": "1"}, _plain(A="1"), is_declared_secret=secret_matcher(None), prune=True)
    assert not plan.has_writes


def test_existing_secrets_are_kept_by_default_and_rewritten_on_request() -> None:
    current = [CurrentVar(name="TOKEN", value="<redacted>", is_secret=True)]
    keep = plan_sync({"TOKEN": "s3cr3t-value"}, current, is_declared_secret=secret_matcher(None))
    assert keep.unchanged == keep.secrets_kept == ("TOKEN",) and not keep.has_writes
    rewrite = plan_sync(
        {"TOKEN": "s3cr3t-value"}, current, is_declared_secret=secret_matcher(None), rewrite_secrets=True
    )
    assert rewrite.changed == ("TOKEN",) and not rewrite.secrets_kept
    assert dict(rewrite.secret_writes) == {"TOKEN": "s3cr3t-value"}  # stays secret though not declared


def test_declaring_a_plain_variable_secret_is_a_change_even_with_the_same_value() -> None:
    plan = plan_sync({"API_KEY": "abc"}, _plain(API_KEY="abc"), is_declared_secret=secret_matcher("*_KEY"))
    assert plan.changed == ("API_KEY",)
    assert dict(plan.secret_writes) == {"API_KEY": "abc"}


def test_plan_repr_has_names_but_no_values() -> None:
    plan = plan_sync({"PASSWORD": "hunter2-very-secret"}, [], is_declared_secret=secret_matcher(["PASSWORD"]))
    assert "PASSWORD" in repr(plan)
    assert "hunter2" not in repr(plan)
    assert "hunter2" not in repr(CurrentVar(name="X", value="hunter2", is_secret=True))


@pytest.mark.parametrize(
    ("patterns", "name", "expected"),
    [
        (None, "ANY", False),
        ("DB_PASSWORD", "DB_PASSWORD", True),
        ("*_KEY", "STRIPE_KEY", True),
        ("*_KEY", "STRIPE_KEYS", False),
        (["A", "B_*"], "B_1", True),
        (["A", "B_*"], "a", False),
    ],
)
def test_secret_matcher(patterns: str | list[str] | None, name: str, expected: bool) -> None:
    assert secret_matcher(patterns)(name) is expected


def test_validation_names_every_problem_without_values() -> None:
    with pytest.raises(ValueError) as info:
        validate_variables(
            {
                "GOOD": "ok",
                "BAD-NAME": "v1-secretish",
                "SPACE NAME": "v2",
                "ÜBER": "v3",
                "EMPTY": "   ",
                "NONE": None,
                "TRIGGER_SECRET_KEY": "tr_dev_leak",
                "FLAG": True,
            }
        )
    message = str(info.value)
    for name in ("BAD-NAME", "SPACE NAME", "ÜBER", "EMPTY", "NONE", "TRIGGER_SECRET_KEY", "FLAG"):
        assert name in message
    assert "GOOD" not in message
    assert "v1-secretish" not in message and "tr_dev_leak" not in message


def test_validation_turns_numbers_into_strings() -> None:
    assert validate_variables({"PORT": 8080, "RATIO": 0.5, "_X1": "y"}) == {
        "PORT": "8080",
        "RATIO": "0.5",
        "_X1": "y",
    }


def test_env_file_is_parsed_without_expansion(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text('# comment\nexport A=1\nB="two words"\nC=${A}-x\nD\n')
    assert read_env_file(env) == {"A": "1", "B": "two words", "C": "${A}-x", "D": None}


def test_missing_env_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        read_env_file(tmp_path / "nope.env")


def test_later_sources_win() -> None:
    assert merge_sources({"A": "file", "B": "file"}, None, {"B": "dict"}) == {"A": "file", "B": "dict"}


@pytest.mark.parametrize(
    ("given", "slug"),
    [("dev", "dev"), ("STAGING", "staging"), ("stg", "staging"), ("prod", "prod"), ("preview", "preview")],
)
def test_environment_names(given: str, slug: str) -> None:
    assert normalize_environment(given) == slug


@pytest.mark.parametrize("bad", ["production", "test", ""])
def test_unknown_environment_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="environment"):
        normalize_environment(bad)
