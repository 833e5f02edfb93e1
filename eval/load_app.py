"""Load test: many simulated learners practise at once against the app, over HTTP on this machine.

    python eval/load_app.py --learners 20 --fake        # starts the app with the keyword fake analyzer
    python eval/load_app.py --learners 20 --real        # starts the app with the real model (loaded once)
    python eval/load_app.py --learners 5 --url http://127.0.0.1:7860   # a running `coach app` (no --auth)

Each learner is its own gradio_client Client (its own Gradio session), starts the same scenario
and sends --turns replies, starting the scenario again after each ending, or stops at
--timeout. Before each reply a learner "reads and types" for a random --think time (default
3-8 s, as a person writing a one- or two-sentence reply does); --think 0 sends back-to-back,
which measures the app's saturation throughput rather than what twenty people typing at once
experience. Every reply carries a tag naming its learner and turn, so the check for mixed-up
sessions is exact: the transcript each learner gets back must hold its own tags since its last
restart and no one else's, in order, and (for an app it started) each learner's stored
sessions must hold only its own replies.

Prints per-turn latency (p50, p95, max) of the /reply call and exits 1 on any error or mix-up.
Only loopback addresses are accepted. With --fake or --real the app runs in a child process on a
free loopback port, with a fresh temporary database and a copy of the scenarios, and is stopped
at the end.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from ipaddress import ip_address
from pathlib import Path
from urllib.parse import urlparse

REPO_ROOT = Path(__file__).resolve().parents[1]
REPLIES = [
    "I understand, that sounds really frustrating, and I'm sorry.",
    "I'll sort it out myself and call you tomorrow by 10.",
    "Could you tell me the address, please?",
    "You should have been home, the notes say so.",
    "I'll handle the refund today and confirm it by email.",
    "Thank you for your patience. I'll call you right now when it is booked.",
]
TAG = re.compile(r"\[L(\d+)-T(\d+)\]")
SERVER_TIMES = "reply_handler_ms.txt"


@dataclass
class LearnerResult:
    learner: int
    latencies: list[float] = field(default_factory=list)
    sent_tags: list[str] = field(default_factory=list)
    endings: int = 0
    mix_up: str | None = None  # what the page showed instead of this learner's own replies
    error: str | None = None


def tag(learner: int, turn: int) -> str:
    return f"[L{learner:02d}-T{turn}]"


def run_learner(url: str, learner: int, scenario: str, turns: int, deadline: float, result: LearnerResult,
                think: tuple[float, float] = (0.0, 0.0)) -> None:  # fmt: skip
    from gradio_client import Client

    pace = random.Random(learner)
    try:
        # A browser fetches a download only when it is clicked, so the simulated learners do not fetch
        # the transcript files that every turn's response offers.
        client = Client(url, verbose=False, download_files=False)
        client.predict(scenario, None, f"load-learner-{learner:02d}", api_name="/start")
        since_restart: list[str] = []
        for turn in range(1, turns + 1):
            time.sleep(pace.uniform(*think))
            if time.monotonic() > deadline:
                break
            text = f"{REPLIES[(learner + turn) % len(REPLIES)]} {tag(learner, turn)}"
            started = time.perf_counter()
            outputs = client.predict(text, api_name="/reply")
            result.latencies.append(time.perf_counter() - started)
            result.sent_tags.append(tag(learner, turn))
            since_restart.append(tag(learner, turn))
            chat, notice, report = outputs[0], outputs[5], outputs[10]
            seen = [match.group(0) for message in chat for match in TAG.finditer(_text(message))]
            if seen != since_restart:
                result.mix_up = f"sent {since_restart} but the transcript shows {seen} {notice}"
                return
            if report:  # an ending: practise the scenario again, as a learner would, and keep the load up
                result.endings += 1
                client.predict(None, api_name="/restart")
                since_restart = []
    except Exception as err:  # noqa: BLE001 - one learner's failure is reported, the others go on
        result.error = f"{type(err).__name__}: {err}"


def _text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "".join(block.get("text", "") for block in content if isinstance(block, dict))
    return str(content or "")


def think_range(text: str) -> tuple[float, float]:
    """'3-8' -> (3.0, 8.0); '0' -> (0.0, 0.0)."""
    low, _, high = text.partition("-")
    try:
        bounds = (float(low), float(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds as MIN-MAX (e.g. 3-8) or one number, found {text!r}") from None
    if not 0 <= bounds[0] <= bounds[1]:
        raise argparse.ArgumentTypeError(f"expected 0 <= MIN <= MAX, found {text!r}")
    return bounds


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def serve(real: bool, port: int, workdir: Path) -> None:
    """Run the app in this process until it is killed (the load test starts this as a child process)."""
    sys.path.insert(0, str(REPO_ROOT))  # the fake analyzer lives with the tests
    from coach.store import Store
    from coach.ui.app import build_demo, launch_options

    if real:
        from coach.analysis import load_analyzer

        analyzer = load_analyzer()
    else:
        from tests.fakes import KeywordAnalyzer

        analyzer = KeywordAnalyzer()
    time_reply_handler(workdir / SERVER_TIMES)
    demo = build_demo(analyzer, store=Store(database_url(workdir)), scenarios_folder=workdir / "scenarios")
    demo.launch(**launch_options(port=port), quiet=True)


def time_reply_handler(log: Path) -> None:
    """Log the server-side time of every /reply call (analysis, store, render) to ``log``, in ms."""
    from coach.ui import practice

    handler, out = practice.send_reply, log.open("a", buffering=1)

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return handler(*args, **kwargs)
        finally:
            out.write(f"{1000 * (time.perf_counter() - started):.2f}\n")

    practice.send_reply = timed  # build_practice_tab binds the module's handler when the page is built


def database_url(workdir: Path) -> str:
    return f"sqlite:///{workdir / 'load.db'}"


def start_app(real: bool, workdir: Path) -> tuple[subprocess.Popen, str]:
    """The app in a child process (so the simulated browsers do not share its interpreter), once it answers."""
    shutil.copytree(REPO_ROOT / "scenarios", workdir / "scenarios")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, __file__, "--serve", "--port", str(port), "--workdir", str(workdir), "--real" if real else "--fake"]
    child = subprocess.Popen(command)
    url = f"http://127.0.0.1:{port}/"
    waited = time.monotonic() + (600 if real else 120)
    while time.monotonic() < waited:
        if child.poll() is not None:
            raise SystemExit(f"the app exited with code {child.returncode} before it was ready")
        try:
            urllib.request.urlopen(url + "config", timeout=2).close()
            return child, url
        except OSError:
            time.sleep(0.5)
    child.terminate()
    raise SystemExit("the app did not start in time")


def check_loopback(url: str) -> None:
    host = urlparse(url).hostname or ""
    try:
        loopback = host == "localhost" or ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SystemExit(f"refusing {url}: the load test only talks to this machine (127.0.0.1 or localhost)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--fake", action="store_true", help="start the app here with the keyword fake analyzer")
    target.add_argument("--real", action="store_true", help="start the app here with the real model")
    target.add_argument("--url", help="an app already running on this machine")
    parser.add_argument("--learners", type=int, default=20)
    parser.add_argument("--out", type=Path, help="also write the figures as JSON (e.g. eval/results/app_load.json)")
    parser.add_argument("--turns", type=int, default=8, help="replies per learner; an ending restarts the scenario (default 8)")
    parser.add_argument("--scenario", default="telecom-technician:en", help="scenario id and language to play")
    parser.add_argument("--think", type=think_range, default=(3.0, 8.0),
                        help="seconds each learner reads and types before a reply, MIN-MAX (default 3-8; 0 = back-to-back)")
    parser.add_argument("--timeout", type=float, default=300.0, help="stop sending after this many seconds")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.real, args.port, args.workdir)
        return 0

    workdir = Path(tempfile.mkdtemp(prefix="palvelupeili-load-"))
    child = store = None
    try:
        if args.url:
            check_loopback(args.url)
            url = args.url
        else:
            child, url = start_app(args.real, workdir)
            sys.path.insert(0, str(REPO_ROOT))
            from coach.store import Store

            store = Store(database_url(workdir))
        print(f"{args.learners} learners, at most {args.turns} replies each, thinking {args.think[0]:g}-{args.think[1]:g} s "
              f"before each, against {url}", flush=True)  # fmt: skip
        deadline = time.monotonic() + args.timeout
        results = [LearnerResult(i) for i in range(args.learners)]
        threads = [threading.Thread(target=run_learner, args=(url, i, args.scenario, args.turns, deadline, results[i], args.think),
                                    daemon=True)
                   for i in range(args.learners)]  # fmt: skip
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(1.0, deadline - time.monotonic() + 60))
        elapsed = time.perf_counter() - started
        server_ms = [float(v) for v in (workdir / SERVER_TIMES).read_text().split()] if child is not None else []
        return report(results, store, elapsed, any(thread.is_alive() for thread in threads), args, server_ms)
    finally:
        if child is not None:
            child.terminate()
            child.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


def report(results: list[LearnerResult], store, elapsed: float, stuck: bool, args=None, server_ms: list[float] = ()) -> int:
    latencies = [value for result in results for value in result.latencies]
    problems = [f"learner {r.learner}: {r.error}" for r in results if r.error]
    problems += [f"learner {r.learner}: {r.mix_up}" for r in results if not r.error and r.mix_up]
    if store is not None:
        for result in results:
            stored = [reply for s in sorted(store.list_sessions(f"load-learner-{result.learner:02d}"), key=lambda s: s.id)
                      for reply, _ in store.load(f"load-learner-{result.learner:02d}", s.id).turns]  # fmt: skip
            stored_tags = [match.group(0) for reply in stored for match in TAG.finditer(reply)]
            if stored_tags != result.sent_tags:
                problems.append(f"learner {result.learner}: stored {stored_tags}, sent {result.sent_tags}")
    if stuck:
        problems.append("some learners were still waiting when the time ran out")
    print(f"turns: {len(latencies)} in {elapsed:.1f} s ({len(latencies) / elapsed:.1f} per second); "
          f"{sum(r.endings for r in results)} endings reached, by {sum(r.endings > 0 for r in results)} of {len(results)} learners")  # fmt: skip
    if latencies:
        print(f"per-turn latency: p50 {1000 * statistics.median(latencies):.0f} ms, "
              f"p95 {1000 * percentile(latencies, 0.95):.0f} ms, max {1000 * max(latencies):.0f} ms")  # fmt: skip
    if server_ms:
        print(f"server time in the reply handler: p50 {statistics.median(server_ms):.0f} ms, "
              f"p95 {percentile(server_ms, 0.95):.0f} ms, max {max(server_ms):.0f} ms")  # fmt: skip
    for problem in problems:
        print(f"PROBLEM {problem}")
    print("no sessions were mixed up" if not problems else f"{len(problems)} problems")
    if args is not None and args.out is not None and latencies:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({
            "learners": len(results), "analyzer": "real" if args.real else ("fake" if args.fake else "running app"),
            "think_s": list(args.think),
            "turns": len(latencies), "turns_per_s": round(len(latencies) / elapsed, 2),
            "turn_ms_p50": round(1000 * statistics.median(latencies)), "turn_ms_p95": round(1000 * percentile(latencies, 0.95)),
            "turn_ms_max": round(1000 * max(latencies)), "problems": problems,
            **({"handler_ms_p50": round(statistics.median(server_ms), 1), "handler_ms_p95": round(percentile(server_ms, 0.95), 1)}
               if server_ms else {}),
        }, indent=2))  # fmt: skip
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
