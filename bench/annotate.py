"""Annotate throughput and memory on a generated VCF, as ratios to baselines run in the same
benchmark: plain cyvcf2 iteration and `bcftools view` of the same file. Written output (VCF.gz,
its index and variants.tsv) is included. Measured with `--threads 1` on one CPU (the command and
the htslib process writing its VCF.gz pinned to the same CPU, as is the cyvcf2 loop), and with
`--threads` set to the number of cores, unpinned; the bytes are the same.

The machine's speed drifts by a third from minute to minute (a shared host), so each measure is
taken in ROUNDS interleaved rounds and the fastest counts, as `timeit` reports; every round's
ratios are listed too.

    python bench/annotate.py [records]        # default 1,000,000
"""

from __future__ import annotations

import filecmp
import os
import shutil
import sys

from common import OUT, measured, save
from make_vcf import make, make_mutect2

CYVCF2_LOOP = """
import sys
from cyvcf2 import VCF
n = 0
for v in VCF(sys.argv[1]):
    n += 1
print(n)
"""


def annotate(vcf: str, tag: str, threads: int = 1) -> dict[str, float]:
    return measured([sys.executable, "-m", "pgx.cli", "annotate", "--vcf", vcf, "--build", "GRCh38",
                     "--threads", str(threads),
                     "--output-vcf", str(OUT / f"annotated-{tag}.vcf.gz"), "--output-tsv", str(OUT / f"variants-{tag}.tsv")],
                    one_cpu=threads == 1)


ROUNDS = 5


def main() -> None:
    records = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    OUT.mkdir(parents=True, exist_ok=True)
    vcf = str(make(OUT / f"synthetic-{records}.vcf.gz", records))
    small = str(make(OUT / f"synthetic-{records // 5}.vcf.gz", records // 5, seed=11))
    bcftools = shutil.which("bcftools")
    cores = os.cpu_count() or 1
    rounds = []
    for _ in range(ROUNDS):
        rounds.append({
            "cyvcf2": measured([sys.executable, "-c", CYVCF2_LOOP, vcf], one_cpu=True),
            "view": measured([bcftools, "view", "-Ou", "-o", "/dev/null", vcf]) if bcftools else None,
            "ours": annotate(vcf, "large"),
            "threaded": annotate(vcf, "large-threads", threads=cores),
        })
    fastest = {key: min((r[key] for r in rounds), key=lambda m: m["elapsed_s"]) if rounds[0][key] else None
               for key in rounds[0]}
    cyvcf2, view, ours, threaded = (fastest[k] for k in ("cyvcf2", "view", "ours", "threaded"))
    ours_small = annotate(small, "small")
    same = all(filecmp.cmp(OUT / f"{name}-large{suffix}", OUT / f"{name}-large-threads{suffix}", shallow=False)
               for name, suffix in (("annotated", ".vcf.gz"), ("annotated", ".vcf.gz.tbi"), ("variants", ".tsv")))
    result = {
        "records": records,
        "rounds": ROUNDS,
        "pgx_annotate_s": ours["elapsed_s"], "pgx_records_per_s": round(records / ours["elapsed_s"]),
        "pgx_peak_rss_mb": max(r["ours"]["peak_rss_mb"] for r in rounds),
        "cyvcf2_loop_s": cyvcf2["elapsed_s"], "cyvcf2_records_per_s": round(records / cyvcf2["elapsed_s"]),
        "ratio_to_cyvcf2": round(cyvcf2["elapsed_s"] / ours["elapsed_s"], 3),
        f"pgx_annotate_{cores}_threads_s": threaded["elapsed_s"],
        f"ratio_to_cyvcf2_{cores}_threads": round(cyvcf2["elapsed_s"] / threaded["elapsed_s"], 3),
        "ratios_each_round": [
            f"{r['cyvcf2']['elapsed_s'] / r['ours']['elapsed_s']:.3f} / "
            f"{r['cyvcf2']['elapsed_s'] / r['threaded']['elapsed_s']:.3f} ({cores} threads)" for r in rounds],
        "threads_output_identical": same,
        "memory": {f"{records // 5}_records_mb": ours_small["peak_rss_mb"], f"{records}_records_mb": max(r["ours"]["peak_rss_mb"] for r in rounds),
                   f"{records}_records_{cores}_threads_largest_process_mb":
                       max(r["threaded"]["peak_rss_mb"] for r in rounds)},
        "command": f"python bench/annotate.py {records}",
    }
    result["mutect2_like"] = _mutect2_like(records // 5, cores)
    if view:
        result |= {"bcftools_view_s": view["elapsed_s"], "bcftools_records_per_s": round(records / view["elapsed_s"]),
                   "ratio_to_bcftools_view": round(view["elapsed_s"] / ours["elapsed_s"], 3),
                   f"ratio_to_bcftools_view_{cores}_threads": round(view["elapsed_s"] / threaded["elapsed_s"], 3)}
    save("annotate", result)


def _mutect2_like(records: int, cores: int) -> dict[str, object]:
    """The same ratios on a tumor/normal file as Mutect2 writes it (filters, 10% indels, 3%
    multi-allelic, its INFO and FORMAT fields), where fewer records take the columnar lane."""
    vcf = str(make_mutect2(OUT / f"mutect2-{records}.vcf.gz", records))
    rounds = [{"cyvcf2": measured([sys.executable, "-c", CYVCF2_LOOP, vcf], one_cpu=True),
               "ours": annotate(vcf, "mutect2"), "threaded": annotate(vcf, "mutect2-threads", threads=cores)}
              for _ in range(3)]
    cyvcf2, ours, threaded = (min((r[k] for r in rounds), key=lambda m: m["elapsed_s"])
                              for k in ("cyvcf2", "ours", "threaded"))
    return {"records": records, "cyvcf2_loop_s": cyvcf2["elapsed_s"], "pgx_annotate_s": ours["elapsed_s"],
            "ratio_to_cyvcf2": round(cyvcf2["elapsed_s"] / ours["elapsed_s"], 3),
            f"ratio_to_cyvcf2_{cores}_threads": round(cyvcf2["elapsed_s"] / threaded["elapsed_s"], 3),
            "pgx_peak_rss_mb": ours["peak_rss_mb"]}


if __name__ == "__main__":
    main()
