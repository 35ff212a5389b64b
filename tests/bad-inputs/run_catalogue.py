"""run_catalogue.py --work DIR --exe EXE --api API --api-text API2 --weights W
                    --other W2
                    [--catalogue CATALOGUE.tsv] [--timeout S] [--only ID]

Runs every case of the bad-input catalogue (CATALOGUE.tsv, next to this
file) and checks that each bad input is refused cleanly:
  - the exit status is exactly the one listed (a signal is a crash);
  - stdout + stderr contain the listed message, which names the problem;
  - there is no sanitizer report ('AddressSanitizer', 'runtime error:',
    'LeakSanitizer') and no C++ 'terminate called';
  - the process ends within the timeout (a hang is a failure).
A case marked 'xfail: WHY' is a known bug outside the catalogue's files: it
must still fail (an unexpected pass is reported so that the mark is
removed once the bug is fixed).

Before running, make_inputs.py writes the generated inputs to DIR/gen.
Command templates use {tfc} (tfc from PATH), {src} (this directory),
{gen} (generated inputs), {models} (the repository's models/), {exe} (a
compiled tiny-decoder executable), {api} (api_bad.c built against the
tiny-decoder library), {apitext} (api_bad.c built with -DAPI_BAD_TEXT
against the byte-tokenizer tiny-bytes library), {w} (good tiny-decoder
weights) and {other} (weights of another model). Prints one line per
case and a summary; exits non-zero if any case failed. Used by
tests/lit/bad-inputs.test.
"""
import argparse
import concurrent.futures
import os
import shlex
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CRASH_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:",
               "terminate called", "Segmentation fault")


def read_catalogue(path):
    cases = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) not in (4, 5):
                sys.exit("%s:%d: expected 4 or 5 tab-separated columns "
                         "(id, exit, message, command[, xfail: why]), found %d"
                         % (path, lineno, len(cols)))
            case = {"id": cols[0], "exit": int(cols[1]), "message": cols[2],
                    "command": cols[3], "xfail": None, "line": lineno}
            if len(cols) == 5:
                if not cols[4].startswith("xfail: "):
                    sys.exit("%s:%d: the 5th column must be 'xfail: WHY'"
                             % (path, lineno))
                case["xfail"] = cols[4][len("xfail: "):]
            cases.append(case)
    ids = [c["id"] for c in cases]
    dups = sorted({i for i in ids if ids.count(i) > 1})
    if dups:
        sys.exit("%s: duplicate case ids: %s" % (path, ", ".join(dups)))
    return cases


def check(case, subst, timeout):
    """Runs one case; returns (ok, detail)."""
    argv = [a.format(**subst) for a in shlex.split(case["command"])]
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, "timed out after %ds (a hang)" % timeout
    out = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    last = out.strip().splitlines()[-1] if out.strip() else "(no output)"
    if proc.returncode < 0:
        return False, "killed by signal %d: %s" % (-proc.returncode, last)
    for mark in CRASH_MARKS:
        if mark in out:
            line = next(l for l in out.splitlines() if mark in l)
            return False, "crash report: " + line.strip()
    if proc.returncode != case["exit"]:
        return False, "exit %d, expected %d: %s" % (proc.returncode,
                                                    case["exit"], last)
    if case["message"] not in out:
        return False, "message lacks '%s': %s" % (case["message"], last)
    return True, last


def main():
    ap = argparse.ArgumentParser()
    for flag in ("--work", "--exe", "--api", "--api-text", "--weights",
                 "--other"):
        ap.add_argument(flag, required=True)
    ap.add_argument("--catalogue", default=os.path.join(HERE, "CATALOGUE.tsv"))
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1))
    args = ap.parse_args()

    tfc = shutil.which("tfc")
    if not tfc:
        sys.exit("run_catalogue.py: tfc is not on PATH")
    gen = os.path.join(args.work, "gen")
    subprocess.run([sys.executable, os.path.join(HERE, "make_inputs.py"),
                    args.weights, gen], check=True)
    subst = {"tfc": tfc, "src": HERE, "gen": gen,
             "models": os.path.join(HERE, "..", "..", "models"),
             "exe": args.exe, "api": args.api, "apitext": args.api_text,
             "w": args.weights,
             "other": args.other}

    cases = read_catalogue(args.catalogue)
    if args.only:
        cases = [c for c in cases if c["id"] in args.only]
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda c: check(c, subst, args.timeout),
                                cases))
    counts = {"PASS": 0, "XFAIL": 0, "FAIL": 0, "XPASS": 0}
    for case, (ok, detail) in zip(cases, results):
        if case["xfail"] is None:
            verdict = "PASS" if ok else "FAIL"
        else:
            verdict = "XPASS" if ok else "XFAIL"
            detail += " [known: %s]" % case["xfail"]
        counts[verdict] += 1
        line = "%s %s: %s" % (verdict, case["id"], detail)
        print(line)
        if verdict in ("FAIL", "XPASS"):
            # Also on stderr, which lit shows when the run fails.
            print(line, file=sys.stderr)
    print("catalogue: %d cases, %d passed, %d expected failures, %d failed, "
          "%d unexpectedly passed" % (len(cases), counts["PASS"],
                                      counts["XFAIL"], counts["FAIL"],
                                      counts["XPASS"]))
    return 1 if counts["FAIL"] or counts["XPASS"] else 0


if __name__ == "__main__":
    sys.exit(main())
