#!/usr/bin/env python3
"""Runs the real-GPU tests of a ctest label under compute-sanitizer memcheck, within a time budget.

Takes the tests of `ctest -L <label>` in a build folder (their exact commands, environment and
working directories, from `ctest --show-only=json-v1`), keeps those whose executable runs on a real
device (it links cuBLAS, as libvrestore.so does in CUDA builds; the emulated test binaries do not),
and runs each as `compute-sanitizer --tool memcheck --error-exitcode 99 <command>`, one after another,
until the budget is spent. Prints one line per test and a last line
    memcheck: R run, E with memory errors, F failed otherwise, S not run (budget), X emulated/CPU skipped
and exits 0 unless a test showed memory errors (1). No GPU or no compute-sanitizer: says so, exits 0.

    scripts/gpu_memcheck.py --build build-gpu [--label cuda] [--budget 90] [--sanitizer PATH]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


def ctest_tests(build, label):
    p = subprocess.run(["ctest", "--test-dir", str(build), "-L", label, "--show-only=json-v1"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"ctest --show-only failed: {p.stderr.strip()[:300]}")
    return json.loads(p.stdout).get("tests", [])


def properties(test):
    return {p["name"]: p["value"] for p in test.get("properties", [])}


def runs_on_device(executable, cache):
    """True when the executable (or a library it loads) links cuBLAS, as a real CUDA build does, and
    does not carry the CPU emulator (tests/kernels/emulator: namespace cuemu)."""
    if executable not in cache:
        try:
            out = subprocess.run(["ldd", executable], capture_output=True, text=True, timeout=30).stdout
            emulated = b"cuemu" in Path(executable).read_bytes()
        except (OSError, subprocess.SubprocessError):
            out, emulated = "", True
        cache[executable] = "libcublas" in out and not emulated
    return cache[executable]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", type=Path, required=True)
    ap.add_argument("--label", default="cuda")
    ap.add_argument("--budget", type=float, default=90, help="seconds for all tests together")
    ap.add_argument("--sanitizer", default=shutil.which("compute-sanitizer") or "/usr/local/cuda/bin/compute-sanitizer")
    args = ap.parse_args()

    if not Path(args.sanitizer).exists():
        print(f"memcheck: skipped: no compute-sanitizer ({args.sanitizer})")
        return 0
    sanitizer = str(Path(args.sanitizer).resolve())  # the tests run in their own working directories
    tests = ctest_tests(args.build, args.label)
    deadline = time.monotonic() + args.budget
    cache, run = {}, 0
    memory_errors, other_failures, not_run, host_only = [], [], 0, 0
    for test in tests:
        command = test.get("command") or []
        if not command or not runs_on_device(command[0], cache):
            host_only += 1
            continue
        left = deadline - time.monotonic()
        if left < 5:
            not_run += 1
            continue
        props = properties(test)
        env = dict(os.environ)
        for item in props.get("ENVIRONMENT", []):
            key, _, value = item.partition("=")
            env[key] = value
        cmd = [sanitizer, "--tool", "memcheck", "--error-exitcode", "99", "--print-limit", "20"] + command
        try:
            p = subprocess.run(cmd, cwd=props.get("WORKING_DIRECTORY"), env=env, capture_output=True, text=True,
                               timeout=left)
            rc, text = p.returncode, p.stdout + p.stderr
        except subprocess.TimeoutExpired:
            rc, text = 124, "timed out (budget)"
        except OSError as e:
            rc, text = 126, f"could not start: {e}"
        run += 1
        if rc == 99 or ("ERROR SUMMARY:" in text and "ERROR SUMMARY: 0 errors" not in text):
            memory_errors.append(test["name"])
            print(f"MEMORY ERRORS  {test['name']}\n" + "\n".join(text.splitlines()[-40:]))
        elif rc != 0:
            other_failures.append(test["name"])
            print(f"failed (rc {rc})  {test['name']}: " + " | ".join(text.splitlines()[-5:]))
        else:
            print(f"clean  {test['name']}")
    print(f"memcheck: {run} run, {len(memory_errors)} with memory errors, {len(other_failures)} failed otherwise, "
          f"{not_run} not run (budget), {host_only} emulated/CPU skipped")
    return 1 if memory_errors else 0


if __name__ == "__main__":
    sys.exit(main())
