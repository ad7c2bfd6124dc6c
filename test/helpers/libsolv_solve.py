#!/usr/bin/python3
# Reference solver for the depsolve differential test: loads rpm-md repositories with libsolv
# (python3-solv) and solves requests the way dnf/osbuild-depsolve-dnf does:
#  - Fedora's libsolv build semantics (implicit obsoletes use arch colors, so x86_64 and i686
#    packages of the same name may coexist)
#  - install specs: name, then provides, then file path, globs on names; "@group" expanded by
#    the caller; excludes and repos outside repo-ids become locks (uninstallable)
#  - chained transactions: previous transactions' packages are install jobs (as osbuild does with
#    package_install), the result of a transaction is what it adds
#  - best=True (SOLVER_FLAG_FOCUS_BEST + FORCEBEST jobs), weak deps via IGNORE_RECOMMENDED
# Usage: libsolv_solve.py request.json  -> JSON on stdout
import json
import sys
import solv


def nevra(s):
    return s.str()


def main():
    req = json.load(open(sys.argv[1]))
    pool = solv.Pool()
    pool.setdisttype(solv.Pool.DISTTYPE_RPM)
    pool.set_flag(solv.Pool.POOL_FLAG_IMPLICITOBSOLETEUSESCOLORS, 1)
    pool.setarch(req["arch"])
    repos = {}
    for r in req["repos"]:
        repo = pool.add_repo(r["id"])
        f = solv.xfopen(r["primary"])
        repo.add_rpmmd(f, None, 0)
        f.close()
        if r.get("filelists"):
            f = solv.xfopen(r["filelists"])
            repo.add_rpmmd(f, None, solv.Repo.REPO_EXTEND_SOLVABLES)
            f.close()
        repos[r["id"]] = repo
    pool.addfileprovides()
    pool.createwhatprovides()
    groups = req.get("groups", {})
    out = []
    for rq in req["requests"]:
        prev = []
        res = {"name": rq["name"], "ok": True, "transactions": []}
        for t in rq["transactions"]:
            jobs = []
            for s in prev:
                jobs.append(pool.Job(solv.Job.SOLVER_INSTALL | solv.Job.SOLVER_SOLVABLE, s.id))
            # like dnf: packages of other repos and excluded ones are not considered at all
            allowed = t.get("repoIds")
            considered = set()
            for rid, repo in repos.items():
                if allowed is None or rid in allowed:
                    considered.update(s.id for s in repo.solvables)
            pool.set_considered_list(list(considered))
            for ex in t["exclude"]:
                sel = pool.select(ex, solv.Selection.SELECTION_NAME | solv.Selection.SELECTION_GLOB)
                considered.difference_update(s.id for s in sel.solvables())
            considered.update(s.id for s in prev)
            pool.set_considered_list(list(considered))
            bad = None
            specs = []
            for spec in t["include"]:
                if spec.startswith("@"):
                    if spec[1:] not in groups:
                        bad = "no group matches spec '%s'" % spec
                        break
                    specs += [n for n in groups[spec[1:]] if pool.select(n, solv.Selection.SELECTION_NAME).isempty() is False]
                else:
                    specs.append(spec)
            if bad:
                res = {"name": rq["name"], "ok": False, "problems": [bad]}
                break
            for spec in specs:
                flags = (solv.Selection.SELECTION_NAME | solv.Selection.SELECTION_PROVIDES |
                         solv.Selection.SELECTION_FILELIST | solv.Selection.SELECTION_GLOB | solv.Selection.SELECTION_CANON |
                         solv.Selection.SELECTION_DOTARCH)
                sel = pool.select(spec, flags)
                ids = [s.id for s in sel.solvables() if s.id in considered]
                if not ids:
                    bad = "no package matches spec '%s'" % spec
                    break
                # as dnf's selectors do: explicit candidate sets (one per name for globs)
                if any(c in spec for c in "*?["):
                    byname = {}
                    for i in ids:
                        byname.setdefault(pool.solvables[i].name, []).append(i)
                    groups_ = list(byname.values())
                else:
                    groups_ = [ids]
                for g in groups_:
                    jobs.append(pool.Job(solv.Job.SOLVER_INSTALL | solv.Job.SOLVER_SOLVABLE_ONE_OF | solv.Job.SOLVER_FORCEBEST,
                                         pool.towhatprovides(g)))
            if bad:
                res = {"name": rq["name"], "ok": False, "problems": [bad]}
                break
            solver = pool.Solver()
            solver.set_flag(solv.Solver.SOLVER_FLAG_IGNORE_RECOMMENDED, 0 if t["installWeakDeps"] else 1)
            solver.set_flag(solv.Solver.SOLVER_FLAG_ALLOW_VENDORCHANGE, 1)
            solver.set_flag(solv.Solver.SOLVER_FLAG_FOCUS_BEST, 1)
            problems = solver.solve(jobs)
            if problems:
                res = {"name": rq["name"], "ok": False, "problems": [str(p) for p in problems]}
                break
            trans = solver.transaction()
            new = [s for s in trans.newsolvables()]
            prev_ids = set(s.id for s in prev)
            added = [s for s in new if s.id not in prev_ids]
            res["transactions"].append(sorted(nevra(s) for s in added))
            prev = new
        out.append(res)
    json.dump(out, sys.stdout, indent=1)


main()
