"""Germline genotypes → star-allele diplotypes → phenotypes → CPIC/DPWG recommendations.

The matcher follows PharmCAT's rules: only definition positions are read (GRCh38); a position
absent from the VCF is missing, not reference (unless asked); phased strands are matched one by
one when every heterozygous call shares one phase set; otherwise every diplotype consistent with
all positions is enumerated and scored by the number of defined positions, and all top-scoring
ties are returned. DPYD and RYR1 are called variant by variant, the two lowest-function ones
deciding.

Cohort mode reads each gene's positions once for all samples and calls each distinct genotype
pattern once.
"""

from __future__ import annotations

import ast
import itertools
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pgx.errors import PgxInputError, close_matches
from pgx.kb import load_table
from pgx.kb.pharmacogenes import OUTSIDE_CALL_GENES
from pgx.vcf import bare_contig, check_build, checked_records, has_index, open_vcf

IUPAC = {
    "R": "AG", "Y": "CT", "S": "GC", "W": "AT", "K": "GT", "M": "AC",
    "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG", "N": "ACGT",
}
# PharmCAT treats an undocumented ALT as reference in these genes so that toxicity
# recommendations still fire; elsewhere it stops the call.
TOXICITY_GENES = frozenset({"CACNA1S", "DPYD", "G6PD", "NUDT15", "RYR1", "TPMT"})
ACTIVITY_SCORE_GENES = frozenset({"CYP2C9", "DPYD", "CYP2D6"})

# Drugs of cancer care with CPIC/DPWG guidance: shown first and in the key findings even when
# matching did not propose them (chemotherapy backbones and supportive care).
ONCOLOGY_DRUGS = frozenset({
    "capecitabine", "fluorouracil", "tegafur", "mercaptopurine", "azathioprine", "thioguanine",
    "irinotecan", "tamoxifen", "rasburicase", "ondansetron", "tropisetron", "voriconazole",
    "belinostat", "nilotinib", "pazopanib", "sacituzumab govitecan",
})

CALL_COLUMNS = [
    "sample", "gene", "diplotype", "phenotype", "activity_score", "lookup_key", "status",
    "missing_positions", "positions_tested", "missing_detail", "assumed_reference", "phased",
    "source", "notes", "definition_version",
]
GUIDANCE_COLUMNS = [
    "sample", "drug", "genes", "lookup_key", "source", "classification", "population",
    "recommendation", "proposed_by_matching", "oncology_drug", "caution", "data_version",
]


@dataclass(frozen=True, slots=True)
class Position:
    chrom: str
    pos: int
    rsid: str
    ref: str
    alts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NamedAllele:
    name: str
    is_reference: bool
    defined: dict[int, frozenset[str]]  # position → alleles this allele accepts


@dataclass(slots=True)
class GeneDefinition:
    gene: str
    chrom: str
    positions: list[Position]
    alleles: list[NamedAllele]
    version: str
    required: frozenset[int] = frozenset()  # positions without which the gene is not called
    # Unphased candidate sets PharmCAT resolves to one diplotype: (candidates, pick), in order.
    priorities: list[tuple[frozenset[str], str]] = field(default_factory=list)

    @property
    def reference(self) -> NamedAllele:
        return next(a for a in self.alleles if a.is_reference)


@dataclass(slots=True)
class Phenotypes:
    functions: dict[tuple[str, str], tuple[str, str]]
    diplotypes: dict[tuple[str, str, str], tuple[str, str, str]]
    genes: frozenset[str] = frozenset()  # genes the source gives phenotypes for


@dataclass(slots=True)
class Call:
    sample: str
    gene: str
    diplotype: str = ""
    phenotype: str = ""
    activity_score: str = ""
    lookup_key: str = ""
    status: str = "not_called"
    missing: list[Position] = field(default_factory=list)
    tested: int = 0
    assumed_reference: bool = False
    phased: bool = False
    source: str = "vcf"
    notes: list[str] = field(default_factory=list)
    version: str = ""
    # Several outside calls for one gene (PharmCAT's multi-call): each one's own result; the
    # guidance for every one of them is shown.
    alternatives: list[Call] = field(default_factory=list)

    def as_row(self) -> dict[str, object]:
        return {
            "sample": self.sample, "gene": self.gene, "diplotype": self.diplotype,
            "phenotype": self.phenotype, "activity_score": self.activity_score,
            "lookup_key": self.lookup_key, "status": self.status,
            "missing_positions": len(self.missing), "positions_tested": self.tested,
            "missing_detail": ",".join(p.rsid or f"{p.chrom}:{p.pos}" for p in self.missing),
            "assumed_reference": self.assumed_reference, "phased": self.phased,
            "source": self.source, "notes": "; ".join(self.notes),
            "definition_version": self.version,
        }


def _accepts(allele: str) -> frozenset[str]:
    if len(allele) == 1 and allele in IUPAC:
        return frozenset(IUPAC[allele])
    return frozenset({allele})


def load_definitions(resources: Path) -> dict[str, GeneDefinition]:
    genes: dict[str, GeneDefinition] = {}
    for r in load_table(resources, "pgx/positions.tsv"):
        gene = genes.setdefault(r["gene"], GeneDefinition(r["gene"], r["chrom"], [], [], r["definition_version"]))
        gene.positions.append(Position(r["chrom"], int(r["position"]), r["rsid"], r["ref"],
                                       tuple(a for a in r["alts"].split(",") if a)))
    for r in load_table(resources, "pgx/alleles.tsv"):
        defined = {}
        for part in r["definition"].split(";"):
            if part:
                pos, allele = part.split("=", 1)
                defined[int(pos)] = _accepts(allele)
        genes[r["gene"]].alleles.append(NamedAllele(r["allele"], r["is_reference"] == "true", defined))
    for r in load_table(resources, "pgx/exemptions.tsv"):
        excepted = genes.get(r["gene"])
        if excepted is None:
            continue
        if r["rule"] == "required_position":
            excepted.required = excepted.required | {int(r["value"])}
        elif r["rule"] == "unphased_priority":
            candidates, _, pick = r["value"].partition(">")
            excepted.priorities.append((frozenset(candidates.split("|")), pick))
    return genes


def load_phenotypes(resources: Path, outside_calls: bool = False) -> Phenotypes:
    """Allele functions and diplotype phenotypes; with `outside_calls`, also those of the genes
    only outside calls give (CYP2D6, MT-RNR1), kept in a table of their own."""
    functions = {(r["gene"], r["allele"]): (r["function"], r["activity_value"])
                 for r in load_table(resources, "pgx/functions.tsv")}
    tables = ["pgx/diplotypes.tsv.gz"] + (["pgx/outside_call_diplotypes.tsv.gz"] if outside_calls else [])
    diplotypes = {(r["gene"], r["allele_1"], r["allele_2"]): (r["phenotype"], r["activity_score"], r["lookup_key"])
                  for table in tables for r in load_table(resources, table)}
    return Phenotypes(functions, diplotypes, frozenset(k[0] for k in diplotypes))


HALF_CALL = "?"  # the unknown allele of a half-called genotype (./1)

# A sample's genotype at one position: its alleles (VCF spelling in the definition's frame),
# or None when missing; plus whether it was phased and its phase set.
Genotype = tuple[tuple[str, ...] | None, bool, int | None]


def _diplotype_candidates(gene: GeneDefinition, present: dict[int, tuple[str, ...]],
                          phased: bool) -> tuple[list[tuple[NamedAllele, NamedAllele | None]], str]:
    """All top-scoring diplotypes consistent with the genotypes at every present position."""
    ref = gene.reference
    usable: list[NamedAllele] = []
    for allele in gene.alleles:
        if allele.is_reference:
            usable.append(allele)
            continue
        # Missing positions are dropped from every definition (PharmCAT); an allele with no
        # defined position left cannot be called. One defined on every position (CYP2C19 *1,
        # the reference *38 but for rs3758581) stays and ties with the reference when its one
        # difference is missing (PipelineTest.testCyp2c19s1s4missingS1: *1/*4 or *4/*38).
        if any(p in present for p in allele.defined):
            usable.append(allele)

    def ok(allele: NamedAllele, pos: int, base: str) -> bool:
        accepted = allele.defined.get(pos)
        if accepted is None:
            accepted = ref.defined.get(pos)
        return accepted is None or base in accepted

    def score(allele: NamedAllele) -> int:
        return sum(1 for p in allele.defined if p in present)

    ploidy = max((len(g) for g in present.values()), default=2)
    if ploidy == 1:
        singles = [a for a in usable if all(ok(a, p, g[0]) for p, g in present.items())]
        if not singles:
            return [], "no named allele fits the haplotype"
        best = max(score(a) for a in singles)
        return [(a, None) for a in singles if score(a) == best], ""
    candidates = [a for a in usable
                  if all(any(ok(a, p, b) for b in g) for p, g in present.items())]
    pairs: list[tuple[NamedAllele, NamedAllele | None]] = []
    for a, b in itertools.combinations_with_replacement(candidates, 2):
        if phased:
            fits = all(ok(a, p, g[0]) and ok(b, p, g[1]) for p, g in present.items()) or all(
                ok(b, p, g[0]) and ok(a, p, g[1]) for p, g in present.items())
        else:
            fits = all((ok(a, p, g[0]) and ok(b, p, g[1])) or (ok(a, p, g[1]) and ok(b, p, g[0]))
                       for p, g in present.items())
        if fits:
            pairs.append((a, b))
    if not pairs:
        return [], "no pair of named alleles explains the genotypes"
    # Every consistent pair, best score first (ties in name order); callers keep the top ties.
    pairs = [(a, b) for a, b in pairs if b is not None]
    pairs.sort(key=lambda p: (-(score(p[0]) + (score(p[1]) if p[1] is not None else 0)), _name(p)))
    return pairs, ""


def _top_ties(gene: GeneDefinition, pairs: list[tuple[NamedAllele, NamedAllele | None]],
              present: dict[int, tuple[str, ...]]) -> list[tuple[NamedAllele, NamedAllele | None]]:
    def score(allele: NamedAllele | None) -> int:
        return 0 if allele is None else sum(1 for p in allele.defined if p in present)

    best = score(pairs[0][0]) + score(pairs[0][1])
    return [p for p in pairs if score(p[0]) + score(p[1]) == best]


def _name(pair: tuple[NamedAllele, NamedAllele | None]) -> str:
    a, b = pair
    if b is None:
        return a.name
    first, second = sorted((a.name, b.name), key=_allele_sort_key)
    return f"{first}/{second}"


def _allele_sort_key(name: str) -> tuple[int, int, str]:
    digits = "".join(ch for ch in name.lstrip("*").split(".")[0] if ch.isdigit())
    if name.startswith("*") and digits:
        return (0, int(digits), name)
    return (0 if "Reference" in name or "reference" in name else 1, 0, name)


def call_gene(gene: GeneDefinition, genotypes: dict[int, Genotype], phenotypes: Phenotypes,
              sample: str, missing_as_reference: bool = False) -> Call:
    call = Call(sample=sample, gene=gene.gene, tested=len(gene.positions), version=gene.version)
    present: dict[int, tuple[str, ...]] = {}
    phase_sets: set[int | None] = set()
    all_het_phased = True
    undocumented: list[str] = []
    half_called: list[str] = []
    for position in gene.positions:
        alleles, is_phased, phase_set = genotypes.get(position.pos, (None, False, None))
        if alleles is None:
            call.missing.append(position)  # absent from the VCF, filled in or not
            if missing_as_reference:
                present[position.pos] = (position.ref, position.ref)
                call.assumed_reference = True
            continue
        if HALF_CALL in alleles:
            seen = [a for a in alleles if a != HALF_CALL]
            if all(a == position.ref for a in seen):  # ./0 says nothing: missing (PharmCAT)
                call.missing.append(position)
                continue
            if gene.gene not in LOWEST_FUNCTION_GENES:
                half_called.append(position.rsid or str(position.pos))
                continue
            # DPYD and RYR1 count variants one by one: the known variant allele counts; the
            # unknown one is missing on its chromosome (phased) or read as reference (unphased),
            # and the call says it may understate the risk.
            call.notes.append(f"uncertain: half-called genotype at {position.rsid or position.pos} "
                              "(one allele unknown; the activity may be lower)")
        known = {position.ref, *position.alts, HALF_CALL}
        if any(a not in known for a in alleles):
            if gene.gene in TOXICITY_GENES:
                alleles = tuple(a if a in known else position.ref for a in alleles)
                call.notes.append(f"undocumented allele at {position.rsid or position.pos} read as reference")
            else:
                undocumented.append(position.rsid or str(position.pos))
                continue
        present[position.pos] = alleles
        if len(set(alleles)) > 1:
            if is_phased:
                phase_sets.add(phase_set)
            else:
                all_het_phased = False
    filled = _filled(gene, genotypes)
    observed = {pos for pos in present if pos not in filled}
    observed_ploidy = {len(present[pos]) for pos in observed}
    if observed_ploidy == {1}:  # a haploid chrX call (G6PD in a male): fill-ins follow it
        present = {pos: g[:1] for pos, g in present.items()}
    elif 1 in observed_ploidy:
        present = {pos: g * 2 if len(g) == 1 else g for pos, g in present.items()}
    if call.assumed_reference and len(call.missing) == call.tested:
        # Filling gaps is not testing a gene: a VCF that never reached the gene (another build,
        # another panel) must not make every sample a reference 'Normal Metabolizer'.
        call.assumed_reference = False
        call.notes.append(f"not tested: none of the {call.tested} positions is in the VCF "
                          "(--missing-as-reference fills gaps, not whole genes)")
        return call
    if call.assumed_reference:
        call.notes.append(f"{len(call.missing)} of {call.tested} positions absent from the VCF were "
                          "taken as reference (--missing-as-reference)")
    if undocumented:
        call.status = "not_called"
        call.notes.append(f"undocumented allele at {', '.join(undocumented)}")
        return call
    if half_called:
        call.notes.append(f"not called: half-called genotype with a variant allele at {', '.join(half_called)} "
                          "(the other allele is unknown)")
        return call
    if not present:
        call.notes.append(f"not called: {len(call.missing)} of {call.tested} positions missing")
        return call
    absent = sorted(p.rsid or str(p.pos) for p in gene.positions
                    if p.pos in gene.required and p.pos not in observed)
    if absent:
        call.notes.append(f"not called: required position(s) {', '.join(absent)} missing (PharmCAT calls "
                          f"{gene.gene} only when all {len(gene.required)} are present)")
        return call
    call.phased = all_het_phased and len(phase_sets) <= 1 and any(
        len(set(g)) > 1 for g in present.values())
    if gene.gene in LOWEST_FUNCTION_GENES:
        return _call_lowest_function(gene, present, phenotypes, call)
    pairs, problem = _diplotype_candidates(gene, present, call.phased)
    if not pairs:
        call.notes.append(problem)
        return call
    picked = _priority_pick(gene, pairs, call.phased)
    if picked is not None:
        call.notes.append("unphased: candidates " + " | ".join(_name(p) for p in pairs)
                          + f" (best score first); {_name(picked)} reported, as PharmCAT's "
                          "unphased diplotype priorities pick it")
        pairs = [picked]
    else:
        pairs = _top_ties(gene, pairs, present)
    names = sorted({_core_name(_name(p), gene.gene, phenotypes) for p in pairs})
    call.diplotype = " OR ".join(_labelled(gene.gene, n) for n in names)
    call.status = "called" if len(names) == 1 else "ambiguous"
    results = {_phenotype_of(gene.gene, p, phenotypes) for p in pairs}
    if len(results) == 1:
        call.phenotype, call.activity_score, call.lookup_key = results.pop()
    else:
        call.phenotype = "Indeterminate (ambiguous: " + " | ".join(sorted({r[0] for r in results})) + ")"
    if call.missing and not call.assumed_reference:
        call.notes.append(f"{len(call.missing)} of {call.tested} positions missing; alleles defined there were not tested")
    return call


# Reference alleles PharmCAT labels 'Reference' in reports (CftrTest.outsideReferenceCall; its
# documented example: 'Reference/Reference'); lookups go by phenotype, so only the label changes.
_REFERENCE_LABELS = {"CFTR": "ivacaftor non-responsive CFTR sequence"}


def _labelled(gene: str, diplotype: str) -> str:
    reference = _REFERENCE_LABELS.get(gene)
    if reference is None:
        return diplotype
    return "/".join("Reference" if a.strip() == reference else a for a in diplotype.split("/"))


def _priority_pick(gene: GeneDefinition, pairs: list[tuple[NamedAllele, NamedAllele | None]],
                   phased: bool) -> tuple[NamedAllele, NamedAllele | None] | None:
    """PharmCAT's unphased priorities (NAT2): the first entry whose diplotypes are all among
    the candidates gives the one to report."""
    if phased or not gene.priorities or len(pairs) < 2:
        return None
    by_name = {_name(p): p for p in pairs}
    for candidates, pick in gene.priorities:
        if candidates <= by_name.keys() and pick in by_name:
            return by_name[pick]
    return None


def _filled(gene: GeneDefinition, genotypes: dict[int, Genotype]) -> set[int]:
    """Definition positions with no usable genotype in the VCF."""
    return {p.pos for p in gene.positions if genotypes.get(p.pos, (None, False, None))[0] is None}


_SUB_ALLELE = re.compile(r"^(\*\d+)\.\d+$")


def _core(allele: str, gene: str, phenotypes: Phenotypes) -> str:
    """A sub-allele the phenotype data does not name is reported as its core allele, whose
    function it shares (SLCO1B1 *45.001 and *45.002 are *45, as PharmCAT reports them)."""
    m = _SUB_ALLELE.match(allele)
    if m and (gene, allele) not in phenotypes.functions and (gene, m[1]) in phenotypes.functions:
        return m[1]
    return allele


def _core_name(diplotype: str, gene: str, phenotypes: Phenotypes) -> str:
    first, _, second = diplotype.partition("/")
    cores = [_core(first, gene, phenotypes)] + ([_core(second, gene, phenotypes)] if second else [])
    return "/".join(sorted(cores, key=_allele_sort_key))


def _phenotype_of(gene: str, pair: tuple[NamedAllele, NamedAllele | None],
                  phenotypes: Phenotypes) -> tuple[str, str, str]:
    a, b = pair
    names = sorted([_core(a.name, gene, phenotypes)] + ([_core(b.name, gene, phenotypes)] if b is not None else []))
    key = (gene, names[0], names[1] if len(names) > 1 else "")
    found = phenotypes.diplotypes.get(key)
    if found is None:
        if gene not in phenotypes.genes:
            return ("", "", "")  # the source defines no phenotype for this gene
        return ("Indeterminate", "", "")
    return found


# Genes PharmCAT calls variant by variant, the two lowest-function ones deciding (its
# LowestFunctionGeneCaller and DPYD rules): what ranks lowest, per gene.
LOWEST_FUNCTION_GENES = frozenset({"DPYD", "RYR1"})
_RYR1_RANK = {"malignant hyperthermia associated": 0.0, "normal function": 1.0}


def _call_lowest_function(gene: GeneDefinition, present: dict[int, tuple[str, ...]],
                          phenotypes: Phenotypes, call: Call) -> Call:
    """DPYD and RYR1 as PharmCAT calls them: phased (or effectively phased: at most one
    heterozygous position) data per chromosome, each chromosome's lowest-function variant
    deciding; unphased data as the list of variants found, the two lowest-function copies
    deciding. An allele contained in a larger one found on the same chromosome is not counted
    again (HapB3's intronic variant inside HapB3). DPYD ranks by activity value (their sum is
    the activity score); RYR1 by function: malignant hyperthermia associated, then normal,
    then uncertain or unknown."""
    ref = gene.reference
    if gene.gene == "DPYD":
        activity = {name: float(v) for (g, name), (_, v) in phenotypes.functions.items() if g == gene.gene and v}
    else:
        activity = {name: _RYR1_RANK.get(f.lower(), 2.0) for (g, name), (f, _) in phenotypes.functions.items()
                    if g == gene.gene}
        activity.setdefault("Reference", 1.0)
    # Alleles by their own variant positions.
    own = [(a.name, {pos: acc for pos, acc in a.defined.items() if not (ref.defined.get(pos, frozenset()) & acc)})
           for a in gene.alleles if not a.is_reference]

    def definitions(observed: set[int]) -> list[tuple[str, dict[int, frozenset[str]]]]:
        """The alleles over the observed positions, largest first (they claim shared variants
        first), an allele left whole before one that lost positions. Unobserved positions are
        dropped from every allele (PharmCAT): with HapB3's intronic variant unknown the exonic
        one stands for HapB3; with the exonic one unknown the intronic variant is its own allele."""
        kept = [(name, {pos: acc for pos, acc in positions.items() if pos in observed}, len(positions))
                for name, positions in own]
        kept.sort(key=lambda item: (-len(item[1]), item[2] - len(item[1]), _dpyd_key(item[0])))
        return [(name, positions) for name, positions, _ in kept if positions]

    variants = definitions(set(present))

    def allocate(alt_bases: dict[int, list[str]],
                 variants: list[tuple[str, dict[int, frozenset[str]]]] = variants) -> dict[str, int]:
        """Copies of each allele the variant bases make, larger alleles first; each base
        counts for one allele only."""
        remaining = {pos: list(bases) for pos, bases in alt_bases.items()}
        copies: dict[str, int] = {}
        for name, positions in variants:
            n = min(sum(1 for b in remaining.get(pos, []) if b in acc) for pos, acc in positions.items())
            if n:
                copies[name] = n
                for pos, acc in positions.items():
                    for _ in range(n):
                        remaining[pos].remove(next(b for b in remaining[pos] if b in acc))
        unexplained = [pos for pos, bases in remaining.items() if bases]
        if unexplained:
            names = ", ".join(p.rsid or str(p.pos) for p in gene.positions if p.pos in unexplained)
            call.notes.append(f"variant at {names} forms no {gene.gene} allele on its chromosome and was not "
                              "counted (e.g. DPYD's exonic c.1236G>A without the intronic c.1129-5923C>G)")
        return copies

    def alt_bases(pos: int, bases: tuple[str, ...]) -> list[str]:
        accepted = [positions[pos] for _, positions in variants if pos in positions]
        return [b for b in bases if any(b in acc for acc in accepted)]

    hets = [pos for pos, g in present.items() if len(set(g)) > 1]
    if call.phased or len(hets) <= 1:
        # Effectively phased: a single heterozygous position needs no phase.
        haplotypes = []
        for strand in (0, 1):
            # A half call's unknown allele is a missing position on its own chromosome.
            on_strand = {pos: g[strand] for pos, g in present.items() if len(g) > strand and g[strand] != HALF_CALL}
            bases = {pos: alt_bases(pos, (base,)) for pos, base in on_strand.items()}
            haplotypes.append(sorted(allocate(bases, definitions(set(on_strand))), key=_dpyd_key))
        names = sorted((_dpyd_haplotype(h) for h in haplotypes), key=_dpyd_haplotype_key)
        call.diplotype = "/".join(names)
        lowest = [min(h, key=lambda n: (activity.get(n, 1.0), _dpyd_key(n))) if h else "Reference"
                  for h in haplotypes]
    else:
        copies = allocate({pos: alt_bases(pos, g) for pos, g in present.items()})
        listed = [f"{n} (homozygous)" if copies[n] > 1 else n for n in sorted(copies, key=_dpyd_key)]
        if sum(copies.values()) == 1:
            listed.insert(0, "Reference")
        call.diplotype = " | ".join(listed) if listed else "Reference/Reference"
        found = sorted((n for n, k in copies.items() for _ in range(k)),
                       key=lambda n: (activity.get(n, 1.0), _dpyd_key(n)))
        lowest = (found + ["Reference", "Reference"])[:2]
        if len(listed) > 1:
            call.notes.append(f"unphased {gene.gene} variants: a list, not a diplotype")
    call.notes.append(f"looked up by the two lowest-function alleles: {'; '.join(lowest)}")
    call.status = "called"
    if gene.gene != "DPYD":
        first, second = sorted(lowest)
        known = phenotypes.diplotypes.get((gene.gene, first, second))
        if known is not None:
            call.phenotype, _, call.lookup_key = known
        else:  # an allele the (pre-2024) RYR1 phenotype data does not list
            call.phenotype = call.lookup_key = (
                "Malignant Hyperthermia Susceptibility" if any(activity.get(n, 2.0) == 0.0 for n in lowest)
                else "Uncertain Susceptibility")
        if call.missing and not call.assumed_reference:
            call.notes.append(f"{len(call.missing)} of {call.tested} positions missing; variants there were not tested")
        return call
    score = sum(activity.get(n, 1.0) for n in lowest)
    call.activity_score = f"{score:.1f}"
    call.lookup_key = call.activity_score
    call.phenotype = ("Normal Metabolizer" if score >= 2 else
                      "Intermediate Metabolizer" if score >= 1 else "Poor Metabolizer")
    if call.missing and not call.assumed_reference:
        call.notes.append(f"{len(call.missing)} of {call.tested} positions missing; variants there were not tested")
    return call


def _dpyd_key(name: str) -> tuple[int, int, str]:
    """PharmCAT's order of DPYD and RYR1 alleles: Reference first, then by c. position."""
    if name == "Reference":
        return (0, 0, name)
    digits = ""
    for ch in name.removeprefix("c.").lstrip("-*"):
        if not ch.isdigit():
            break
        digits += ch
    return (1, int(digits) if digits else 0, name)


def _dpyd_haplotype(alleles: list[str]) -> str:
    if not alleles:
        return "Reference"
    return alleles[0] if len(alleles) == 1 else "[" + " + ".join(alleles) + "]"


def _dpyd_haplotype_key(name: str) -> tuple[int, int, list[tuple[int, int, str]]]:
    parts = name.strip("[]").split(" + ")
    return (0 if name == "Reference" else 1, len(parts), [_dpyd_key(p) for p in parts])


def _align_allele(allele: str, sample_ref: str, def_ref: str) -> str:
    """Put a sample allele in the definition's frame when the record's REF is shorter
    (e.g. REF C/ALT CAT written for the UGT1A1 TA repeat the definition spells CAT/CATAT)."""
    if sample_ref == def_ref:
        return allele
    if def_ref.startswith(sample_ref):
        return allele + def_ref[len(sample_ref):]
    if sample_ref.startswith(def_ref) and allele.endswith(sample_ref[len(def_ref):]):
        return allele[: len(allele) - (len(sample_ref) - len(def_ref))]
    return allele


@dataclass(slots=True)
class PositionGenotypes:
    """All chosen samples at one definition position, as arrays (cohort mode)."""

    alleles: list[str]  # allele strings in the definition's frame; codes index this list
    codes: np.ndarray  # samples × 2 allele codes; -1 missing, -2 no second allele (haploid)
    phased: np.ndarray  # samples, bool
    phase_set: np.ndarray  # samples, int64; -1 when none


def read_genotypes(vcf_path: str, genes: Iterable[GeneDefinition], samples: list[str] | None,
                   build: str = "GRCh38", resources: Path | None = None,
                   ) -> tuple[list[str], dict[str, dict[int, PositionGenotypes]]]:
    """For every gene, the genotype arrays of every chosen sample at every definition position."""
    vcf = open_vcf(vcf_path, gts012=False)
    check_build(vcf, build, vcf_path)
    # Definitions are GRCh38; a GRCh37 file's records are lifted to them one by one.
    lift = _liftover(resources) if build == "GRCh37" else None
    all_samples = list(vcf.samples)
    if not all_samples:
        raise PgxInputError(vcf_path, "VCF has no sample columns: genotypes cannot be called")
    chosen = samples or all_samples
    for s in chosen:
        if s not in all_samples:
            raise PgxInputError(vcf_path, f"sample {s!r} not in the VCF (has {len(all_samples)} samples)")
    index = np.array([all_samples.index(s) for s in chosen])
    genes = list(genes)
    wanted: dict[tuple[str, int], tuple[str, Position]] = {
        (bare_contig(p.chrom), p.pos): (g.gene, p) for g in genes for p in g.positions}
    out: dict[str, dict[int, PositionGenotypes]] = {g.gene: {} for g in genes}
    indexed = has_index(vcf_path)
    contig_names = {bare_contig(c): c for c in vcf.seqnames} if indexed else {}
    records = (_region_records(vcf, vcf_path, genes, contig_names, lift) if indexed
               else (record for record, _ in checked_records(vcf, vcf_path)))
    for record in records:
        where: tuple[str, int] | None = (bare_contig(record.CHROM), record.POS)
        if lift is not None:
            where = lift.lift(record.CHROM, record.POS)
        hit = wanted.get(where) if where else None
        if hit is None:
            continue
        gene, position = hit
        framed = [_align_allele(a, record.REF, position.ref) for a in [record.REF, *record.ALT]]
        array = np.array(record.genotype.array())[index]  # copy: cyvcf2 arrays view C memory
        ploidy = array.shape[1] - 1
        codes = np.full((len(index), 2), -2, dtype=np.int64)
        codes[:, : min(ploidy, 2)] = array[:, : min(ploidy, 2)]
        codes[(codes < 0) & (codes != -2)] = -1
        codes[:, 0][codes[:, 0] == -2] = -1  # no first allele at all: missing
        phased = array[:, -1].astype(bool)
        ps = _phase_sets(record, len(all_samples))
        phase_set = np.array([ps[i] if ps is not None and ps[i] is not None else -1 for i in index],
                             dtype=np.int64) if ps is not None else np.full(len(index), -1, dtype=np.int64)
        current = PositionGenotypes(framed, codes, phased, phase_set)
        existing = out[gene].get(position.pos)
        out[gene][position.pos] = current if existing is None else _merge(existing, current, position.ref)
    return list(chosen), out


def _merge(old: PositionGenotypes, new: PositionGenotypes, ref: str) -> PositionGenotypes:
    """Split multi-allelic records at one position: per sample, keep the call that is not
    reference, re-coding the new record's alleles into one allele list."""
    alleles = list(old.alleles)
    remap = []
    for allele in new.alleles:
        if allele not in alleles:
            alleles.append(allele)
        remap.append(alleles.index(allele))
    lookup = np.array(remap, dtype=np.int64)
    recoded = np.where(new.codes >= 0, lookup[np.clip(new.codes, 0, None)], new.codes)
    ref_code = alleles.index(ref) if ref in alleles else 0
    takes_new = ((recoded >= 0) & (recoded != ref_code)).any(axis=1)
    codes = np.where(takes_new[:, None], recoded, old.codes)
    return PositionGenotypes(alleles, codes, np.where(takes_new, new.phased, old.phased),
                             np.where(takes_new, new.phase_set, old.phase_set))


def _genotypes_of_row(positions: list[int], by_pos: dict[int, PositionGenotypes],
                      row: np.ndarray) -> dict[int, Genotype]:
    """One distinct genotype pattern (codes, phase flags, phase sets) back to per-position calls."""
    out: dict[int, Genotype] = {}
    n = len(positions)
    for k, pos in enumerate(positions):
        a, b = int(row[2 * k]), int(row[2 * k + 1])
        phased, phase_set = bool(row[2 * n + k]), int(row[3 * n + k])
        alleles = by_pos[pos].alleles
        if a < 0 and b < 0:
            out[pos] = (None, False, None)  # missing
            continue
        if a < 0 or b == -1:
            # A half call (./1): the known allele, and HALF_CALL for the unknown one.
            half: tuple[str, ...] = (alleles[a] if a >= 0 else HALF_CALL, alleles[b] if b >= 0 else HALF_CALL)
            out[pos] = (half, phased, phase_set if phase_set >= 0 else None)
            continue
        called = (alleles[a],) if b == -2 else (alleles[a], alleles[b])
        out[pos] = (called, phased, phase_set if phase_set >= 0 else None)
    return out


def _phase_sets(record: Any, n: int) -> list[int | None] | None:
    try:
        ps = record.format("PS")
    except Exception:
        return None
    if ps is None:
        return None
    return [int(x[0]) if x[0] >= 0 else None for x in ps]


def _liftover(resources: Path | None) -> Any:
    from pgx.kb import default_resources
    from pgx.liftover import LiftOver

    return LiftOver.load((resources or default_resources()) / "liftover/GRCh37_to_GRCh38.tsv.gz")


def _region_records(vcf: Any, path: str, genes: list[GeneDefinition], contigs: dict[str, str],
                    lift: Any = None) -> Iterable[Any]:
    seen: set[tuple[str, int, str, str]] = set()
    for gene in genes:
        lo = min(p.pos for p in gene.positions)
        hi = max(p.pos for p in gene.positions)
        name = gene.chrom
        if lift is not None:  # where the GRCh38 span lies in a GRCh37 file
            span = lift.source_interval(gene.chrom, lo, hi)
            if span is None:
                continue
            name, lo, hi = span
        chrom = contigs.get(bare_contig(name))
        if chrom is None:
            continue
        with warnings.catch_warnings():
            # cyvcf2 warns when a contig has no records in the index; that is just no data.
            warnings.simplefilter("ignore", UserWarning)
            region = [record for record, _ in checked_records(vcf, path, f"{chrom}:{lo}-{hi}")]
        for record in region:
            key = (record.CHROM, record.POS, record.REF, ",".join(record.ALT))
            if key in seen:
                continue
            seen.add(key)
            yield record


def call_vcf(vcf_path: str, resources: Path, samples: list[str] | None = None,
             genes: list[str] | None = None, missing_as_reference: bool = False,
             build: str = "GRCh38") -> list[Call]:
    definitions = load_definitions(resources)
    if genes:
        unknown = [g for g in genes if g not in definitions]
        if unknown:
            hints = [f"{g} (did you mean {' or '.join(close)}?)" if (close := close_matches(g.upper(), list(definitions)))
                     else g for g in unknown]
            raise PgxInputError("--gene", f"not a gene called from VCF: {', '.join(hints)}; the genes are "
                                          f"{', '.join(sorted(definitions))}")
    chosen = [definitions[g] for g in (genes or sorted(definitions))]
    phenotypes = load_phenotypes(resources)
    names, genotypes = read_genotypes(vcf_path, chosen, samples, build, resources)
    calls: list[Call] = []
    for gene in chosen:
        by_pos = genotypes[gene.gene]
        positions = sorted(by_pos)
        if not positions:
            calls += [call_gene(gene, {}, phenotypes, sample, missing_as_reference) for sample in names]
            continue
        # samples × (2 codes per position, phase flag per position, phase set per position)
        matrix = np.concatenate(
            [by_pos[p].codes for p in positions]
            + [np.stack([by_pos[p].phased.astype(np.int64) for p in positions], axis=1)]
            + [np.stack([by_pos[p].phase_set for p in positions], axis=1)], axis=1)
        patterns, inverse = np.unique(matrix, axis=0, return_inverse=True)
        called = [call_gene(gene, _genotypes_of_row(positions, by_pos, row), phenotypes, "",
                            missing_as_reference) for row in patterns]
        calls += [_for_sample(called[k], sample) for k, sample in zip(inverse.ravel(), names, strict=True)]
    return calls


def _for_sample(call: Call, sample: str) -> Call:
    return Call(sample, call.gene, call.diplotype, call.phenotype, call.activity_score,
                call.lookup_key, call.status, list(call.missing), call.tested,
                call.assumed_reference, call.phased, call.source, list(call.notes), call.version,
                [_for_sample(a, sample) for a in call.alternatives])


# Genes never called from a VCF here, and what the user should supply instead.
NOT_FROM_VCF = {
    "CYP2D6": "not called from a VCF (structural variants and copy number): supply an outside call, "
              "e.g. from Cyrius, Aldy or StellarPGx",
    "HLA-A": "HLA alleles are not called from a VCF: supply an outside call (HLA typing, e.g. "
             "OptiType, HLA-HD or a clinical HLA test)",
    "HLA-B": "HLA alleles are not called from a VCF: supply an outside call (HLA typing, e.g. "
             "OptiType, HLA-HD or a clinical HLA test)",
    "MT-RNR1": "mitochondrial variants are not called here: supply an outside call",
}
HLA_GENES = frozenset({"HLA-A", "HLA-B"})


def hla_alleles_of_interest(recommendations: list[dict[str, str]]) -> dict[str, list[str]]:
    """The HLA alleles the guidelines test for ('HLA-B=*15:02 positive' → HLA-B: *15:02)."""
    found: dict[str, set[str]] = {}
    for r in recommendations:
        for gene, value in _parse_lookup(r["lookup_key"]).items():
            if gene in HLA_GENES and value.endswith((" positive", " negative")):
                found.setdefault(gene, set()).add(value.rsplit(" ", 1)[0])
    return {g: sorted(a) for g, a in found.items()}


def not_tested(gene: str, sample: str) -> Call:
    """An explicit row for a gene nobody called: its drugs get 'no result', never 'normal'."""
    return Call(sample=sample, gene=gene, status="not_tested", source="none",
                notes=[NOT_FROM_VCF.get(gene, "not called")])


def read_outside_calls(path: str, sample: str, phenotypes: Phenotypes,
                       hla_alleles: dict[str, list[str]]) -> list[Call]:
    """Outside calls in PharmCAT's format: gene<TAB>diplotype[<TAB>phenotype[<TAB>activity score]],
    no header. Several lines for one gene are several possible results, all of them shown (PharmCAT's
    multi-call). The diplotype is translated as PharmCAT does: CYP2D6 and
    MT-RNR1 through their phenotype tables (phenotype and activity score), HLA-A/B into the
    positivity of each allele the guidelines test for. A phenotype or activity score given on
    the line is kept as given."""
    by_gene: dict[str, list[Call]] = {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PgxInputError(path, f"outside calls cannot be read ({type(exc).__name__})") from None
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split("\t")]
        if len(parts) < 2 or not parts[0] or not any(parts[1:4]):
            raise PgxInputError(path, "expected gene<TAB>diplotype[<TAB>phenotype<TAB>activity score]",
                                record=f"line {n}")
        diplotype, phenotype, activity = (parts + ["", "", ""])[1:4]
        by_gene.setdefault(parts[0], []).append(_translate_outside_call(
            parts[0], diplotype, phenotype, activity, sample, phenotypes, hla_alleles, path, n))
    return [found[0] if len(found) == 1 else _multi_call(found) for found in by_gene.values()]


def _multi_call(found: list[Call]) -> Call:
    """Several outside calls for one gene: all of them stand, as in PharmCAT (its multi-call)."""
    def joined(values: list[str]) -> str:
        return " OR ".join(dict.fromkeys(v for v in values if v))

    first = found[0]
    return Call(sample=first.sample, gene=first.gene, diplotype=joined([c.diplotype for c in found]),
                phenotype=joined([c.phenotype for c in found]),
                activity_score=joined([c.activity_score for c in found]),
                lookup_key=joined([c.lookup_key for c in found]),
                status="called" if all(c.status == "called" for c in found) else "not_called",
                source="outside_call", alternatives=found,
                notes=[f"{len(found)} outside calls for {first.gene}: the guidance of each is shown"])


def _translate_outside_call(gene: str, diplotype: str, phenotype: str, activity: str, sample: str,
                            phenotypes: Phenotypes, hla_alleles: dict[str, list[str]], path: str,
                            n: int) -> Call:
    call = Call(sample=sample, gene=gene, diplotype=diplotype, phenotype=phenotype,
                activity_score=activity, status="called", source="outside_call",
                notes=["outside call, not verified from the VCF"])
    if gene in HLA_GENES:
        carried = {a.strip() for a in diplotype.replace("+", "/").split("/") if a.strip()}
        statuses = [f"{a} {'positive' if a in carried else 'negative'}" for a in hla_alleles.get(gene, [])]
        if phenotype:  # statuses given on the line ('*57:01 positive') win over the diplotype
            statuses = [s.strip() for s in phenotype.split(";") if s.strip()]
        call.phenotype = "; ".join(statuses)
        call.lookup_key = call.phenotype
        return call
    found: tuple[str, str, str] | None = None
    if diplotype:
        names = sorted(_copies_named(a.strip(), gene, phenotypes) for a in diplotype.split("/"))
        if len(names) == 1:
            names.append("")
        found = phenotypes.diplotypes.get((gene, names[0], names[1]))
        if found is None and gene in phenotypes.genes:
            call.notes.append(f"diplotype {diplotype} is not in the {gene} phenotype data")
            names_known = all((gene, a) in phenotypes.functions for a in names if a)
            if gene in ACTIVITY_SCORE_GENES and not names_known:
                # An allele of unknown function: Indeterminate, looked up as the guidelines' 'n/a'
                # (PharmCAT, Cyp2d6Test.testCyp2d6AlleleWithNoFunction).
                found = ("Indeterminate", "", "n/a")
    if found:
        call.phenotype = phenotype or found[0]
        call.activity_score = activity or found[1]
        call.lookup_key = found[2]
        call.diplotype = _labelled(gene, diplotype)
    if activity:
        try:
            value = float(activity.lstrip("≥"))
        except ValueError:
            raise PgxInputError(path, f"activity score {activity!r} is not a number", record=f"line {n}") from None
        call.activity_score = f"{'≥' if activity.startswith('≥') else ''}{value:.2f}".rstrip("0")
        if call.activity_score.endswith("."):
            call.activity_score += "0"
        call.lookup_key = call.activity_score
        if not call.phenotype:
            call.phenotype = _phenotype_of_score(gene, call.activity_score, phenotypes)
    elif not found and phenotype:
        call.lookup_key = phenotype
        if gene in ACTIVITY_SCORE_GENES:
            # Guidance is keyed by activity score: a phenotype stands for every score it covers
            # (CYP2D6 Intermediate Metabolizer: 0.25, 0.5, 0.75, 1.0), as PharmCAT looks it up.
            scores = sorted({key for (g, _, _), (p, _, key) in phenotypes.diplotypes.items()
                             if g == gene and p == phenotype and key}, key=_score_order)
            call.alternatives = [Call(sample=sample, gene=gene, phenotype=phenotype, lookup_key=score,
                                      status="called", source="outside_call") for score in scores]
            call.lookup_key = " OR ".join(scores)
            call.notes.append(f"a phenotype without an activity score: looked up by every score it covers "
                              f"({', '.join(scores) or 'none'})")
    if not call.lookup_key:
        call.status = "not_called"
    return call


_COPIES = re.compile(r"^(\*\d+)x(\d+)$")


def _copies_named(allele: str, gene: str, phenotypes: Phenotypes) -> str:
    """'*1x7' as the phenotype data names three or more copies: '*1x≥3' (PharmCAT)."""
    m = _COPIES.match(allele)
    if m and int(m[2]) >= 3 and (gene, allele) not in phenotypes.functions \
            and (gene, f"{m[1]}x≥3") in phenotypes.functions:
        return f"{m[1]}x≥3"
    return allele


def _score_order(score: str) -> tuple[float, str]:
    try:
        return (float(score.lstrip("≥")), score)
    except ValueError:
        return (float("inf"), score)


def _phenotype_of_score(gene: str, score: str, phenotypes: Phenotypes) -> str:
    """The phenotype the gene's table gives every diplotype with this activity score."""
    seen = {p for (g, _, _), (p, _, key) in phenotypes.diplotypes.items() if g == gene and key == score}
    return seen.pop() if len(seen) == 1 else ""


def _parse_lookup(key: str) -> dict[str, str]:
    out = {}
    for part in key.split(";"):
        if "=" not in part:
            continue
        gene, value = part.split("=", 1)
        value = value.strip()
        if value[:1].isdigit() and " (" in value:
            value = value.split(" (", 1)[0]
        out[gene.strip()] = value
    return out


def load_recommendations(resources: Path) -> list[dict[str, str]]:
    """The CPIC/DPWG table, read once per run however many samples use it."""
    return load_table(resources, "pgx/recommendations.tsv")


def _gene_keys(call: Call) -> list[list[str]]:
    """What a gene result is looked up by: one list per possible result (several outside calls
    are several), each most specific first: the diplotype as DPWG keys some rows
    ({'*1': 1.0, '*3': 1.0}), the lookup key (activity score or phenotype), the phenotype name
    (DPWG keys CYP2C9 by it); HLA: the positivity of each allele, all equally specific.
    'No Result' when the gene was not called."""
    if call.alternatives:
        return [keys for alternative in call.alternatives for keys in _gene_keys(alternative)]
    if call.status != "called" or not call.lookup_key:
        return [["No Result"]]
    if call.gene in HLA_GENES:
        return [[k.strip()] for k in call.lookup_key.split(";") if k.strip()]
    keys = []
    if "/" in call.diplotype and " OR " not in call.diplotype:
        keys.append(_diplotype_key(call.diplotype.split("/")))
    keys += [call.lookup_key, call.phenotype]
    return [[k for k in keys if k]]


def _diplotype_key(alleles: list[str]) -> str:
    counts: dict[str, float] = {}
    for a in alleles:
        counts[a.strip()] = counts.get(a.strip(), 0.0) + 1.0
    return repr(dict(sorted(counts.items())))


def _normalised_key(value: str) -> str:
    """DPWG's diplotype keys written in one way: "{'*1': 1.0, '*3': 1.0}"."""
    if value.startswith("{"):
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
        if isinstance(parsed, dict):
            return repr({str(k): float(v) for k, v in sorted(parsed.items())})
    return value


def calls_from_table(path: str, samples: list[str] | None = None) -> list[Call]:
    """The calls of `samples` (None: every sample) from a pharmacogenes.tsv that `pgx
    diplotypes` wrote for many samples at once (a cohort's joint-called VCF read once): the
    same rows, as calls again. A sample the table lacks is refused, never taken as untested."""
    from pgx.outputs import iter_tsv

    wanted = set(samples or [])
    calls: list[Call] = []
    for row in iter_tsv(path, needs=CALL_COLUMNS, allowed={"assumed_reference": ("true", "false"),
                                                          "phased": ("true", "false")}):
        if samples and row["sample"] not in wanted:
            continue
        missing = [_missing_position(item) for item in row["missing_detail"].split(",") if item]
        calls.append(Call(
            sample=row["sample"], gene=row["gene"], diplotype=row["diplotype"], phenotype=row["phenotype"],
            activity_score=row["activity_score"], lookup_key=row["lookup_key"], status=row["status"],
            missing=missing, tested=int(row["positions_tested"] or 0),
            assumed_reference=row["assumed_reference"] == "true", phased=row["phased"] == "true",
            source=row["source"], notes=row["notes"].split("; ") if row["notes"] else [],
            version=row["definition_version"]))
    absent = sorted(wanted - {c.sample for c in calls})
    if absent or not calls:
        raise PgxInputError(path, f"no calls for sample {', '.join(absent) or '(any)'}")
    return calls


def _missing_position(text: str) -> Position:
    """A position of `missing_detail` as written: its rsid, or chrom:pos."""
    chrom, sep, pos = text.rpartition(":")
    return Position(chrom, int(pos), "", "", ()) if sep and pos.isdigit() else Position("", 0, text, "", ())


def with_outside_calls(calls: list[Call], outside: list[Call], every_gene: bool) -> list[Call]:
    """Each sample's VCF calls with the outside calls in place of its calls of the same genes
    and, when `every_gene`, a not-tested row for every gene that only an outside call can give,
    so that gene's guidance says 'no result' rather than nothing. Sorted by sample and gene."""
    replaced = {c.gene for c in outside}
    merged = [c for c in calls if c.gene not in replaced]
    present = {(c.sample, c.gene) for c in merged}  # calls read back from a table have these rows already
    for sample in sorted({c.sample for c in calls}):
        merged += [_for_sample(c, sample) for c in outside]
        if every_gene:
            merged += [not_tested(g, sample) for g in OUTSIDE_CALL_GENES
                       if g not in replaced and (sample, g) not in present]
    return sorted(merged, key=lambda c: (c.sample, c.gene))


def guidance_per_sample(calls: list[Call], recommendations: list[dict[str, str]],
                        proposed_drugs: set[str]) -> list[dict[str, object]]:
    """`guidance` for every sample of `calls`, in sample order."""
    rows: list[dict[str, object]] = []
    for sample in sorted({c.sample for c in calls}):
        rows += guidance([c for c in calls if c.sample == sample], recommendations, proposed_drugs)
    return rows


def guidance(calls: list[Call], recommendations: list[dict[str, str]],
             proposed_drugs: set[str]) -> list[dict[str, object]]:
    """Recommendation rows whose every gene key matches this patient's results.

    Genes that were not called enter multi-gene lookups as 'No Result', as CPIC tables do; a
    drug whose guidance needs a gene nobody tested gets one row saying so, never a silent
    'normal'. Where several rows of one guideline fit (DPWG keys CYP2C9 by diplotype and by
    phenotype), the most specific one is kept."""
    keys = {c.gene: _gene_keys(c) for c in calls}
    untested = {c.gene for c in calls if c.status == "not_tested"}
    sample = calls[0].sample if calls else ""
    best: dict[tuple[str, str, str, str], tuple[int, list[dict[str, str]]]] = {}
    needing_untested: dict[tuple[str, str, str], set[str]] = {}
    for r in recommendations:
        wanted = _parse_lookup(r["lookup_key"])
        if not wanted or "(Phenotyping)" in r["lookup_key"]:
            continue  # DPWG rows for measured enzyme activity, not for a genotype
        if not all(g in keys for g in wanted):
            continue
        missing = set(wanted) & untested
        if missing:
            needing_untested.setdefault((r["source"], r["drug"], r["genes"]), set()).update(missing)
        ranks = []
        for gene, value in wanted.items():
            target = _normalised_key(value)
            fits = [[_normalised_key(k) for k in keys_].index(target) for keys_ in keys[gene]
                    if target in [_normalised_key(k) for k in keys_]]
            if not fits:
                break
            ranks.append(min(fits))
        else:
            if all(keys[g] == [["No Result"]] for g in wanted):
                continue
            group = (r["source"], r["drug"], r["genes"], r["population"])
            specificity = sum(ranks)
            kept = best.get(group)
            if kept is None or specificity < kept[0]:
                best[group] = (specificity, [r])
            elif specificity == kept[0]:
                kept[1].append(r)
    rows = []
    matched_drugs = {(src, drug) for (src, drug, _, _) in best}
    by_gene = {c.gene: c for c in calls}
    for (_, chosen) in best.values():
        for r in chosen:
            wanted = _parse_lookup(r["lookup_key"])
            # Whether the patient's result departs from typical function: the HLA status the
            # row is keyed by; else the gene's own phenotype and lookup key (a diplotype-keyed
            # DPWG row says nothing of function by its key).
            caution = r["classification"] != "No recommendation" and not _STANDARD_CARE.match(r["recommendation"]) and any(
                _altered(g, v) if g in HLA_GENES else
                _altered(g, by_gene[g].lookup_key) or _altered(g, by_gene[g].phenotype)
                for g, v in wanted.items() if by_gene[g].status == "called")
            rows.append(_guidance_row(sample, r, proposed_drugs, caution))
    for (source, drug, genes), missing in sorted(needing_untested.items()):
        if (source, drug) in matched_drugs:
            continue
        names = ", ".join(sorted(missing))
        rows.append(_guidance_row(sample, {
            "drug": drug, "genes": genes, "lookup_key": ";".join(f"{g}=not tested" for g in sorted(missing)),
            "source": source, "classification": "No result", "population": "",
            "recommendation": f"no result: {names} not tested (supply an outside call); the guidance for "
                              f"{drug} cannot be applied",
            "data_version": "",
        }, proposed_drugs, False))
    rows.sort(key=lambda x: (not x["proposed_by_matching"], not x["oncology_drug"], not x["caution"],
                             str(x["drug"]), str(x["source"]), str(x["population"]), str(x["lookup_key"])))
    return rows


def _guidance_row(sample: str, r: dict[str, str], proposed_drugs: set[str], caution: bool) -> dict[str, object]:
    drug = r["drug"]
    return {
        "sample": sample, "drug": drug, "genes": r["genes"], "lookup_key": r["lookup_key"],
        "source": r["source"], "classification": r["classification"],
        "population": r["population"], "recommendation": r["recommendation"],
        "proposed_by_matching": drug in proposed_drugs, "oncology_drug": drug in ONCOLOGY_DRUGS,
        "caution": caution, "data_version": r["data_version"],
    }


# A guideline row keyed by an altered phenotype may still say "dose as usual" (DPWG: UGT1A1
# intermediate → irinotecan "NO action is needed"; CPIC: CYP2C19 intermediate → voriconazole
# "standard of care dosing"): no caution. These are the guidelines' own fixed openings
# (every first sentence in resources/pgx/recommendations.tsv was read to list them).
_STANDARD_CARE = re.compile(
    r"\s*(no action is (needed|required)|no adjustments needed from typical dosing"
    r"|initiate therapy with (recommended (starting dose|standard of care dosing)|standard recommended dose)"
    r"|initiate standard starting daily dose|use \w+ per standard dosing guidelines"
    r"|use \w+ label recommended age- or weight-specific dosing|use \w+ according to the product label"
    r"|the guideline does not provide a recommendation"
    r"|(based on \w+( status)?, )?start with normal starting dose)", re.IGNORECASE)

_ALTERED_WORDS = ("poor", "intermediate", "ultrarapid", "decreased", "increased", "deficient",
                  "susceptible", "positive", "no function", "variable")


def _altered(gene: str, value: str) -> bool:
    """Whether a gene result departs from typical function (the drug needs a second look)."""
    try:
        score = float(value)
    except ValueError:
        lower = value.lower()
        if gene == "CYP2C19" and lower.startswith("rapid"):
            return True
        return any(word in lower for word in _ALTERED_WORDS)
    return score < (1.25 if gene == "CYP2D6" else 2.0)
