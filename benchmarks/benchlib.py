"""Shared helpers of the benchmark scripts (run by hand, see benchmarks/README.md).

* :func:`machine` — what the numbers were measured on (CPU model, cores, load average, versions, GPU);
* :func:`interleaved` — time several callables in alternating order, repeated, so that the two sides
  of a ratio see the same machine load (this machine is shared: never time one side after the other);
* :class:`PeakMemory` — the peak of the memory in use above the level at entry (a sampling thread
  reading glibc's ``mallinfo2``, else ``/proc/self/statm``), and the CUDA peak on a GPU;
* :func:`write_results` — ``benchmarks/results/<name>.json``, atomically, with the command line, the
  machine, the date and every measured number; :func:`print_table` — a markdown table.

The results files are what the book's appendix (``chapters/08_performance.py``) shows; their layout is
read by :mod:`gdrt.perf`: ``targets`` is a list of ``{"id", "label", "metric", "op", "threshold",
"value", "unit", "note"}`` (``op`` one of ``>=``, ``<=``, ``==``; ``threshold`` None = reported, no
target), ``measurements`` a list of flat dicts, ``scaling`` (optional) a list of
``{"axis", "x", "series", "seconds", "peak_mb"}``.
"""

from __future__ import annotations

import ctypes
import datetime as _dt
import json
import os
import shlex
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(REPO / "lib"))  # the gdrt package, also without an editable install

RESULTS_FORMAT = 1


# ------------------------------------------------------------------------------------ the machine
def machine() -> dict:
    """:func:`gdrt.machine.machine` and the memory probe this process uses."""
    from gdrt.machine import machine as _machine

    return {**_machine(), "memory_probe": memory_probe_name()}


# ------------------------------------------------------------------------------------ timing
def interleaved(fns: dict, repeats: int, warmup: int = 1, sync=None, log=True) -> dict[str, list[float]]:
    """Wall seconds of each callable, ``repeats`` times, in round-robin order (reversed every other
    round, so neither side always runs first). ``warmup`` untimed rounds first. Returns name -> list."""
    names = list(fns)
    for _ in range(warmup):
        for n in names:
            fns[n]()
    times = {n: [] for n in names}
    for r in range(repeats):
        for n in names if r % 2 == 0 else names[::-1]:
            if sync:
                sync()
            t0 = time.perf_counter()
            fns[n]()
            if sync:
                sync()
            times[n].append(time.perf_counter() - t0)
            if log:
                print(f"  round {r + 1}/{repeats} {n}: {times[n][-1]:.3f} s", file=sys.stderr, flush=True)
    return times


def median(xs) -> float:
    return float(statistics.median(xs))


def paired_ratio(num: list[float], den: list[float]) -> float:
    """Median over rounds of ``num[i] / den[i]`` (the two sides of round i ran back to back)."""
    return median([a / b for a, b in zip(num, den)])


# ------------------------------------------------------------------------------------ memory
def _rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                                                "uordblks", "fordblks", "keepcost")]


def _heap_probe():
    """A function returning the bytes the C heap holds in use (glibc ``mallinfo2``: allocated chunks
    plus mmapped blocks; every CPU tensor lives there), or None where that is unavailable."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        libc.mallinfo2()
    except (OSError, AttributeError):
        return None

    def used() -> int:
        m = libc.mallinfo2()
        return m.uordblks + m.hblkhd

    return used


_HEAP = _heap_probe()


def memory_probe_name() -> str:
    return "glibc mallinfo2 (heap bytes in use)" if _HEAP else "resident set size (/proc/self/statm)"


class PeakMemory:
    """``with PeakMemory() as pm: ...`` then ``pm.peak_mb``: the most memory in use during the block
    above the amount at entry, sampled every ``interval`` s by a thread (a spike shorter than that can
    be missed; sampling every 1 ms slowed the timed code by about 10%, every 10 ms not measurably).
    CPU: heap bytes in use (glibc ``mallinfo2``, which counts what a call allocates even where it
    reuses memory an earlier call freed; resident set size elsewhere). GPU: also
    ``pm.cuda_peak_mb``, ``torch.cuda.max_memory_allocated`` above the entry level."""

    def __init__(self, interval: float = 0.01):
        self.interval, self.peak_mb, self.cuda_peak_mb = interval, 0.0, None
        self._stop = threading.Event()
        self._probe = _HEAP or _rss_bytes

    def _run(self):
        while not self._stop.is_set():
            self._peak = max(self._peak, self._probe())
            time.sleep(self.interval)

    def __enter__(self):
        import torch

        self._cuda = torch.cuda.is_available()
        if self._cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self._cuda0 = torch.cuda.memory_allocated()
        self._base = self._peak = self._probe()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        import torch

        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, self._probe())
        self.peak_mb = (self._peak - self._base) / 2**20
        if self._cuda:
            torch.cuda.synchronize()
            self.cuda_peak_mb = (torch.cuda.max_memory_allocated() - self._cuda0) / 2**20
        return False


def rss_mb() -> float:
    """Memory in use now (MB), by the same probe as :class:`PeakMemory`."""
    return (_HEAP or _rss_bytes)() / 2**20


# ------------------------------------------------------------------------------------ results
def command_line() -> str:
    """The command as typed from the repository root."""
    script = Path(sys.argv[0]).resolve()
    try:
        script = script.relative_to(REPO)
    except ValueError:
        pass
    return shlex.join(["python", str(script), *sys.argv[1:]])


def target(id: str, label: str, metric: str, value, op: str | None = None, threshold=None, unit: str = "",
           note: str = "") -> dict:
    """One checked number: ``value op threshold`` (``op=None``: reported only)."""
    if op not in (None, ">=", "<=", "=="):
        raise ValueError(f"op must be >=, <= or ==, not {op!r}")
    return {"id": id, "label": label, "metric": metric, "op": op, "threshold": threshold,
            "value": None if value is None else float(value), "unit": unit, "note": note}


def write_results(name: str, title: str, size: str, targets: list[dict], measurements: list[dict],
                  scaling: list[dict] | None = None, settings: dict | None = None, started: dict | None = None,
                  out_dir: Path | None = None) -> Path:
    """Write ``<out_dir or benchmarks/results>/<name>.json`` atomically and return its path.
    ``started``: :func:`machine` taken before the measurements (its load average is kept as
    ``load_average_start``; the one at the end as ``load_average``)."""
    m = machine()
    if started:
        m["load_average_start"] = started["load_average"]
    payload = {
        "format": RESULTS_FORMAT,
        "name": name,
        "title": title,
        "command": command_line(),
        "size": size,
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": m,
        "settings": settings or {},
        "targets": targets,
        "measurements": measurements,
        "scaling": scaling or [],
    }
    out_dir = Path(out_dir) if out_dir else RESULTS
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=1, ensure_ascii=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def print_table(rows: list[dict], columns: list[str] | None = None, file=None) -> None:
    """A markdown table of ``rows`` (dicts), in ``columns`` order."""
    if not rows:
        return
    columns = columns or list(rows[0])
    out = file or sys.stdout
    print("| " + " | ".join(columns) + " |", file=out)
    print("|" + "---|" * len(columns), file=out)
    for r in rows:
        print("| " + " | ".join(_fmt(r.get(c, "")) for c in columns) + " |", file=out)
    out.flush()


def target_rows(targets: list[dict]) -> list[dict]:
    """The ratio table every script prints: check, target, measured, met."""
    rows = []
    for t in targets:
        if t["op"] is None or t["threshold"] is None:
            met, want = "reported", "—"
        else:
            v, th = t["value"], t["threshold"]
            ok = v is not None and {">=": v >= th, "<=": v <= th, "==": v == th}[t["op"]]
            met, want = ("met" if ok else "MISSED"), f"{t['op']} {th:g}"
        rows.append({"check": t["label"], "metric": t["metric"], "target": want,
                     "measured": "—" if t["value"] is None else f"{t['value']:.3g}{t['unit']}", "result": met})
    return rows


def finish(name: str, title: str, size: str, targets, measurements, scaling=None, settings=None, started=None,
           out_dir=None) -> Path:
    """Print the ratio table, write the results file, print its path."""
    print(f"\n{title} ({size}); load average {started['load_average'] if started else ''} -> "
          f"{[round(x, 2) for x in os.getloadavg()]}")
    print_table(target_rows(targets))
    path = write_results(name, title, size, targets, measurements, scaling, settings, started, out_dir)
    print(f"results: {path}")
    return path


def add_common_args(ap) -> None:
    ap.add_argument("--quick", action="store_true", help="the small size (a few minutes on a 2-core CPU)")
    ap.add_argument("--repeats", type=int, default=None, help="timed rounds (default: 3 quick, 5 full)")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch threads (0 = automatic: 1 when the load average exceeds the usable cores, where "
                         "several threads of one process would wait on each other, else torch's default)")
    ap.add_argument("--device", default="cuda" if _cuda() else "cpu")
    ap.add_argument("--out-dir", default=None, help=f"where the results JSON goes (default {RESULTS})")
    ap.add_argument("--seed", type=int, default=0)


def _cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:  # noqa: BLE001
        return False


def setup(args):
    import torch

    args.thread_note = ""
    if args.threads:
        torch.set_num_threads(args.threads)
        args.thread_note = f"--threads {args.threads}"
    else:
        load, cpus = os.getloadavg()[0], len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        if load > cpus and not _cuda():
            # on an oversubscribed CPU, OpenMP threads spin on each other: a 80x576 @ 576x1536 matmul loop ran
            # 5x slower with 2 threads than with 1 at load 9 on this 2-core machine
            torch.set_num_threads(1)
            args.thread_note = f"1 thread: load average {load:.1f} > {cpus} usable cores at start"
    if args.repeats is None:
        args.repeats = 3 if args.quick else 5
    torch.manual_seed(args.seed)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import logging
    import warnings

    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except Exception:  # noqa: BLE001
        pass
    return machine()
