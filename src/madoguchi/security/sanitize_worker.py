"""Run the pure sanitizer (`security/sanitize`) in a separate process with a wall-clock timeout and a memory
limit, so that a hostile file (a decompression bomb the checks miss, a parser stuck in a loop) cannot hold a
web worker or exhaust its memory.

Parent side: `run_bounded(data, filename, …)` starts `python -m madoguchi.security.sanitize_worker` in its own
process group, writes a header line (JSON) and the file's bytes to its stdin, and reads a header line (JSON:
the report as a dict) and the clean bytes from its stdout. Only JSON and raw bytes cross the boundary (no
pickle), so a child that went wrong cannot make the parent run anything. On timeout the whole process group
(LibreOffice and pdftoppm included) is killed.

Child side (`main`): sets RLIMIT_AS (inherited by the converters it runs), then sanitizes. A MemoryError that
escapes the sanitizer is answered as {"error": "memory"}. No Django here.
"""

from __future__ import annotations

import enum
import importlib
import json
import os
import resource
import signal
import subprocess  # noqa: S404 - our own module, fixed argument list, no shell
import sys
from dataclasses import dataclass
from typing import Any

from madoguchi.security.sanitize import OfficeMode, PdfMode, Policy, Tools, sanitize
from madoguchi.security.sanitize.report import Finding, Report

MiB = 1024 * 1024


class Failure(enum.StrEnum):
    TIMEOUT = "timeout"  # the wall-clock limit was reached; the process group was killed
    MEMORY = "memory"  # the memory limit was reached
    CRASHED = "crashed"  # the worker died or answered nonsense


@dataclass(frozen=True)
class Outcome:
    data: bytes | None = None
    report: Report | None = None
    failure: Failure | None = None


def report_from_dict(value: dict[str, Any]) -> Report:
    """The inverse of `Report.to_dict()`."""
    return Report(
        **{
            **value,
            "findings": [Finding(**f) for f in value.get("findings", [])],
            "entries": [report_from_dict(e) for e in value.get("entries", [])],
        }
    )


def policy_from_dict(value: dict[str, Any]) -> Policy:
    value = dict(value)
    value["pdf_mode"] = PdfMode(value["pdf_mode"])
    value["office_mode"] = OfficeMode(value["office_mode"])
    value["link_schemes"] = tuple(value["link_schemes"])
    return Policy(**value)


def run_bounded(
    data: bytes,
    filename: str,
    *,
    policy: Policy,
    tools: Tools | None,
    timeout: float,
    memory_mb: int,
    sanitizer: str = "",
) -> Outcome:
    """Sanitize in a child process; `sanitizer` ("module:function", tests only) replaces the engine's
    `sanitize` there. Returns the clean bytes and report, or the failure."""
    header = {
        "filename": filename,
        "policy": policy.to_dict(),
        "tools": None if tools is None else {"pdftoppm": tools.pdftoppm, "soffice": tools.soffice},
        "memory_mb": int(memory_mb),
        "sanitizer": sanitizer,
    }
    env = {
        **os.environ,
        # Thread pools reserve address space per thread; one thread each keeps RLIMIT_AS meaningful.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MALLOC_ARENA_MAX": "2",
    }
    process = subprocess.Popen(  # noqa: S603 - sys.executable and our own module
        [sys.executable, "-m", "madoguchi.security.sanitize_worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,  # its own process group: a timeout kills the converters too
    )
    payload = json.dumps(header, ensure_ascii=False).encode("utf-8") + b"\n" + data
    try:
        out, _ = process.communicate(payload, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.communicate()
        return Outcome(failure=Failure.TIMEOUT)
    finally:
        if process.poll() is None:
            _kill_group(process)
            process.wait()
    head, sep, body = out.partition(b"\n")
    try:
        answer = json.loads(head) if sep else {}
    except ValueError:
        answer = {}
    if answer.get("error") == "memory":
        return Outcome(failure=Failure.MEMORY)
    if process.returncode != 0 or "report" not in answer:
        # Killed by a signal or aborted: most often an allocation that failed under the limit.
        return Outcome(failure=Failure.CRASHED)
    try:
        report = report_from_dict(answer["report"])
    except (TypeError, ValueError, KeyError):
        return Outcome(failure=Failure.CRASHED)
    if answer.get("ok"):
        if len(body) != answer.get("size"):
            return Outcome(failure=Failure.CRASHED)
        return Outcome(data=body, report=report)
    return Outcome(data=None, report=report)


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def main() -> int:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    header = json.loads(stdin.readline())
    memory = int(header["memory_mb"]) * MiB
    if memory > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    try:
        data = stdin.read()
        func = sanitize
        if header.get("sanitizer"):
            module, _, name = header["sanitizer"].partition(":")
            func = getattr(importlib.import_module(module), name)
        tools = Tools(**header["tools"]) if header.get("tools") is not None else None
        result = func(data, header["filename"], policy=policy_from_dict(header["policy"]), tools=tools)
        ok = result.data is not None
        answer = {"ok": ok, "size": len(result.data) if ok else 0, "report": result.report.to_dict()}
        stdout.write(json.dumps(answer, ensure_ascii=False).encode("utf-8") + b"\n")
        if ok:
            stdout.write(result.data)
    except MemoryError:
        stdout.write(b'{"error": "memory"}\n')
    stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
