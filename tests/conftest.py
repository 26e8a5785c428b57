from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESOURCES = ROOT / "resources"
DEMO = ROOT / "demo"
SHARED = Path(os.environ.get("PGX_SHARED_DATA", ROOT.parent / "shared" / "data"))

needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"public data folder {SHARED} is absent (it sits beside the checkout in CI)"
)

GRCH38_HEADER = """##fileformat=VCFv4.2
##contig=<ID=chr1,length=248956422>
##contig=<ID=chr2,length=242193529>
##contig=<ID=chr7,length=159345973>
##contig=<ID=chr12,length=133275309>
##contig=<ID=chr17,length=83257441>
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">
##INFO=<ID=TVAF,Number=1,Type=Float,Description="Tumor VAF">
##INFO=<ID=TDP,Number=1,Type=Integer,Description="Tumor depth">
"""


def write_vcf(path: Path, records: list[str], samples: tuple[str, ...] = ("TUMOR",),
              header: str = GRCH38_HEADER, extra_header: str = "") -> Path:
    columns = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
    if samples:
        columns += ["FORMAT", *samples]
    text = header + extra_header + "\t".join(columns) + "\n"
    text += "".join("\t".join(r.split()) + "\n" for r in records)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def resources() -> Path:
    return RESOURCES
