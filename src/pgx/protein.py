"""A coding change → its protein change (HGVSp, consequence), from the transcript's sequence.

One rule for every coding variant: translate the reference and the changed sequence and
describe the difference as HGVS does (3′ rule: the most C-terminal residue of a repeat is
the one deleted or duplicated). The sequence is a window in transcript orientation that starts
at the first base of a codon: the whole coding sequence and what follows it (from a reference
FASTA), or just one codon whose bases are known without one (the bundled hotspot codons).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from pgx.transcripts import CODON_TABLE, THREE_LETTER


class ProteinChange(NamedTuple):
    """A parsed protein change; `short` is the one-letter form used for matching (V600E)."""

    short: str
    ref_aa: str | None
    codon: int | None
    codon_end: int | None
    alt_aa: str | None
    kind: str  # missense, nonsense, synonymous, frameshift, deletion, insertion, delins, other


class ProteinEffect(NamedTuple):
    consequence: str
    hgvsp: str
    protein: ProteinChange


def translate(bases: str) -> str:
    """Amino acids of whole codons; 'X' where a codon holds anything but A, C, G, T."""
    return "".join(CODON_TABLE.get(bases[i:i + 3], "X") for i in range(0, len(bases) - 2, 3))


@functools.lru_cache(maxsize=256)
def _translated(window: str) -> str:
    """A transcript's translation, once: its coding variants are translated again and again."""
    return translate(window)


def _changed_protein(window: str, start: int, end: int, alt: str) -> str:
    """translate(window[:start] + alt + window[end:]) up to its first stop at least,
    translating only the codons the change touches (a frameshift: up to its new stop)."""
    first = start // 3
    head = window[3 * first:start] + alt  # from the first touched codon
    if (len(alt) - (end - start)) % 3:  # a new frame, read up to its first stop
        changed = head + window[end:]
        pieces: list[str] = []
        i = 0
        while i < len(changed) - 2 and not (pieces and "*" in pieces[-1]):
            pieces.append(translate(changed[i:i + 150]))
            i += 150
        return _translated(window)[:first] + "".join(pieces)
    after = _untouched_from(start, end)
    return _translated(window)[:first] + translate(head + window[end:3 * after]) + _translated(window)[after:]


def _untouched_from(start: int, end: int) -> int:
    """The first codon (0-based, reference frame) after those that replacing [start, end) touches."""
    return max(-(-end // 3), start // 3 + (start % 3 > 0 or end > start))


def _until_stop(protein: str) -> str:
    stop = protein.find("*")
    return protein if stop < 0 else protein[:stop + 1]


def _three(amino_acids: str) -> str:
    return "".join(THREE_LETTER.get(a, "Xaa") for a in amino_acids)


def protein_effect(window: str, first_codon: int, start: int, end: int, alt: str) -> ProteinEffect:
    """The effect of replacing window[start:end] by `alt` (0-based, transcript orientation),
    where window[0] is the first base of codon `first_codon`. The window must cover the
    changed bases; a frameshift or a lost stop needs it to run past the new stop."""
    ref_p, alt_p = _until_stop(_translated(window)), _until_stop(_changed_protein(window, start, end, alt))
    limit = min(len(ref_p), len(alt_p))
    k = min(start // 3, limit)  # the codons before the change are the reference's
    while k < limit and ref_p[k] == alt_p[k]:
        k += 1
    codon = first_codon + k
    if k == len(ref_p) == len(alt_p):  # the same protein
        k = min(start // 3, len(ref_p) - 1)
        aa, codon = ref_p[k], first_codon + k
        return ProteinEffect("stop_retained_variant" if aa == "*" else "synonymous_variant",
                             f"p.{_three(aa)}{codon}=", ProteinChange(f"{aa}{codon}=", aa, codon, codon, aa, "synonymous"))
    ref_aa = ref_p[k] if k < len(ref_p) else None
    if codon == 1:
        return ProteinEffect("start_lost", "p.Met1?", ProteinChange(f"{ref_aa}1?", ref_aa, 1, 1, None, "other"))
    if ref_aa is None or ref_aa == "X":  # past a window without a stop, or a base the genome holds as N
        return _unknown(codon)
    shift = len(alt) - (end - start)
    frameshift = shift % 3 != 0
    alt_aa = alt_p[k] if k < len(alt_p) else "X"
    if (frameshift or ref_aa == "*") and alt_aa == "X":
        return _unknown(codon)
    if ref_aa == "*":
        extension = _new_stop(alt_p, k)
        return ProteinEffect("stop_lost", f"p.Ter{codon}{_three(alt_aa)}extTer{extension}",
                             ProteinChange(f"*{codon}{alt_aa}", "*", codon, codon, alt_aa, "other"))
    if frameshift:
        if alt_aa == "*":
            return ProteinEffect("frameshift_variant", f"p.{_three(ref_aa)}{codon}Ter",
                                 ProteinChange(f"{ref_aa}{codon}*", ref_aa, codon, codon, "*", "frameshift"))
        return ProteinEffect("frameshift_variant", f"p.{_three(ref_aa)}{codon}{_three(alt_aa)}fsTer{_new_stop(alt_p, k)}",
                             ProteinChange(f"{ref_aa}{codon}fs", ref_aa, codon, codon, None, "frameshift"))
    return _in_frame(ref_p, alt_p, k, first_codon, shift // 3, _untouched_from(start, end))


def _new_stop(protein: str, k: int) -> str:
    """HGVS counts the new stop from the first changed residue (1); '?' when the sequence ends
    (or is unknown) before one."""
    stop = protein.find("*", k)
    unknown = protein.find("X", k)
    return "?" if stop < 0 or 0 <= unknown < stop else str(stop - k + 1)


def _in_frame(ref_p: str, alt_p: str, k: int, first_codon: int, residues_added: int, untouched: int) -> ProteinEffect:
    codon = first_codon + k
    if alt_p.endswith("*") and len(alt_p) < len(ref_p) + residues_added:  # a stop gained ends it there
        added = alt_p[k:]
        if "X" in added:
            return _unknown(codon)
        aa = ref_p[k]
        if added == "*":
            return ProteinEffect("stop_gained", f"p.{_three(aa)}{codon}Ter",
                                 ProteinChange(f"{aa}{codon}*", aa, codon, codon, "*", "nonsense"))
        n = max(len(added) - residues_added, 1)
        return ProteinEffect("stop_gained", f"p.{_span(ref_p, k, first_codon, n)}delins{_three(added)}",
                             ProteinChange(f"{_span(ref_p, k, first_codon, n, short=True)}delins{added}", aa, codon,
                                           codon + n - 1, added, "delins"))
    # Common prefix first, then suffix: what remains is the most C-terminal placement.
    # From the first untouched codon on, the two proteins are the same residues.
    t = max(0, min(len(ref_p) - untouched, len(alt_p) - untouched - residues_added, min(len(ref_p), len(alt_p)) - k))
    while t < min(len(ref_p), len(alt_p)) - k and ref_p[-1 - t] == alt_p[-1 - t]:
        t += 1
    removed, added = ref_p[k:len(ref_p) - t], alt_p[k:len(alt_p) - t]
    if "X" in removed + added:
        return _unknown(codon)
    last = codon + len(removed) - 1
    if not removed:  # insertion between residues k-1 and k (0-based)
        n = len(added)
        if n <= k and ref_p[k - n:k] == added:
            return ProteinEffect("inframe_insertion", f"p.{_span(ref_p, k - n, first_codon, n)}dup",
                                 ProteinChange(f"{_span(ref_p, k - n, first_codon, n, short=True)}dup", ref_p[k - n],
                                               codon - n, codon - 1, None, "insertion"))
        before, after = ref_p[k - 1], ref_p[k]
        return ProteinEffect(
            "inframe_insertion", f"p.{_three(before)}{codon - 1}_{_three(after)}{codon}ins{_three(added)}",
            ProteinChange(f"{before}{codon - 1}_{after}{codon}ins{added}", before, codon - 1, codon, added, "insertion"))
    if not added:
        return ProteinEffect("inframe_deletion", f"p.{_span(ref_p, k, first_codon, len(removed))}del",
                             ProteinChange(f"{_span(ref_p, k, first_codon, len(removed), short=True)}del", removed[0],
                                           codon, last, None, "deletion"))
    if len(removed) == len(added) == 1:
        return ProteinEffect("missense_variant", f"p.{_three(removed)}{codon}{_three(added)}",
                             ProteinChange(f"{removed}{codon}{added}", removed, codon, codon, added, "missense"))
    consequence = ("missense_variant" if len(added) == len(removed)
                   else "inframe_insertion" if len(added) > len(removed) else "inframe_deletion")
    return ProteinEffect(consequence, f"p.{_span(ref_p, k, first_codon, len(removed))}delins{_three(added)}",
                         ProteinChange(f"{_span(ref_p, k, first_codon, len(removed), short=True)}delins{added}",
                                       removed[0], codon, last, added, "delins"))


def _span(protein: str, k: int, first_codon: int, n: int, short: bool = False) -> str:
    """'Glu746' or 'Glu746_Ala750' ('E746_A750' when `short`): residues k..k+n-1 (0-based)
    of the window."""
    name = str if short else _three
    head = f"{name(protein[k])}{first_codon + k}"
    return head if n == 1 else f"{head}_{name(protein[k + n - 1])}{first_codon + k + n - 1}"


def _unknown(codon: int) -> ProteinEffect:
    return ProteinEffect("coding_sequence_variant", "", ProteinChange(f"codon {codon}", None, codon, codon, None, "unknown"))


def from_vep_codons(codons: str, protein_position: str) -> ProteinEffect | None:
    """The effect VEP's Codons column describes ('gCg/gTg', 'ggAGATATa/gga', '-/TAG': lowercase
    bases unchanged, uppercase changed) at its Protein_position ('600', '327-329'); for VEP
    output written without --hgvs. None for a frameshift (its new stop lies beyond the codons)
    or a change the codons alone cannot name."""
    ref, sep, alt = codons.partition("/")
    first = protein_position.split("-", 1)[0]
    if not sep or not first.isdigit():
        return None
    ref, alt = ref.replace("-", ""), alt.replace("-", "")
    if (len(alt) - len(ref)) % 3 or len(ref) % 3:
        return None
    unchanged_head = 0
    while unchanged_head < min(len(ref), len(alt)) and ref[unchanged_head].islower() and alt[unchanged_head].islower():
        unchanged_head += 1
    unchanged_tail = 0
    while (unchanged_tail < min(len(ref), len(alt)) - unchanged_head and ref[-1 - unchanged_tail].islower()
           and alt[-1 - unchanged_tail].islower()):
        unchanged_tail += 1
    effect = protein_effect(ref.upper(), int(first), unchanged_head, len(ref) - unchanged_tail,
                            alt[unchanged_head:len(alt) - unchanged_tail].upper())
    return effect if effect.hgvsp else None
