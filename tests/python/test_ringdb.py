"""The Python binding against a real ringdbd: every call, errors and their text, transactions
with conflicts and retries, cursors across the daemon's answer limits, many operations in
flight from one call, the GIL released while waiting, and a killed daemon."""

import re
import threading

import pytest

import ringdb


# ---- Module, connect, versions ------------------------------------------------------------


def test_versions_and_status_sentences(db):
    assert re.fullmatch(r"\d+\.\d+\.\d+", ringdb.version())
    assert ringdb.__version__ == ringdb.version()
    assert db.daemon_version == ringdb.version()
    assert db.session_id > 0
    assert "first updater wins" in ringdb.status_message(ringdb.Status.CONFLICT)
    assert int(ringdb.Status.TIMED_OUT) == 40
    db.ping()


def test_connect_failure_says_why(tmp_path):
    with pytest.raises(ringdb.ConnectError) as info:
        ringdb.connect(str(tmp_path / "nobody.sock"))
    e = info.value
    assert isinstance(e, ConnectionError)
    assert e.status == ringdb.Status.CONNECT_FAILED
    assert e.code == 38
    assert str(tmp_path / "nobody.sock") in str(e)  # the library's reason, with the path
    assert e.message == ringdb.status_message(ringdb.Status.CONNECT_FAILED)


def test_default_socket_from_environment(daemon, monkeypatch):
    monkeypatch.setenv("RINGDB_SOCKET", daemon.socket)
    with ringdb.connect() as client:
        client.ping()


# ---- Autocommit calls ----------------------------------------------------------------------


def test_get_put_delete_with_each_durability(db):
    assert db.get(b"missing") is None
    db.put(b"k", b"v")
    assert db.get(b"k") == b"v"
    db.put("text", "héllo")  # str in, UTF-8 bytes out
    assert db.get("text") == "héllo".encode()
    db.put(b"buf", bytearray(b"\x00\x01"))
    assert db.get(memoryview(b"buf")) == b"\x00\x01"
    db.put(b"a", b"1", durability=ringdb.ASYNC)
    db.put(b"n", b"1", ringdb.Durability.NONE)
    assert db.get(b"a") == b"1" and db.get(b"n") == b"1"
    assert db.delete(b"k") is True
    assert db.delete(b"k") is False
    assert db.delete(b"a", durability=ringdb.SYNC) is True
    value, sequence = db.get_with_sequence(b"n")
    assert value == b"1" and sequence > 0
    assert db.get_with_sequence(b"k") is None
    db.put(b"empty", b"")
    assert db.get(b"empty") == b""


def test_errors_carry_status_sentence_and_detail(db):
    with pytest.raises(ringdb.Error) as info:
        db.put(b"big", b"x" * (2 << 20))
    e = info.value
    assert e.status == ringdb.Status.TOO_LARGE
    assert "--value-size-max" in e.detail  # which limit, from the daemon's answer
    assert str(e).startswith("TOO_LARGE: ")
    with pytest.raises(ringdb.Error) as info:
        db.put(b"", b"empty key")
    assert info.value.status == ringdb.Status.INVALID_ARGUMENT
    assert info.value.detail == ""
    with pytest.raises(TypeError):
        db.put(1, b"v")


def test_closed_client_raises(daemon):
    client = ringdb.connect(daemon.socket)
    client.close()
    with pytest.raises(ringdb.DisconnectedError):
        client.get(b"k")
    client.close()  # twice is fine


def test_close_leaves_live_transactions_and_cursors_working(daemon):
    db = ringdb.connect(daemon.socket)
    db.put_many([(b"c%d" % i, b"x") for i in range(5)])
    txn = db.transaction()
    txn.put(b"t", b"1")
    cursor = db.scan(prefix=b"c", page_items=2)
    db.close()  # the session lasts while they do
    with pytest.raises(ringdb.DisconnectedError):
        db.get(b"c1")
    assert len(list(cursor)) == 5
    txn.commit()
    del cursor, txn  # the session ends here
    with ringdb.connect(daemon.socket) as other:
        assert other.get(b"t") == b"1"


# ---- Transactions --------------------------------------------------------------------------


def test_transaction_commits_at_block_end_and_aborts_on_exception(db):
    with db.transaction() as txn:
        txn.put(b"t1", b"a")
        assert txn.get(b"t1") == b"a"  # its own write
        assert db.get(b"t1") is None  # not yet visible to others
    assert db.get(b"t1") == b"a"
    assert not txn.open
    assert txn.commit_sequence > 0 and txn.log_position > 0

    with pytest.raises(KeyError):
        with db.transaction() as txn:
            txn.put(b"t2", b"b")
            raise KeyError("the block fails")
    assert db.get(b"t2") is None  # aborted

    txn = db.transaction(durability=ringdb.ASYNC)
    assert txn.delete(b"t1") is True
    assert txn.delete(b"nothing") is False
    txn.commit()
    assert db.get(b"t1") is None
    assert txn.log_position == 0  # async: no position given
    with pytest.raises(ringdb.Error) as info:
        txn.put(b"x", b"y")
    assert info.value.status == ringdb.Status.UNKNOWN_TRANSACTION


def test_read_only_transaction_sees_one_snapshot(db):
    db.put(b"s", b"old")
    with db.transaction(read_only=True) as snap:
        db.put(b"s", b"new")
        assert snap.get(b"s") == b"old"
        with pytest.raises(ringdb.Error) as info:
            snap.put(b"s", b"x")
        assert info.value.status == ringdb.Status.INVALID_ARGUMENT


def test_conflict_is_a_conflict_error_and_only_abort_helps(db):
    first = db.transaction()
    second = db.transaction()
    first.put(b"c", b"1")
    with pytest.raises(ringdb.ConflictError) as info:
        second.put(b"c", b"2")
    assert info.value.status == ringdb.Status.CONFLICT
    assert "only abort is useful" in str(info.value)
    with pytest.raises(ringdb.ConflictError) as info:
        second.commit()
    assert info.value.status == ringdb.Status.TRANSACTION_DONE
    first.commit()
    assert db.get(b"c") == b"1"


def test_run_transaction_retries_conflicts_and_loses_no_increment(daemon):
    threads, increments = 4, 50
    clients = [ringdb.connect(daemon.socket) for _ in range(threads)]
    attempts_seen = []

    def increment(txn):
        attempts_seen.append(1)
        n = int(txn.get(b"counter") or b"0")
        txn.put(b"counter", str(n + 1))
        return n + 1

    def work(client):
        for _ in range(increments):
            client.run_transaction(increment, attempts=1000)

    workers = [threading.Thread(target=work, args=(c,)) for c in clients]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
        assert not w.is_alive()
    assert int(clients[0].get(b"counter")) == threads * increments
    assert len(attempts_seen) >= threads * increments
    for c in clients:
        c.close()


def test_run_transaction_returns_result_and_passes_other_errors(db):
    assert db.run_transaction(lambda txn: txn.put(b"r", b"1") or "done") == "done"
    assert db.get(b"r") == b"1"

    def fails(txn):
        txn.put(b"r", b"2")
        raise ValueError("not a conflict")

    with pytest.raises(ValueError):
        db.run_transaction(fails)
    assert db.get(b"r") == b"1"  # aborted, not retried

    holder = db.transaction()
    holder.put(b"held", b"x")
    with pytest.raises(ringdb.ConflictError):  # the holder never ends: attempts run out
        db.run_transaction(lambda txn: txn.put(b"held", b"y"), attempts=3)
    holder.abort()
    with pytest.raises(ValueError):
        db.run_transaction(lambda txn: None, attempts=0)


# ---- Cursors -------------------------------------------------------------------------------


def small_answers(make_daemon):
    # The daemon cuts a scan's answer at half the response area: 32 KiB here.
    return make_daemon("--response-area", "65536", "--value-size-max", "16384")


def test_cursor_pages_through_the_daemons_answer_limit(make_daemon):
    daemon = small_answers(make_daemon)
    with ringdb.connect(daemon.socket) as db:
        keys = [b"k%05d" % i for i in range(2000)]
        db.put_many(((k, b"v" * 200) for k in keys), durability=ringdb.ASYNC)
        db.put(b"other", b"x")
        assert [k for k, _ in db.scan(prefix=b"k", page_items=100000)] == keys
        assert [k for k, _ in db.scan(prefix=b"k", page_items=7)] == keys
        backwards = [k for k, _ in db.scan(start=b"k00100", end=b"k01900", reverse=True)]
        assert backwards == keys[100:1900][::-1]
        assert list(db.scan(prefix=b"none/")) == []
        key, value = next(iter(db.scan(start="k01999")))
        assert key == b"k01999" and value == b"v" * 200


def test_cursor_keeps_its_snapshot_and_releases_it(db):
    for i in range(10):
        db.put(b"c%d" % i, b"old")
    with db.scan(prefix=b"c", page_items=2) as cursor:
        assert next(cursor) == (b"c0", b"old")
        db.put(b"c5", b"new")
        db.delete(b"c6")
        rest = list(cursor)
    assert (b"c5", b"old") in rest and len(rest) == 9
    cursor.close()  # again: fine
    assert list(cursor) == []
    assert dict(db.scan(prefix=b"c"))[b"c5"] == b"new"

    with db.transaction() as txn:
        txn.put(b"c0a", b"mine")
        assert [k for k, _ in txn.scan(end=b"c2", page_items=1)] == [b"c0", b"c0a", b"c1"]


# ---- Many operations in flight ------------------------------------------------------------


def test_pipeline_get_many_put_many(db):
    db.put_many([(b"p%d" % i, b"%d" % i) for i in range(1000)])  # more than the 256 contexts
    assert db.get_many([b"p0", b"p999", b"none"]) == [b"0", b"999", None]
    pipe = db.pipeline()
    pipe.put(b"q", b"1").get(b"q").delete(b"p0").delete(b"p0", durability=ringdb.ASYNC)
    pipe.get(b"none")
    assert len(pipe) == 5
    results = pipe.execute()
    assert results[0] is None and results[2] is True and results[4] is None
    assert results[3] in (True, False)  # the two deletes overlap: either may come first
    assert results[2:4].count(True) == 1
    assert len(pipe) == 0  # empty again

    pipe.put(b"", b"empty key").put(b"ok", b"1")
    with pytest.raises(ringdb.Error) as info:
        pipe.execute()
    assert info.value.status == ringdb.Status.INVALID_ARGUMENT
    assert db.get(b"ok") == b"1"  # the others ran
    pipe.put(b"", b"empty key").get(b"ok")
    results = pipe.execute(raise_on_error=False)
    assert isinstance(results[0], ringdb.Error) and results[1] == b"1"
    with pytest.raises(ValueError):
        db.put_many([(b"only a key",)])


# ---- Watches --------------------------------------------------------------------------------


def test_watch_delivers_whole_commits_in_order_and_resumes(daemon, db):
    watch_id, start = db.watch(prefix=b"w/")
    db.put(b"w/a", b"1")
    db.put(b"other", b"x")  # outside the range: never delivered
    with db.transaction() as txn:
        txn.put(b"w/b", b"2")
        txn.delete(b"w/a")
    first = db.next_event(timeout=30)
    assert first.type == ringdb.EventType.COMMIT and first.watch == watch_id
    assert [(c.key, c.value) for c in first.changes] == [(b"w/a", b"1")]
    second = db.next_event(timeout=30)
    assert sorted((c.key, c.value, c.deleted) for c in second.changes) == [
        (b"w/a", None, True), (b"w/b", b"2", False)]
    assert start < first.sequence < second.sequence
    assert db.next_event(timeout=0) is None  # nothing more: None, not an error
    assert db.unwatch(watch_id) is True
    assert db.unwatch(watch_id) is False

    # Resumed from the first event's position, by another client: the second commit only.
    with ringdb.connect(daemon.socket) as other:
        other.watch(prefix=b"w/", position=first.sequence, keys_only=True)
        again = other.next_event(timeout=30)
        assert again.sequence == second.sequence
        assert all(c.value in (None, b"") for c in again.changes)  # keys only


# ---- The GIL and the daemon's death ----------------------------------------------------------


def test_the_gil_is_released_while_waiting_for_the_daemon(daemon, db):
    db.put(b"k", b"v")
    daemon.pause()  # the next get waits until resume()
    started = threading.Event()
    result = []

    def reader():
        started.set()
        result.append(db.get(b"k"))

    t = threading.Thread(target=reader)
    t.start()
    started.wait()
    # Python runs on here while the reader waits in libringdb: were the GIL held, this thread
    # could not run at all, nor resume the daemon (the test would time out).
    busy = sum(range(200000))
    assert busy > 0 and t.is_alive() and result == []
    daemon.resume()
    t.join(timeout=60)
    assert result == [b"v"]


def test_timeout_raises_timed_out_and_the_session_goes_on(daemon):
    db = ringdb.connect(daemon.socket, timeout=0.05)
    assert db.timeout == 0.05
    db.put(b"k", b"v")
    daemon.pause()  # no answer until resume()
    with pytest.raises(ringdb.TimedOutError) as info:
        db.put(b"k", b"late")  # abandoned: the daemon will still run it
    assert isinstance(info.value, TimeoutError)
    assert info.value.status == ringdb.Status.TIMED_OUT
    assert "may still run" in str(info.value)
    daemon.resume()
    db.timeout = None
    assert db.timeout is None
    # The session goes on (the abandoned request's slot comes back once it is answered); the
    # late put may or may not be visible yet: a sync write is visible once durable.
    db.put(b"k2", b"after")
    assert db.get(b"k2") == b"after"
    assert db.get(b"k") in (b"v", b"late")
    with pytest.raises(ValueError):
        db.timeout = -1
    db.close()


def test_a_killed_daemon_raises_disconnected_everywhere(daemon):
    db = ringdb.connect(daemon.socket)
    db.put_many([(b"d%d" % i, b"x") for i in range(10)])
    cursor = db.scan(prefix=b"d", page_items=2)
    next(cursor)
    txn = db.transaction()
    daemon.kill()
    for call in (
        lambda: db.get(b"d1"),
        lambda: db.put(b"d1", b"y"),
        lambda: txn.commit(),
        lambda: db.get_many([b"d1", b"d2"]),
        lambda: list(cursor),
    ):
        with pytest.raises(ringdb.DisconnectedError) as info:
            call()
        assert info.value.status in (ringdb.Status.DISCONNECTED, ringdb.Status.SHUTTING_DOWN)
    db.close()
