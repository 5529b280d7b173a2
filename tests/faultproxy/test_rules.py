"""Fault rules without a server: matching, counters, probability, outages, answers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from fault_proxy.rules import Decision, FaultBook, FaultSpec, OutageSpec, gateway_page


def _book(*specs: dict[str, Any], seed: int | None = 1) -> FaultBook:
    book = FaultBook(seed=seed)
    for spec in specs:
        book.add(FaultSpec.model_validate(spec))
    return book


def _fired(book: FaultBook, method: str, path: str) -> str | None:
    decision = book.decide(method, path)
    return None if decision is None else decision.source


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_no_rules_forwards_everything() -> None:
    assert FaultBook().decide("GET", "/anything") is None


@pytest.mark.parametrize(
    ("method", "path", "fires"),
    [
        ("POST", "/v1/jobs", True),
        ("post", "/v1/jobs/abc/cancel", True),  # a prefix; the method is case-insensitive
        ("GET", "/v1/jobs", False),
        ("POST", "/v1/job", False),
        ("POST", "/x/v1/jobs", False),
    ],
)
def test_method_and_path_prefix(method: str, path: str, fires: bool) -> None:
    book = _book({"action": "drop", "method": "POST", "path": "/v1/jobs"})
    assert (book.decide(method, path) is not None) is fires


@pytest.mark.parametrize("method", [None, "*", ""])
def test_any_method(method: str | None) -> None:
    book = _book({"action": "drop", "method": method, "path": "/"})
    assert {_fired(book, m, "/a") for m in ("GET", "DELETE", "PATCH")} == {"rule:fault-1"}
    assert book.rules[0].spec.method is None


def test_path_regex_is_searched() -> None:
    book = _book({"action": "drop", "path": r"^/w/[^/]+/jobs/[^/]+$", "path_regex": True})
    assert _fired(book, "GET", "/w/ws1/jobs/job-1") == "rule:fault-1"
    assert _fired(book, "GET", "/w/ws1/jobs/job-1/status") is None
    assert _fired(book, "GET", "/w/ws1/jobs") is None
    unanchored = _book({"action": "drop", "path": "cancel", "path_regex": True})
    assert _fired(unanchored, "POST", "/v1/jobs/j/cancel") == "rule:fault-1"


def test_a_prefix_is_not_a_regex() -> None:
    book = _book({"action": "drop", "path": "/v1/jobs.*"})
    assert _fired(book, "GET", "/v1/jobs/x") is None
    assert _fired(book, "GET", "/v1/jobs.*/x") == "rule:fault-1"


def test_count_spends_the_rule_and_later_rules_take_over() -> None:
    book = _book(
        {"action": "status", "path": "/j", "status": 503, "count": 2},
        {"action": "drop", "path": "/j", "count": 1},
    )
    fired = [_fired(book, "GET", "/j") for _ in range(4)]
    assert fired == ["rule:fault-1", "rule:fault-1", "rule:fault-2", None]
    first, second = (rule.to_json() for rule in book.rules)
    assert (first["fired"], first["remaining"], first["spent"]) == (2, 0, True)
    assert (second["fired"], second["remaining"], second["spent"]) == (1, 0, True)


def test_first_matching_rule_wins() -> None:
    book = _book(
        {"action": "status", "path": "/v1/", "status": 500},
        {"action": "drop", "path": "/v1/jobs"},
    )
    decision = book.decide("GET", "/v1/jobs")
    assert decision is not None
    assert (decision.source, decision.action, decision.status) == ("rule:fault-1", "status", 500)
    assert book.rules[1].fired == 0


def test_after_lets_the_first_covered_requests_through() -> None:
    book = _book({"action": "drop", "method": "POST", "path": "/j", "after": 2, "count": 1})
    results = [
        _fired(book, "POST", "/j"),
        _fired(book, "GET", "/j"),  # not covered: does not count towards after
        _fired(book, "POST", "/j"),
        _fired(book, "POST", "/j"),
        _fired(book, "POST", "/j"),
    ]
    assert results == [None, None, None, "rule:fault-1", None]
    assert book.rules[0].to_json()["matched"] == 3  # a spent rule stops counting


def test_after_counts_requests_an_earlier_rule_answered() -> None:
    book = _book(
        {"action": "status", "path": "/j", "count": 1},
        {"action": "drop", "path": "/j", "after": 1, "count": 1},
    )
    assert [_fired(book, "GET", "/j") for _ in range(3)] == ["rule:fault-1", "rule:fault-2", None]


def test_probability_is_seeded() -> None:
    def run(seed: int) -> list[bool]:
        book = _book({"action": "drop", "path": "/", "probability": 0.5}, seed=seed)
        return [book.decide("GET", "/x") is not None for _ in range(200)]

    assert run(7) == run(7)
    assert run(7) != run(8)
    assert 60 < sum(run(7)) < 140


def test_probability_extremes() -> None:
    never = _book({"action": "drop", "path": "/", "probability": 0})
    assert all(never.decide("GET", "/") is None for _ in range(50))
    assert never.rules[0].matched == 50


def test_certain_rules_do_not_shift_the_seeded_sequence() -> None:
    coin = {"action": "drop", "path": "/coin", "probability": 0.5}
    alone = _book(coin, seed=3)
    mixed = _book({"action": "drop", "path": "/sure"}, coin, seed=3)
    seen_alone = [alone.decide("GET", "/coin") is not None for _ in range(50)]
    seen_mixed = []
    for _ in range(50):
        mixed.decide("GET", "/sure")
        seen_mixed.append(mixed.decide("GET", "/coin") is not None)
    assert seen_alone == seen_mixed


def test_a_skipped_roll_leaves_the_request_to_later_rules() -> None:
    book = _book(
        {"action": "drop", "path": "/", "probability": 0},
        {"action": "status", "path": "/", "status": 500},
    )
    assert _fired(book, "GET", "/x") == "rule:fault-2"


def test_remove_clear_and_reset() -> None:
    book = _book({"action": "drop", "path": "/a"}, {"action": "drop", "path": "/b"})
    assert book.remove("fault-1") is True
    assert book.remove("fault-1") is False
    assert [rule.id for rule in book.rules] == ["fault-2"]
    assert book.clear() == 1
    book.add(FaultSpec(action="drop"))
    book.start_outage(OutageSpec())
    book.reset()
    assert (book.rules, book.outage()) == ([], None)
    assert book.add(FaultSpec(action="drop")).id == "fault-1"


def test_reset_rewinds_the_rng() -> None:
    book = _book({"action": "drop", "path": "/", "probability": 0.5}, seed=11)
    before = [book.decide("GET", "/") is not None for _ in range(30)]
    book.reset()
    book.add(FaultSpec(action="drop", probability=0.5))
    assert [book.decide("GET", "/") is not None for _ in range(30)] == before


def test_status_answer_default_json_detail() -> None:
    decision = _book({"action": "status", "path": "/"}).decide("GET", "/")
    assert decision is not None
    assert decision.status == 503
    assert dict(decision.headers) == {"content-type": "application/json"}
    assert json.loads(decision.body) == {"detail": "fault proxy: injected 503 (rule:fault-1)"}


def test_status_answer_detail_body_and_headers() -> None:
    book = _book(
        {"action": "status", "path": "/d", "status": 429, "detail": "slow down", "retry_after": 2},
        {"action": "status", "path": "/b", "status": 500, "body": "oops", "headers": {"X-A": "1"}},
        {"action": "status", "path": "/f", "retry_after": 0.25},
    )
    detailed, raw, fractional = (book.decide("GET", p) for p in ("/d", "/b", "/f"))
    assert isinstance(detailed, Decision)
    assert isinstance(raw, Decision)
    assert isinstance(fractional, Decision)
    assert json.loads(detailed.body) == {"detail": "slow down"}
    assert dict(detailed.headers)["retry-after"] == "2"
    assert (raw.status, raw.body) == (500, b"oops")
    assert dict(raw.headers) == {"content-type": "text/plain; charset=utf-8", "x-a": "1"}
    assert dict(fractional.headers)["retry-after"] == "0.25"


def test_gateway_preset_is_an_html_502() -> None:
    decision = _book({"action": "status", "preset": "gateway_html"}).decide("POST", "/x")
    assert decision is not None
    assert decision.status == 502
    assert dict(decision.headers)["content-type"] == "text/html"
    assert b"<title>502 Bad Gateway</title>" in decision.body
    assert "504 Gateway Timeout" in gateway_page(504)


@pytest.mark.parametrize(
    ("action", "seconds"), [("delay", 1.5), ("timeout", 30.0), ("drop", 0.0), ("drop_after", 0.0)]
)
def test_other_actions_carry_their_seconds(action: str, seconds: float) -> None:
    spec: dict[str, Any] = {"action": action}
    if seconds:
        spec["seconds"] = seconds
    decision = _book(spec).decide("GET", "/")
    assert decision is not None
    assert (decision.action, decision.seconds, decision.status) == (action, seconds, 0)


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ({"action": "explode"}, "action"),
        ({"action": "delay"}, "needs seconds"),
        ({"action": "timeout"}, "needs seconds"),
        ({"action": "drop", "seconds": 1}, "not for action 'drop'"),
        ({"action": "drop", "status": 500}, "only for action 'status'"),
        ({"action": "delay", "seconds": 1, "retry_after": 1}, "only for action 'status'"),
        ({"action": "status", "body": "x", "detail": "y"}, "body excludes"),
        ({"action": "status", "status": 99}, "greater than or equal to 100"),
        ({"action": "drop", "probability": 1.5}, "less than or equal to 1"),
        ({"action": "drop", "count": 0}, "greater than or equal to 1"),
        ({"action": "drop", "after": -1}, "greater than or equal to 0"),
        ({"action": "drop", "path": "(", "path_regex": True}, "not a valid regex"),
        ({"action": "drop", "path": "v1/jobs"}, "starting with '/'"),
        ({"action": "drop", "colour": "red"}, "Extra inputs"),
    ],
)
def test_invalid_rules_are_rejected(spec: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        FaultSpec.model_validate(spec)


def test_listing_shows_spec_and_counters() -> None:
    book = _book({"action": "status", "method": "get", "path": "/a", "count": 3})
    book.decide("GET", "/a")
    listed = book.rules[0].to_json()
    assert listed["id"] == "fault-1"
    assert (listed["method"], listed["path"], listed["status"]) == ("GET", "/a", 503)
    assert (listed["matched"], listed["fired"], listed["remaining"]) == (1, 1, 2)
    assert _book({"action": "drop"}).rules[0].to_json()["remaining"] is None


def test_timed_outage_overrides_rules_and_expires() -> None:
    clock = FakeClock()
    book = FaultBook(clock=clock)
    book.add(FaultSpec(action="drop", path="/rule"))
    book.start_outage(OutageSpec(seconds=5))
    decision = book.decide("GET", "/rule")
    assert decision is not None
    assert (decision.source, decision.action, decision.status) == ("outage", "status", 503)
    assert book.rules[0].matched == 0
    clock.now += 4.5
    assert book.outage_json() == {
        "seconds": 5,
        "mode": "status",
        "status": 503,
        "seconds_left": 0.5,
    }
    clock.now += 0.5
    assert book.outage() is None
    assert _fired(book, "GET", "/rule") == "rule:fault-1"


def test_open_ended_drop_outage_lasts_until_ended() -> None:
    clock = FakeClock()
    book = FaultBook(clock=clock)
    book.start_outage(OutageSpec(mode="drop"))
    clock.now += 10**6
    decision = book.decide("POST", "/x")
    assert decision is not None
    assert (decision.source, decision.action) == ("outage", "drop")
    assert book.outage_json() == {
        "seconds": None,
        "mode": "drop",
        "status": 503,
        "seconds_left": None,
    }
    assert book.end_outage() is True
    assert book.end_outage() is False
    assert book.decide("POST", "/x") is None


def test_outage_status_is_configurable() -> None:
    book = FaultBook()
    book.start_outage(OutageSpec(status=502))
    decision = book.decide("GET", "/")
    assert decision is not None
    assert decision.status == 502
    assert json.loads(decision.body) == {"detail": "fault proxy: outage (injected)"}
