"""Generator of the EC50 medians in src/gistsim/data/potency.yaml (rules in the file's header).

Rerun after changing the drug PK medians (tests/test_potency_pd.py fails until you do):

    python tools/gen_potency.py > /tmp/cells.yaml
    cat tools/potency_header.yaml /tmp/cells.yaml > src/gistsim/data/potency.yaml
"""
import math
from gistsim.clinic import drugs as D

DRUGS = ["imatinib", "sunitinib", "regorafenib", "ripretinib", "avapritinib"]
# §3b cellular IC50 ranges (nM): (lo, hi), (">", x) or None for "?"
R = {
 "KIT_exon11":   [(10,50),(5,20),(50,200),(1,10),(5,20)],
 "KIT_exon9":    [(100,300),(10,30),(100,300),(5,20),(10,50)],
 "V654A":        [(1000,5000),(10,100),(">",1000),(50,300),(">",1000)],
 "T670I":        [(">",3000),(10,50),(50,300),(10,100),(100,1000)],
 "D816":         [(">",3000),(500,5000),(500,3000),(10,100),(1,10)],
 "D820":         [(1000,5000),(300,3000),(20,200),(5,50),(1,20)],
 "N822":         [(200,1000),(100,1000),(20,100),(5,50),(1,20)],
 "Y823":         [(500,3000),(100,1000),(20,200),(5,50),(1,20)],
 "A829P":        [(">",3000),(">",1000),None,(10,100),None],
 "PDGFRA_D842V": [(">",3000),(">",1000),(">",1000),(50,200),(30,30)],
}
# §3a qualitative classes
C = {
 "KIT_exon11": "S S S S S", "KIT_exon9": "I S S/I S S/I", "V654A": "R S R/I I/R R",
 "T670I": "R S S/I I R/I", "D816": "R R R/I S S", "D820": "R R/I S S S", "N822": "R R/I S S S",
 "Y823": "R R/I S S S", "A829P": "R R ? S ?", "PDGFRA_D842V": "R R R I S",
 "wild_type": "R/I I I I ?", "PDGFRA_other": "S ? ? ? ?", "C809G": "R R/I S S S",
}
C = {k: v.split() for k, v in C.items()}
KAPPA = {d: 4.0 for d in DRUGS}; KAPPA["ripretinib"] = 15.0
WT_F = {"R/I": 0.15, "I": 0.30, "?": 0.15}
F_S, F_R = 0.6, 0.1

def mid(r):
    if r[0] == ">": return 3.0 * r[1]
    return math.sqrt(r[0] * r[1])

def rtxt(r):
    if r is None: return "?"
    if r[0] == ">": return f">{r[1]} nM"
    if r[0] == r[1]: return f"~{r[0]} nM"
    return f"{r[0]}-{r[1]} nM"

cmed = {d: float(D.steady_state_average(D.standard_regimen(d), D.typical_pk(d))[0]) for d in DRUGS}
rows = ["KIT_exon11","KIT_exon9","PDGFRA_D842V","PDGFRA_other","wild_type","V654A","T670I","C809G","D816","D820","N822","Y823","A829P"]
out = {}
for j, d in enumerate(DRUGS):
    anchor = cmed[d] / KAPPA[d]
    m11 = mid(R["KIT_exon11"][j])
    out[d] = {}
    for row in rows:
        cls = C[row][j]
        sigma = 1.0
        if row == "KIT_exon11":
            ec, sigma = anchor, 0.5
            src = (f"anchor: median-patient steady-state average of {D.standard_regimen(d).name} "
                   f"({cmed[d]:.0f} ng/mL) / {KAPPA[d]:g}")
        elif row == "PDGFRA_other":
            ec, sigma = anchor, 1.2
            src = ("no §3b value; as KIT exon 11: non-D842V PDGFRA responds to imatinib like exon 11 "
                   "(ORR 71%, PFS 29.5 mo, Yoo 2016 pmc:PMC4843750, C) and is TKI-sensitive "
                   "(Boonstra 2017 Oncotarget 8:109836)") if d == "imatinib" else \
                  "no data; as this drug's KIT exon 11 value (non-D842V PDGFRA is TKI-sensitive, Boonstra 2017 Oncotarget 8:109836), wide prior"
        elif row == "wild_type":
            f = WT_F[cls]; ec = anchor * KAPPA[d] * (1 - f) / f; sigma = 1.2
            src = f"no §3b value; §3a class {cls} -> kill fraction {f:g} at the median exposure (no KIT driver to inhibit)"
        else:
            base = "D820" if row == "C809G" else row
            r = R[base][j]
            note = "C809G: as the exon-17 activation-loop class (D820 row, §3a/§3b); " if row == "C809G" else ""
            if r is None:
                r = R["D820"][j]; sigma = 1.2
                note += f"§3b '?': borrowed the activation-loop class (D820 row, {rtxt(r)}); "
            ratio = mid(r) / m11
            ec = anchor * ratio
            src = note + f"§3b {rtxt(r)} vs exon 11 {rtxt(R['KIT_exon11'][j])} (M/?): ratio {ratio:.3g} x exon-11 EC50"
            f = cmed[d] / (cmed[d] + ec)
            if cls == "S" and f < F_S:
                ec_new = cmed[d] * (1 - F_S) / F_S
                src += f"; moved to {ec_new/anchor:.3g}x so that §3a 'S' holds (kill fraction {F_S} at median exposure)"
                ec = ec_new
            elif cls == "R" and f > F_R:
                ec_new = cmed[d] * (1 - F_R) / F_R
                src += f"; moved to {ec_new/anchor:.3g}x so that §3a 'R' holds (kill fraction {F_R} at median exposure)"
                ec = ec_new
        f = cmed[d] / (cmed[d] + ec)
        out[d][row] = (float(f"{ec:.3g}"), sigma, f"§3a {cls}; " + src, f)

lines = []
for d in DRUGS:
    lines.append(f"  {d}:")
    for row in rows:
        ec, sigma, src, f = out[d][row]
        lines.append(f"    {row}:")
        lines.append(f"      value: {ec:g}")
        lines.append(f"      prior: {{kind: lognormal, median: {ec:g}, sigma_log: {sigma}}}")
        lines.append(f"      source: \"{src}\"")
print("\n".join(lines))
import sys
for d in DRUGS:
    print(d, f"{cmed[d]:.1f}", " ".join(f"{r}:{out[d][r][0]:g}({out[d][r][3]:.2f})" for r in rows), file=sys.stderr)
