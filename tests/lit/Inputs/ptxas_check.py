#!/usr/bin/env python3
"""ptxas_check.py PTX_FILE [ARCH]: assembles each kernel of `tfc --emit=ptx`
output with CUDA's ptxas (-arch=ARCH, default sm_90, -v) and checks what it
reports against the limits of one block on that architecture:

  registers per thread <= 255, and registers x 256 threads (the largest
  block tfc's GPU schedules launch) <= 65536 (the register file);
  static shared memory <= 48 KiB (the most a block gets without opting in);
  no spill stores (a spill means the schedule's register tile is too big).

Prints one line per kernel, "KERNEL: ok (...)" or "KERNEL: FAIL: why", and
exits non-zero if ptxas is missing, fails, or any limit is exceeded.
"""
import os
import re
import subprocess
import sys
import tempfile

PTXAS = os.environ.get("PTXAS", "/usr/local/cuda/bin/ptxas")
MAX_THREADS = 256
REGISTER_FILE = 65536
MAX_STATIC_SHARED = 48 * 1024


def check(name, ptx, arch, tmp):
    path = os.path.join(tmp, name + ".ptx")
    with open(path, "w") as f:
        f.write(ptx)
    r = subprocess.run([PTXAS, "-arch=" + arch, "-v", path, "-o",
                        os.path.join(tmp, name + ".cubin")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return "FAIL: ptxas: " + " ".join(r.stderr.split())[:300]
    regs, shared, spills, entries = 0, 0, 0, 0
    for line in r.stderr.splitlines():
        m = re.search(r"Used (\d+) registers", line)
        if m:
            entries += 1
            regs = max(regs, int(m.group(1)))
        m = re.search(r"(\d+) bytes smem", line)
        if m:
            shared = max(shared, int(m.group(1)))
        m = re.search(r"(\d+) bytes spill stores", line)
        if m:
            spills = max(spills, int(m.group(1)))
    if entries == 0:
        return "FAIL: ptxas reported no kernel"
    why = []
    if regs > 255 or regs * MAX_THREADS > REGISTER_FILE:
        why.append("%d registers" % regs)
    if shared > MAX_STATIC_SHARED:
        why.append("%d bytes of shared memory" % shared)
    if spills > 0:
        why.append("%d bytes of spill stores" % spills)
    if why:
        return "FAIL: " + ", ".join(why)
    return "ok (%d kernels, at most %d registers, %d bytes shared)" % (
        entries, regs, shared)


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: ptxas_check.py PTX_FILE [ARCH]")
    arch = sys.argv[2] if len(sys.argv) > 2 else "sm_90"
    if not os.access(PTXAS, os.X_OK):
        sys.exit("ptxas_check.py: %s not found (CUDA's ptxas; set PTXAS)" % PTXAS)
    text = open(sys.argv[1]).read()
    parts = re.split(r"^// kernel (\S+) \((\w+)\)\n", text, flags=re.M)
    if len(parts) < 4:
        sys.exit("ptxas_check.py: no '// kernel' sections in " + sys.argv[1])
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(1, len(parts), 3):
            result = check(parts[i], parts[i + 2], arch, tmp)
            failed = failed or not result.startswith("ok")
            print("%s: %s" % (parts[i], result))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
