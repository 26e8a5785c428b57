"""Seeded fuzzing of every file pgx reads: the demo's VCFs, a variants table, copy-number and
fusion tables, a user knowledge base, a QC JSON, run settings, report.json and a sample sheet,
each damaged a few dozen ways (cut short, lines lost, doubled or swapped, bytes changed, cells
replaced by hostile values) and handed to every command that reads it.

Every run must end with exit 0, or with a non-zero exit and exactly one `pgx: error:` line;
never a traceback, never pgx's own "unexpected failure" (a bug the fuzzing found), never an
output left behind by a failed run."""

from __future__ import annotations

import contextlib
import io
import random
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import DEMO, ROOT, write_user_kb

from pgx.cli import main

SEED = 20261127
HOSTILE = [
    "", ".", "-1", "0", "NaN", "inf", "1e999", "99999999999999999999", "A,,T", "<DEL>", "N", "*",
    "0/7", "./1", "1|", "2/2", "=HYPERLINK(\"http://evil\")", "@SUM(A1)", "\u202egnp.exe", "javascript:alert(1)",
    "\ud7ff", "a" * 5000, ";;;", "AD=1,2", "chr7", "GT:AD", "0,0", "-5,3", "LUAD", "XYZ", "true",
]

pytestmark = pytest.mark.slow


def damaged(data: bytes, rng: random.Random) -> bytes:
    """One seeded damage to a text file."""
    lines = data.splitlines(keepends=True)
    body = [i for i, line in enumerate(lines) if not line.startswith(b"##")] or [0]
    kind = rng.randrange(9)
    if kind == 0:  # cut anywhere
        return data[: rng.randrange(1, max(2, len(data)))]
    if kind == 1:  # a line lost
        del lines[rng.choice(body)]
    elif kind == 2:  # a line doubled
        i = rng.choice(body)
        lines.insert(i, lines[i])
    elif kind == 3:  # two lines swapped
        i, j = rng.choice(body), rng.choice(body)
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == 4:  # a byte changed (not UTF-8, a tab, a line break, a NUL)
        position = rng.randrange(len(data))
        return data[:position] + bytes([rng.choice([0xFF, 0x00, 0x09, 0x0A, 0xC3, 0x2C, 0x3A])]) + data[position + 1:]
    elif kind in (5, 6, 7):  # a cell replaced by a hostile value
        i = rng.choice(body)
        cells = lines[i].rstrip(b"\n").split(b"\t")
        cells[rng.randrange(len(cells))] = rng.choice(HOSTILE).encode("utf-8", "surrogatepass")
        lines[i] = b"\t".join(cells) + b"\n"
    else:  # a cell more or fewer
        i = rng.choice(body)
        cells = lines[i].rstrip(b"\n").split(b"\t")
        cells = cells[:-1] if rng.random() < 0.5 and len(cells) > 1 else [*cells, b"extra"]
        lines[i] = b"\t".join(cells) + b"\n"
    return b"".join(lines)


def run(argv: list[str]) -> tuple[int, list[str]]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, [line for line in err.getvalue().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Good inputs the damage starts from: the demo's, and what pgx makes of them."""
    base = tmp_path_factory.mktemp("good")
    tumor, germline = DEMO / "CRC-01.tumor.vcf", DEMO / "CRC-01.germline.vcf"
    assert run(["annotate", "--vcf", str(tumor), "--build", "GRCh38", "--output-vcf", str(base / "a.vcf.gz"),
                "--output-tsv", str(base / "variants.tsv"), "--output-qc", str(base / "qc.json")])[0] == 0
    assert run(["match", "--variants", str(base / "variants.tsv"), "--tumor-type", "COAD", "--build", "GRCh38",
                "--output", str(base / "matches.tsv")])[0] == 0
    assert run(["diplotypes", "--vcf", str(germline), "--output", str(base / "pgx.tsv"),
                "--output-guidance", str(base / "guidance.tsv")])[0] == 0
    assert run(["report", "--patient", "CRC-01", "--tumor-type", "COAD", "--build", "GRCh38",
                "--variants", str(base / "variants.tsv"), "--matches", str(base / "matches.tsv"),
                "--pharmacogenes", str(base / "pgx.tsv"), "--guidance", str(base / "guidance.tsv"),
                "--output-json", str(base / "report.json"), "--output-html", str(base / "report.html")])[0] == 0
    (base / "cna.tsv").write_text("gene\tcall\texons\nERBB2\tamplification\t\nEGFR\tdeletion\t2-7\nCDKN2A\tdeletion\t\n")
    (base / "fusions.tsv").write_text("gene_5\tgene_3\texon_5\texon_3\nEML4\tALK\t13\t20\nEGFR\tEGFR\t1\t8\n")
    write_user_kb(base / "lab", "KRAS", "G12D", "Colon adenocarcinoma", "DOID:234")
    (base / "samples.tsv").write_text((ROOT / "config/samples.tsv").read_text().replace("demo/", str(ROOT / "demo") + "/"))
    return {"tumor": tumor, "germline": germline, **{p.stem if p.is_file() else p.name: p for p in base.iterdir()}}


# Each input: how many damaged copies, and the commands that read it ({in}: the damaged copy,
# {out}: a folder that must stay empty when the command fails).
Command = Callable[[dict[str, Path], Path, Path], list[str]]
READERS: dict[str, tuple[str, int, list[Command]]] = {
    "tumor VCF": ("tumor", 40, [
        lambda g, i, o: ["validate", "--vcf", str(i), "--build", "GRCh38", "--output", str(o / "ok.txt")],
        lambda g, i, o: ["annotate", "--vcf", str(i), "--build", "GRCh38", "--output-vcf", str(o / "a.vcf.gz"),
                         "--output-tsv", str(o / "v.tsv"), "--output-qc", str(o / "qc.json")],
        lambda g, i, o: ["match", "--vcf", str(i), "--build", "GRCh38", "--tumor-type", "COAD",
                         "--output", str(o / "m.tsv")],
    ]),
    "germline VCF": ("germline", 30, [
        lambda g, i, o: ["validate", "--role", "germline", "--vcf", str(i), "--build", "GRCh38",
                         "--output", str(o / "ok.txt")],
        lambda g, i, o: ["diplotypes", "--vcf", str(i), "--gene", "DPYD", "--gene", "CYP2C19", "--gene", "TPMT",
                         "--output", str(o / "d.tsv"), "--output-guidance", str(o / "g.tsv")],
        lambda g, i, o: ["germline", "--vcf", str(i), "--build", "GRCh38", "--tumor-type", "COAD",
                         "--output", str(o / "m.tsv")],
    ]),
    "variants table": ("variants", 40, [
        lambda g, i, o: ["match", "--variants", str(i), "--build", "GRCh38", "--tumor-type", "COAD",
                         "--output", str(o / "m.tsv")],
        lambda g, i, o: ["report", "--patient", "P", "--tumor-type", "COAD", "--build", "GRCh38",
                         "--variants", str(i), "--matches", str(g["matches"]), "--output-json", str(o / "r.json"),
                         "--output-html", str(o / "r.html")],
    ]),
    "matches table": ("matches", 25, [
        lambda g, i, o: ["report", "--patient", "P", "--tumor-type", "COAD", "--build", "GRCh38",
                         "--variants", str(g["variants"]), "--matches", str(i), "--output-json", str(o / "r.json"),
                         "--output-html", str(o / "r.html"), "--output-matches", str(o / "final.tsv")],
    ]),
    "copy-number table": ("cna", 25, [
        lambda g, i, o: ["match", "--variants", str(g["variants"]), "--cna", str(i), "--build", "GRCh38",
                         "--tumor-type", "COAD", "--output", str(o / "m.tsv")],
    ]),
    "fusion table": ("fusions", 25, [
        lambda g, i, o: ["match", "--variants", str(g["variants"]), "--fusions", str(i), "--build", "GRCh38",
                         "--tumor-type", "LUAD", "--output", str(o / "m.tsv")],
    ]),
    "QC JSON": ("qc", 15, [
        lambda g, i, o: ["report", "--patient", "P", "--tumor-type", "COAD", "--build", "GRCh38",
                         "--variants", str(g["variants"]), "--qc", str(i), "--output-json", str(o / "r.json"),
                         "--output-html", str(o / "r.html")],
    ]),
    "report.json": ("report", 30, [
        lambda g, i, o: ["cohort", "--reports", str(i), "--output-tsv", str(o / "c.tsv"), "--output-html", str(o / "c.html")],
    ]),
    "sample sheet": ("samples", 30, [lambda g, i, o: ["samples", str(i)]]),
}


def _check(argv: list[str], out: Path, problems: list[str], outcomes: Counter[str]) -> int:
    code, lines = run(argv)
    said = " | ".join(lines)[:400]
    if any("Traceback" in line or "unexpected failure" in line for line in lines):
        problems.append(f"{argv[0]}: {said}")
    if code == 0:
        outcomes["read"] += 1
    else:
        outcomes["refused"] += 1
        errors = [line for line in lines if line.startswith("pgx: error: ")]
        if len(errors) != 1:
            problems.append(f"{argv[0]} exit {code} without exactly one error line: {said}")
        left = sorted(p.name for p in out.iterdir())
        if left:
            problems.append(f"{argv[0]} failed but left {left}: {said}")
    for p in out.iterdir():
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    return code


@pytest.mark.parametrize("input_name", list(READERS))
def test_damaged_input_is_read_whole_or_refused_in_one_line(input_name: str, made: dict[str, Path],
                                                            tmp_path: Path) -> None:
    key, copies, commands = READERS[input_name]
    good = made[key]
    rng = random.Random(f"{SEED}:{input_name}")
    out = tmp_path / "out"
    out.mkdir()
    problems: list[str] = []
    outcomes: Counter[str] = Counter()
    for n in range(copies):
        broken = tmp_path / f"{n}{good.suffix}"
        broken.write_bytes(damaged(good.read_bytes(), rng))
        codes = [_check(command(made, broken, out), out, problems, outcomes) for command in commands]
        # `pgx validate` is the gate: what it accepts, no later step may refuse.
        if commands[0](made, broken, out)[0] == "validate" and codes[0] == 0 and any(codes[1:]):
            problems.append(f"copy {n}: validate accepted it, a later command refused it ({codes})")
    print(f"\n{input_name}: {dict(outcomes)}")
    assert problems == [], "\n".join(problems)


def test_damaged_user_knowledge_base(made: dict[str, Path], tmp_path: Path) -> None:
    rng = random.Random(f"{SEED}:user KB")
    out = tmp_path / "out"
    out.mkdir()
    problems: list[str] = []
    outcomes: Counter[str] = Counter()
    for n in range(30):
        lab = tmp_path / f"lab{n}"
        shutil.copytree(made["lab"], lab)
        victim = lab / rng.choice(["variants.tsv", "profiles.tsv", "evidence.tsv", "source.json"])
        victim.write_bytes(damaged(victim.read_bytes(), rng))
        _check(["match", "--variants", str(made["variants"]), "--extra-kb", str(lab), "--build", "GRCh38",
                "--tumor-type", "COAD", "--output", str(out / "m.tsv")], out, problems, outcomes)
    print(f"\nuser KB: {dict(outcomes)}")
    assert problems == [], "\n".join(problems)


def test_hostile_run_settings(made: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    problems: list[str] = []
    outcomes: Counter[str] = Counter()
    for settings in ['{"min_vaf": 0.05}', "{", "[1, 2]", "null", '"text"', '{"a": "\u202e"}', "\xff"]:
        _check(["report", "--patient", "P", "--tumor-type", "COAD", "--build", "GRCh38",
                "--variants", str(made["variants"]), "--settings", settings, "--output-json", str(out / "r.json"),
                "--output-html", str(out / "r.html")], out, problems, outcomes)
    assert problems == [], "\n".join(problems)
    assert outcomes == {"read": 2, "refused": 5}
