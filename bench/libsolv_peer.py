#!/usr/bin/python3
# libsolv side of the depsolve benchmark (run with /usr/bin/python3, which has python3-solv).
#   libsolv_peer.py REPODIR REQUEST.json ARCH [--write SOLV | --read SOLV]
# Cold: parse repomd.xml, add primary + filelists with add_rpmmd, solve; with --write, write the
# .solv cache AFTER the timed part (repo.write of this filelist-heavy repo takes over a minute
# with libsolv 0.7.23, far more than dnf's split primary/filenames caches; see bench/README.md).
# Warm (--read): add_solv from the cache, solve. Solving is done like dnf (best, weak deps per
# request). Prints JSON with timings, peak RSS and the chosen NEVRAs.
import json
import os
import resource
import sys
import time
import xml.etree.ElementTree as ET

import solv

t0 = time.perf_counter()
c0 = time.process_time()
repodir, reqfile, arch = sys.argv[1], sys.argv[2], sys.argv[3]
write = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == "--write" else None
cache = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == "--read" else None
req = json.load(open(reqfile))

pool = solv.Pool()
pool.setdisttype(solv.Pool.DISTTYPE_RPM)
pool.set_flag(solv.Pool.POOL_FLAG_IMPLICITOBSOLETEUSESCOLORS, 1)
pool.setarch(arch)
repo = pool.add_repo("bench")
mode = "warm" if cache else "cold"
if mode == "warm":
    f = solv.xfopen(cache)
    repo.add_solv(f)
    f.close()
else:
    ns = {"r": "http://linux.duke.edu/metadata/repo"}
    md = ET.parse(os.path.join(repodir, "repodata", "repomd.xml")).getroot()
    loc = {}
    for d in md.findall("r:data", ns):
        loc[d.get("type")] = d.find("r:location", ns).get("href")
    f = solv.xfopen(os.path.join(repodir, loc["primary"]))
    repo.add_rpmmd(f, None, 0)
    f.close()
    f = solv.xfopen(os.path.join(repodir, loc["filelists"]))
    repo.add_rpmmd(f, None, solv.Repo.REPO_EXTEND_SOLVABLES)
    f.close()
t1 = time.perf_counter()
pool.addfileprovides()
pool.createwhatprovides()
jobs = []
flags = (solv.Selection.SELECTION_NAME | solv.Selection.SELECTION_PROVIDES |
         solv.Selection.SELECTION_FILELIST | solv.Selection.SELECTION_GLOB | solv.Selection.SELECTION_DOTARCH)
for spec in req["include"]:
    sel = pool.select(spec, flags)
    if sel.isempty():
        print(json.dumps({"error": "no package matches spec '%s'" % spec}))
        sys.exit(1)
    jobs += sel.jobs(solv.Job.SOLVER_INSTALL | solv.Job.SOLVER_FORCEBEST)
solver = pool.Solver()
solver.set_flag(solv.Solver.SOLVER_FLAG_IGNORE_RECOMMENDED, 0 if req["installWeakDeps"] else 1)
solver.set_flag(solv.Solver.SOLVER_FLAG_ALLOW_VENDORCHANGE, 1)
solver.set_flag(solv.Solver.SOLVER_FLAG_FOCUS_BEST, 1)
problems = solver.solve(jobs)
if problems:
    print(json.dumps({"error": "; ".join(str(p) for p in problems)}))
    sys.exit(1)
chosen = sorted(s.str() for s in solver.transaction().newsolvables())
t2 = time.perf_counter()
c2 = time.process_time()
writeMs = None
if write:
    f = solv.xfopen(write, "w")
    repo.write(f)
    f.close()
    writeMs = (time.perf_counter() - t2) * 1000
print(json.dumps({
    "mode": mode,
    "loadMs": (t1 - t0) * 1000,
    "solveMs": (t2 - t1) * 1000,
    "totalMs": (t2 - t0) * 1000,
    "cpuMs": (c2 - c0) * 1000,
    "cacheWriteMs": writeMs,
    "maxRssKb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "packages": len(repo.solvables) if hasattr(repo, "solvables") else repo.nsolvables,
    "chosen": chosen,
}))
