"""Runs every multi-seed reproduction of the four papers with one command.

    python benchmarks/reproduce_all.py --seeds 3                      # the fast set (ml-latest-small + synthetic)
    python benchmarks/reproduce_all.py --seeds 3 --large --jobs 2     # + APR on Video/Gowalla, SAO on Video, Table 3
    python benchmarks/reproduce_all.py --seeds 3 --large --dry-run    # print the plan and the measured costs

Every step is one process of a script of this folder with one engine thread, and writes its JSON
to ``benchmarks/results/``. Steps that do not depend on each other run ``--jobs`` at a time (one
per core is the most efficient use of the machine: the engines scale well, but one thread per
process leaves no synchronisation and no idle core while a process evaluates in Python), longest
first; a merge step ("combine") starts when every seed it merges has finished. Each step's own
command is printed, so any single cell can be rerun alone.

The fast set:

1. ``repro_apr.py --datasets ml-latest-small`` — APR/AMF vs continued MF-BPR, eps on validation;
2. ``repro_amr.py`` — AMR vs VBPR (eq. 4) on ml-latest-small, eps on validation, with AMR Table 2's
   other rows (ItemPop, MF-eALS, DUIF);
3. ``amr_synthetic.py`` — the controlled AMR experiment (feature noise 0, 1, 2, 4).

``--large`` adds, one step per seed, then a merge per experiment:

4. APR on Video and on Gowalla (``repro_apr.py``, the paper's eps 0.5; epochs on validation);
5. SAO on Video (``repro_sao.py --validate --robustness``: SASRec until validation stops
   improving, continued SASRec vs ASASRec in both perturbation modes, eps on validation, attacks),
   and per seed the SASRec refit on all of Video.train (``--refit``);
6. APR Table 3 with every row on Video and Gowalla (``repro_table3.py``).

``MEASURED_CPU_SECONDS`` holds each step's CPU time from the runs behind the README (one engine
thread unless noted); ``--dry-run`` prints the plan with them and the wall time a perfect
``--jobs``-way schedule would need, which is the number to compare with the 60-minute goal.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List

from _common import write_result
from _repro import Clock

HERE = Path(__file__).resolve().parent

# CPU seconds per step as measured for the README's tables (see each result JSON's "time").
# Keys are step names without the seed suffix. Used for ordering (longest first) and --dry-run.
MEASURED_CPU_SECONDS = {
    "apr_ml-latest-small": 156, "amr_ml-latest-small": 296, "amr_synthetic": 141,
    "apr_video": 180, "apr_gowalla": 545, "sao_video": 2950, "sao_refit": 660,
    "table3_video": 1000, "table3_gowalla": 2110,
}


@dataclass
class Step:
    name: str
    argv: List[str]
    group: str                        # key of MEASURED_CPU_SECONDS
    after: List[str] = field(default_factory=list)
    seeded: bool = True               # a per-seed step, or a merge (cheap)

    def command(self) -> str:
        return " ".join(["python", "benchmarks/" + self.argv[0], *self.argv[1:]])

    def cost(self) -> float:
        return MEASURED_CPU_SECONDS.get(self.group, 60) if self.seeded else 1.0


def plan(seeds: int, large: bool, quick: bool) -> List[Step]:
    q = ["--quick"] if quick else []
    one = ["--threads", "1"]
    n = ["--seeds", str(seeds)]
    steps = [
        Step("apr_ml-latest-small", ["repro_apr.py", "--datasets", "ml-latest-small", *n, *one, *q],
             "apr_ml-latest-small"),
        Step("amr_ml-latest-small", ["repro_amr.py", "--max-tags", "100", "--eps-grid", "0.1,1.0",
                                     "--cadence", "5,3,300,100,100", *n, *one, *q], "amr_ml-latest-small"),
        Step("amr_synthetic", ["amr_synthetic.py", *n, *one, *q], "amr_synthetic"),
    ]
    if not large:
        return steps
    for dataset in ("video", "gowalla"):
        tags = [f"{dataset}_s{s}" for s in range(seeds)]
        for s, tag in zip(range(seeds), tags):
            steps.append(Step(f"apr_{tag}", ["repro_apr.py", "--datasets", dataset, "--seed0", str(s), "--seeds", "1",
                                             "--eps-grid", "0.5", "--no-test-curve", "--val-users", "5000",
                                             "--tag", tag, *one, *q], f"apr_{dataset}"))
        if not quick:  # --quick runs write *_quick_* files, which the merges do not read
            steps.append(Step(f"apr_{dataset}", ["repro_apr.py", "--combine", ",".join(tags), "--tag", dataset],
                              f"apr_{dataset}", after=[f"apr_{t}" for t in tags], seeded=False))
    for s in range(seeds):
        steps.append(Step(f"sao_video_s{s}", ["repro_sao.py", "--validate", "--robustness", "--seed", str(s),
                                              *one, *q], "sao_video"))
    if not quick:
        steps.append(Step("sao_video", ["repro_sao.py", "--combine", ",".join(map(str, range(seeds)))],
                          "sao_video", after=[f"sao_video_s{s}" for s in range(seeds)], seeded=False))
        # SASRec refit on all of Video.train at the epochs each seed's validation chose (the account
        # of SASRec's gap to Table 2); it reads that seed's result file.
        for s in range(seeds):
            steps.append(Step(f"sao_refit_s{s}", ["repro_sao.py", "--refit", "--seed", str(s), *one], "sao_refit",
                              after=[f"sao_video_s{s}"]))
    table3 = []
    for dataset in ("video", "gowalla"):
        for s in range(seeds):
            table3.append(f"table3_{dataset}_s{s}")
            steps.append(Step(table3[-1], ["repro_table3.py", "--dataset", dataset, "--seeds", str(s), *one, *q],
                              f"table3_{dataset}"))
    if not quick:
        steps.append(Step("table3", ["repro_table3.py", "--summarise"], "table3", after=table3, seeded=False))
    return steps


def run(steps: List[Step], jobs: int) -> dict:
    """Runs the steps ``jobs`` at a time, longest first among those whose dependencies finished;
    a failed step fails its dependants (they are not started) but not the others."""
    pending = sorted(steps, key=lambda st: -st.cost())
    running, report = {}, {}
    while pending or running:
        done = {name for name, r in report.items() if r["returncode"] == 0}
        failed = {name for name, r in report.items() if r["returncode"] != 0}
        for st in [st for st in pending if set(st.after) & failed]:
            pending.remove(st)
            report[st.name] = {"command": st.command(), "returncode": None, "skipped": "a dependency failed"}
        ready = [st for st in pending if set(st.after) <= done]
        while ready and len(running) < jobs:
            st = ready.pop(0)
            pending.remove(st)
            print(f"== start {st.name}: {st.command()}", flush=True)
            running[st.name] = (st, Clock(), subprocess.Popen([sys.executable, *st.argv], cwd=HERE))
        if not running:
            if pending:  # only steps waiting on a failed or missing dependency remain
                for st in pending:
                    report[st.name] = {"command": st.command(), "returncode": None, "skipped": "unmet dependency"}
                pending.clear()
            break
        time.sleep(0.5)
        for name, (st, clock, proc) in list(running.items()):
            # wait4 reports this child's own CPU time, exact however many steps run at once
            # (RUSAGE_CHILDREN would mix in every child reaped meanwhile).
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == 0:
                continue
            proc.returncode = os.waitstatus_to_exitcode(status)
            del running[name]
            report[name] = {"command": st.command(), "returncode": proc.returncode, **clock.report(),
                            "cpu_seconds": usage.ru_utime + usage.ru_stime}
            print(f"== done {name}: exit {proc.returncode}, {report[name]['wall_seconds']:.0f} s wall", flush=True)
    return report


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2, help="steps run at once (one engine thread each)")
    ap.add_argument("--large", action="store_true", help="also Video and Gowalla (APR, SAO, Table 3)")
    ap.add_argument("--quick", action="store_true", help="a few epochs per stage, to check the pipeline")
    ap.add_argument("--dry-run", action="store_true", help="print the plan and its measured cost, run nothing")
    ap.add_argument("--only", default="", help="comma list of step names to run, a trailing * for a prefix (e.g. "
                    "'sao_video_s*,apr_gowalla'); dependencies outside the selection are taken as done")
    ap.add_argument("--tag", default="", help="suffix of the report file (results/reproduce_all_<tag>.json)")
    args = ap.parse_args()
    if args.jobs < 1:
        ap.error("--jobs must be >= 1")
    steps = plan(args.seeds, args.large, args.quick)
    if args.only:
        wanted = args.only.split(",")
        steps = [st for st in steps
                 if any(st.name.startswith(w[:-1]) if w.endswith("*") else st.name == w for w in wanted)]
        if not steps:
            ap.error(f"--only {args.only!r} selects no step; --dry-run lists them")
        chosen = {st.name for st in steps}
        for st in steps:
            st.after = [a for a in st.after if a in chosen]
    if args.dry_run:
        total = sum(st.cost() for st in steps)
        longest = max(st.cost() for st in steps)
        for st in sorted(steps, key=lambda st: -st.cost()):
            print(f"{st.cost():7.0f} CPU-s  {st.command()}" + (f"   (after {', '.join(st.after)})" if st.after else ""))
        print(f"total {total / 60:.0f} CPU-minutes; on {args.jobs} cores at best "
              f"{max(total / args.jobs, longest) / 60:.0f} minutes wall")
        return
    clock = Clock()
    report = run(steps, args.jobs)
    write_result("reproduce_all" + ("_quick" if args.quick else "") + (f"_{args.tag}" if args.tag else ""),
                 {"args": vars(args), "steps": report, "time": clock.report(),
                  "finished": time.strftime("%Y-%m-%d %H:%M:%S")})
    if any(r["returncode"] != 0 for r in report.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
