"""`cordon audit export` and the background exporter against a loopback
OTLP/HTTP collector that decodes the real protobuf messages.

Records arrive with their attributes (GenAI conventions and `cordon.*`);
a collector that is killed, answers 5xx or 4xx, or is misnamed costs delay
and a clear message, never a record: once it is back, every record of the
log has arrived, in the log's order."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from support import Lsp, Receiver, Setup


def first_seen(hashes: list[str]) -> list[str]:
    """`hashes` without repeats, in order of first arrival (duplicates are
    allowed: delivery is at least once)."""
    seen: set[str] = set()
    out = []
    for h in hashes:
        if h not in seen:
            seen.add(h)
            out.append(h)
    return out


def wait_for(predicate, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


def test_records_arrive_with_their_attributes(tmp_path: Path, receiver: Receiver) -> None:
    s = Setup(tmp_path, receiver.url, headers='headers = { "X-Org-Token" = "ORG_TOKEN" }\n')
    try:
        s.complete()
        s.explain()
        r = s.cordon("audit", "export", env={"ORG_TOKEN": "s3cret-org"})
        assert r.returncode == 0, r.stderr
        records = s.records()
        assert f"{len(records)} records sent" in r.stdout
        # Every line of the log, in order, each with its hash.
        assert receiver.hashes() == [rec["hash"] for rec in records]
        for rec, got in zip(records, receiver.logs):
            a = got["attributes"]
            assert got["body"] == s.log.read_text().splitlines()[a["cordon.line"] - 1]
            assert a["cordon.plugin"] == rec["plugin"]
            assert a["cordon.digest"] == rec["digest"]
            assert a["cordon.decision"] == rec["decision"]
            assert a["cordon.reason"] == rec["reason"]
            assert a["cordon.prev_hash"] == rec["prev"]
            assert a["cordon.redactions"] == rec["redactions"]
            assert got["resource"]["service.name"] == "cordon"
            assert got["scope"] == "cordon.audit"
            assert got["severity"] == ("WARN" if rec["decision"] == "denied" else "INFO")
        # The organisation's header, its value from the named variable.
        assert all(q["headers"].get("x-org-token") == "s3cret-org" for q in receiver.requests)

        # The completion's request record: tokens and redactions.
        request = next(rec for rec in records if rec["plugin"] == "completion" and "input_tokens" in rec)
        log = next(l for l in receiver.logs if l["attributes"]["cordon.record_hash"] == request["hash"])
        assert log["attributes"]["gen_ai.usage.input_tokens"] == 11
        assert log["attributes"]["gen_ai.usage.output_tokens"] == 3
        assert log["attributes"]["cordon.redactions"] == 2
        assert "aws-access-key=1" in log["attributes"]["cordon.redaction_kinds"]

        # Every model call is a span with the GenAI conventions (a completion
        # is fill-in-the-middle: `text_completion`).
        span = next(sp for sp in receiver.spans if sp["attributes"]["cordon.record_hash"] == request["hash"])
        a = span["attributes"]
        assert span["name"] == "text_completion loopback-7b"
        assert span["kind"] == 3  # SPAN_KIND_CLIENT
        assert a["gen_ai.operation.name"] == "text_completion"
        assert a["gen_ai.provider.name"] == "openai"
        assert a["gen_ai.request.model"] == "loopback-7b"
        assert a["gen_ai.usage.input_tokens"] == 11
        assert a["gen_ai.usage.output_tokens"] == 3
        assert a["cordon.plugin"] == "completion"
        assert a["cordon.digest"] == request["digest"]
        assert a["cordon.decision"] == "allowed"
        assert a["cordon.redactions"] == 2
        assert a["cordon.call_id"] == request["call"]
        assert span["start"] <= span["end"]
        assert log["trace_id"] == span["trace_id"] and log["span_id"] == span["span_id"]

        denied = [rec for rec in records if rec["decision"] == "denied" and rec.get("model")]
        assert denied, records
        for rec in denied:
            sp = next(sp for sp in receiver.spans if sp["attributes"]["cordon.record_hash"] == rec["hash"])
            assert sp["status"] == 2  # STATUS_CODE_ERROR
            assert sp["attributes"]["cordon.decision"] == "denied"
            assert sp["attributes"]["cordon.policy_layer"] == "organisation"
            assert sp["attributes"]["cordon.reason"] == rec["reason"]
            assert sp["attributes"]["error.type"] == "cordon.denied"
        model_calls = [rec for rec in records if rec["capability"] == "model" and rec.get("model")
                       and ("input_tokens" in rec or rec["decision"] == "denied")]
        assert len(receiver.spans) == len(model_calls)

        # The cursor is kept: a second export sends nothing new.
        again = s.cordon("audit", "export", env={"ORG_TOKEN": "s3cret-org"})
        assert again.returncode == 0, again.stderr
        assert "0 records sent" in again.stdout
        assert len(receiver.logs) == len(records)
    finally:
        s.close()


def test_a_collector_that_goes_away_costs_delay_not_records(tmp_path: Path) -> None:
    """The editor's server ships in the background; the collector is killed
    mid-stream, more records are written, it comes back: every record
    arrives, in order."""
    first = Receiver().start()
    s = Setup(tmp_path, first.url)
    lsp = Lsp(s)
    try:
        for _ in range(3):
            lsp.complete()
        assert wait_for(lambda: len(s.records()) > 0 and set(first.hashes()) >= {r["hash"] for r in s.records()}), \
            "the background exporter did not ship the first records"
        first.stop()
        for _ in range(3):
            lsp.complete()
        time.sleep(1.5)  # the exporter tries, and fails, meanwhile
        written = [r["hash"] for r in s.records()]
        assert len(written) > len(first_seen(first.hashes()))
        second = Receiver(port=first.port).start()
        try:
            assert wait_for(lambda: set(first.hashes() + second.hashes()) >= set(written)), \
                "records written while the collector was away never arrived"
            assert first_seen(first.hashes() + second.hashes())[: len(written)] == written
        finally:
            second.stop()
    finally:
        lsp.close()
        s.close()


@pytest.mark.parametrize("status", [503, 429, 400, 401])
def test_refusals_get_a_clear_message_and_lose_nothing(tmp_path: Path, receiver: Receiver, status: int) -> None:
    s = Setup(tmp_path, receiver.url)
    try:
        # Refusing from the start: `cordon run complete` exports in the
        # background too, and whether it ships before it exits is a race.
        receiver.status = status
        s.complete()
        r = s.cordon("audit", "export")
        assert r.returncode == 1
        assert f"HTTP {status} (collector says no)" in r.stderr, r.stderr
        assert "nothing is lost" in r.stderr, r.stderr
        if status in (503, 429):
            assert "is unavailable" in r.stderr
        else:
            assert "refused the records" in r.stderr
        if status == 401:
            assert "check the credentials" in r.stderr
        s.complete()
        receiver.status = 200
        r = s.cordon("audit", "export")
        assert r.returncode == 0, r.stderr
        assert receiver.hashes() == [rec["hash"] for rec in s.records()]
    finally:
        s.close()


def test_a_collector_that_is_not_there_gets_a_clear_message(tmp_path: Path) -> None:
    gone = Receiver().start()
    url = gone.url
    gone.stop()
    s = Setup(tmp_path, url)
    try:
        s.complete()
        r = s.cordon("audit", "export")
        assert r.returncode == 1
        assert f"the collector at {url} cannot be reached" in r.stderr, r.stderr
        assert "nothing is lost" in r.stderr
        back = Receiver(port=int(url.rsplit(":", 1)[1])).start()
        try:
            r = s.cordon("audit", "export")
            assert r.returncode == 0, r.stderr
            assert back.hashes() == [rec["hash"] for rec in s.records()]
        finally:
            back.stop()
    finally:
        s.close()


def test_malformed_endpoints_are_reported_and_ship_nothing_elsewhere(tmp_path: Path, receiver: Receiver) -> None:
    # In the environment: a clear message; the organisation's destination
    # still gets everything.
    s = Setup(tmp_path, receiver.url)
    try:
        s.complete()
        r = s.cordon("audit", "export", env={"OTEL_EXPORTER_OTLP_ENDPOINT": "localhost:4318"})
        assert r.returncode == 1
        assert "OTEL_EXPORTER_OTLP_ENDPOINT=`localhost:4318` is not an OTLP/HTTP endpoint" in r.stderr, r.stderr
        assert receiver.hashes() == [rec["hash"] for rec in s.records()]
        r = s.cordon("audit", "export", env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
                                              "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
        assert r.returncode == 1
        assert "http/protobuf only" in r.stderr, r.stderr
    finally:
        s.close()
    # In the policy: the policy does not load, with file and line.
    bad = tmp_path / "bad"
    bad.mkdir()
    s = Setup(bad, "otel-collector:4318")
    try:
        r = s.cordon("audit", "export")
        assert r.returncode == 2
        assert f"{s.policy}:10:12" in r.stderr, r.stderr
        assert "http:// or https:// URL" in r.stderr, r.stderr
    finally:
        s.close()


def test_a_missing_header_variable_is_named(tmp_path: Path, receiver: Receiver) -> None:
    s = Setup(tmp_path, receiver.url, headers='headers = { Authorization = "CORDON_TEST_OTLP_AUTH" }\n')
    try:
        s.complete()
        r = s.cordon("audit", "export")
        assert r.returncode == 1
        assert "$CORDON_TEST_OTLP_AUTH, which is not set" in r.stderr, r.stderr
        assert receiver.logs == []
        r = s.cordon("audit", "export", env={"CORDON_TEST_OTLP_AUTH": "Bearer t0ken"})
        assert r.returncode == 0, r.stderr
        assert receiver.requests[-1]["headers"]["authorization"] == "Bearer t0ken"
        assert receiver.hashes() == [rec["hash"] for rec in s.records()]
    finally:
        s.close()


def test_the_environment_adds_a_destination_and_never_redirects(tmp_path: Path, receiver: Receiver) -> None:
    mine = Receiver().start()
    s = Setup(tmp_path, receiver.url)
    try:
        s.complete()
        r = s.cordon("audit", "export", env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": mine.url,
            "OTEL_EXPORTER_OTLP_HEADERS": "x-mine=a%20b",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        })
        assert r.returncode == 0, r.stderr
        expected = [rec["hash"] for rec in s.records()]
        assert receiver.hashes() == expected  # the organisation's, unchanged
        assert mine.hashes() == expected      # and the user's own
        assert all(q["headers"].get("x-mine") == "a b" for q in mine.requests)
        # The environment's headers never go to the organisation's collector.
        assert all("x-mine" not in q["headers"] for q in receiver.requests)
    finally:
        mine.stop()
        s.close()


def test_a_log_from_another_machine_is_shipped_on_demand(tmp_path: Path, receiver: Receiver) -> None:
    offline = tmp_path / "offline"
    offline.mkdir()
    laptop = Setup(offline)  # no export configured there
    try:
        laptop.complete()
        laptop.complete()
    finally:
        laptop.close()
    s = Setup(tmp_path, receiver.url)
    try:
        r = s.cordon("audit", "export", str(laptop.log))
        assert r.returncode == 0, r.stderr
        assert receiver.hashes() == [rec["hash"] for rec in laptop.records()]
        # --from-start ships it again (the receiver drops duplicates by hash).
        r = s.cordon("audit", "export", str(laptop.log), "--from-start")
        assert r.returncode == 0, r.stderr
        assert len(receiver.logs) == 2 * len(laptop.records())
    finally:
        s.close()


def test_a_rewritten_log_is_reported_not_shipped_from_its_middle(tmp_path: Path, receiver: Receiver) -> None:
    s = Setup(tmp_path, receiver.url)
    try:
        s.complete()
        s.complete()
        assert s.cordon("audit", "export").returncode == 0
        lines = s.log.read_text().splitlines(keepends=True)
        s.log.write_text("".join(lines[:1]))  # truncated (rotated)
        r = s.cordon("audit", "export")
        assert r.returncode == 1
        assert "--from-start" in r.stderr and "rotated, truncated or rewritten" in r.stderr, r.stderr
    finally:
        s.close()
