"""Limits across ``serve --workers 2`` (no Redis) and across two gateways on PostgreSQL + Redis, and
no spend lost when the gateway is killed with ``kill -9`` under load."""

from __future__ import annotations

import concurrent.futures
import threading
import time

import httpx

from .conftest import two_locations
from .serve_process import ServeProcess
from .test_postgres_redis import _config, shared_backends  # noqa: F401 - the fixture

CHAT = {"model": "gemini-flash", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10}


def _burst(url_key_pairs, n: int) -> list[httpx.Response]:
    def one(i):
        url, key = url_key_pairs[i % len(url_key_pairs)]
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
            return c.post("/chat/completions", json=CHAT)

    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def _rows(client: httpx.Client, token: str, expected: int, timeout: float = 10) -> list[dict]:
    """The key's success rows, once ``expected`` are there (other workers flush on their own clock)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = [r for r in client.get("/spend/logs", params={"api_key": token}).json() if r["status"] == "success"]
        if len(rows) >= expected or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def test_budget_and_rpm_hold_across_two_workers_without_redis(fake, tmp_path):
    gw = ServeProcess(tmp_path, two_locations(), workers=2).start()
    try:
        with gw.client() as c:
            first = c.post("/chat/completions", json=CHAT)
            cost = float(first.headers["x-vertex-engine-response-cost"])
            budget = c.post("/key/generate", json={"max_budget": cost * 1.5}).json()
            rpm = c.post("/key/generate", json={"rpm_limit": 10}).json()
        fake.fault("slow", delay=0.25, times=None)
        answers = _burst([(gw.url, budget["key"])], 20)
        ok = [r for r in answers if r.status_code == 200]
        assert ok and all(r.status_code in (200, 429) for r in answers), [r.text for r in answers]
        with gw.client() as c:
            rows = _rows(c, budget["token"], len(ok))
        assert len(rows) == len(ok)
        assert sum(r["spend"] for r in rows) <= cost * 1.5 + cost * 1.001, f"{len(ok)} served on a 1.5-call budget"
        started = time.time()
        answers = _burst([(gw.url, rpm["key"])], 30)
        served = sum(r.status_code == 200 for r in answers)
        assert served == 10 if int(started // 60) == int(time.time() // 60) else served <= 20
    finally:
        gw.stop()


def test_budget_holds_across_two_gateways_on_postgres_and_redis(start_gateway, fake, shared_backends, tmp_path):  # noqa: F811
    a = start_gateway(_config(shared_backends), name="a.yaml")
    b = start_gateway(_config(shared_backends), name="b.yaml")
    with a.client() as c:
        cost = float(c.post("/chat/completions", json=CHAT).headers["x-vertex-engine-response-cost"])
        made = c.post("/key/generate", json={"max_budget": cost * 1.5, "tpm_limit": 1_000_000}).json()
    fake.fault("slow", delay=0.25, times=None)
    answers = _burst([(a.url, made["key"]), (b.url, made["key"])], 24)
    ok = [r for r in answers if r.status_code == 200]
    assert ok and all(r.status_code in (200, 429) for r in answers), [r.text for r in answers]
    with a.client() as c:
        rows = _rows(c, made["token"], len(ok))
    assert len(rows) == len(ok)
    assert sum(r["spend"] for r in rows) <= cost * 1.5 + cost * 1.001


def test_kill_9_under_load_loses_no_answered_call(fake, tmp_path):
    # A long flush interval: without the journal, everything answered since the last flush is lost.
    config = {**two_locations(), "general_settings": {"spend_flush_interval": 30}}
    gw = ServeProcess(tmp_path, config).start()
    with gw.client() as c:
        made = c.post("/key/generate", json={"key_alias": "killed"}).json()
    fake.fault("slow", delay=0.02, times=None)
    answered = []
    stop = threading.Event()
    lock = threading.Lock()

    def load():
        with httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {made['key']}"}, timeout=10) as c:
            while not stop.is_set():
                try:
                    r = c.post("/chat/completions", json=CHAT)
                except httpx.HTTPError:
                    continue  # the gateway died mid-call: not answered
                if r.status_code == 200:
                    with lock:
                        answered.append(r.headers["x-request-id"])

    threads = [threading.Thread(target=load) for _ in range(12)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60  # a loaded machine answers slowly: wait for real load, not a fixed time
    while len(answered) < 60 and time.monotonic() < deadline:
        time.sleep(0.1)
    gw.kill9()  # mid-load: calls are in flight
    stop.set()
    for t in threads:
        t.join(15)
    assert len(answered) > 20, "the load ran"
    gw.start()
    try:
        with gw.client() as c:
            rows = _rows(c, made["token"], len(answered), timeout=20)
        ids = {r["request_id"] for r in rows}
        lost = set(answered) - ids
        assert not lost, f"{len(lost)} of {len(answered)} answered calls have no spend row after kill -9"
        # Calls killed after their row was journaled but before the client read the answer may be
        # charged (Google billed them); none twice.
        assert len(rows) == len(ids) and len(rows) <= len(answered) + 12
    finally:
        gw.stop()


def test_budget_tpm_and_rpm_hold_across_two_gateway_processes_on_postgres_without_redis(fake, shared_backends, tmp_path):  # noqa: F811
    config = {**two_locations(), "general_settings": {"database_url": shared_backends["database_url"]}}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = ServeProcess(tmp_path / "a", config).start()
    b = ServeProcess(tmp_path / "b", config).start()
    try:
        with a.client() as c:
            first = c.post("/chat/completions", json=CHAT)
            cost = float(first.headers["x-vertex-engine-response-cost"])
            tokens = first.json()["usage"]["total_tokens"]
            budget = c.post("/key/generate", json={"max_budget": cost * 1.5}).json()
            tpm = c.post("/key/generate", json={"tpm_limit": tokens * 3}).json()
            rpm = c.post("/key/generate", json={"rpm_limit": 10}).json()
        fake.fault("slow", delay=0.25, times=None)  # every call of a burst overlaps the others
        for key, check in ((budget, "spend"), (tpm, "total_tokens")):
            answers = _burst([(a.url, key["key"]), (b.url, key["key"])], 24)
            ok = [r for r in answers if r.status_code == 200]
            assert ok and all(r.status_code in (200, 429) for r in answers), [r.text for r in answers]
            with a.client() as c:
                rows = _rows(c, key["token"], len(ok))
            assert len(rows) == len(ok)
            used = sum(r[check] for r in rows)
            if check == "spend":
                assert used <= cost * 1.5 + cost * 1.001, f"{len(ok)} calls served on a 1.5-call budget by two gateways"
            else:
                assert used <= tokens * 3 + tokens, f"{len(ok)} calls ({used} tokens) served on tpm_limit {tokens * 3}"
        started = time.time()
        answers = _burst([(a.url, rpm["key"]), (b.url, rpm["key"])], 30)
        served = sum(r.status_code == 200 for r in answers)
        assert served == 10 if int(started // 60) == int(time.time() // 60) else served <= 20
    finally:
        a.stop()
        b.stop()


def test_sigterm_under_load_during_a_database_partition_stops_workers_and_loses_no_spend(fake, shared_backends, tmp_path):  # noqa: F811
    # `serve --workers 2` once ignored SIGTERM for more than 20 s: a query stuck on a database
    # that stopped answering held the workers' last spend flush and pool close, and uvicorn's
    # supervisor waits for its workers without limit.
    import os
    import signal
    import socket
    from urllib.parse import urlsplit

    from engine.gateway.shutdown import DEADLINE, SUPERVISOR_GRACE

    from .tcp_proxy import TcpProxy
    from .test_postgres_redis import PG_URL

    target = urlsplit(PG_URL)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    slow = []
    try:
        url = shared_backends["database_url"].replace(f"{target.hostname}:{target.port or 5432}", f"127.0.0.1:{proxy.port}")
        config = {**two_locations(), "general_settings": {"database_url": url, "spend_flush_interval": 30}}
        gw = ServeProcess(tmp_path, config, workers=2).start()
        with gw.client() as c:
            made = c.post("/key/generate", json={"max_budget": 100}).json()
        answered = [r.headers["x-request-id"] for r in _burst([(gw.url, made["key"])], 24) if r.status_code == 200]
        for _ in range(20):  # clients that send half a request and wait
            s = socket.create_connection(("127.0.0.1", gw.port))
            s.sendall(b"POST /chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{\"model\"")
            slow.append(s)
        fake.fault("slow", delay=60, times=None)  # calls under way at the stop signal
        pending = concurrent.futures.ThreadPoolExecutor(4)
        for _ in range(4):
            pending.submit(_burst, [(gw.url, made["key"])], 1)
        proxy.freeze()  # the database stops answering; nothing fails, everything waits
        time.sleep(1)
        os.kill(gw.proc.pid, signal.SIGTERM)
        gw.proc.wait(DEADLINE + SUPERVISOR_GRACE + 15)  # raises TimeoutExpired if it hangs
        pending.shutdown(wait=False, cancel_futures=True)
        fake.clear()
        proxy.restore()
        gw.proc = None
        gw.start()
        with gw.client() as c:
            rows = _rows(c, made["token"], len(answered) + 1, timeout=20)
        assert set(answered) <= {r["request_id"] for r in rows}, "every answered call's spend reached the database"
    finally:
        for s in slow:
            s.close()
        if gw.proc is not None:
            gw.stop()
        proxy.close()
