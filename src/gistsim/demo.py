"""The engine demonstration: lesions under a drug that kills sensitive cells, and the resistant
subclones that grow back.

Each lesion grows from one KIT exon 11 cell to its size at diagnosis (picking up resistant
subclones on the way, different in each lesion), then a drug kills the driver-only cells at a net
rate of −0.03/day, the median decline of lesions on targeted therapy (Bozic et al. eLife
2013;2:e00747; model_parameters.md §5). Secondary mutants are taken as fully resistant here; the
clinic layer replaces this with pharmacokinetics and genotype-specific potency.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gistsim.biology.genotypes import default_registry
from gistsim.biology.parameters import default_evolution
from gistsim.biology.volume import cells_to_diameter_mm, diameter_mm_to_cells
from gistsim.engine.history import sample_history
from gistsim.engine.rates import GenotypeRates
from gistsim.engine.step import advance

#: Median net decline of lesions on targeted therapy, per day (Bozic 2013, model_parameters.md §5).
DRUG_NET_RATE_PER_DAY = -0.03


@dataclass
class DemoResult:
    """Cells per (visit, lesion, genotype) over the course."""

    day: np.ndarray
    """Visit days, 0 = start of the drug."""
    cells: np.ndarray
    """Shape (n_visits, n_lesions, n_genotypes)."""
    diameter_mm: np.ndarray
    """Shape (n_visits, n_lesions)."""
    genotype_names: list[str]
    """Name of each genotype code."""
    age_days: np.ndarray
    """Time each lesion took to grow from its founder cell."""
    sensitive_genotype: int
    """Code of the driver-only genotype the drug kills."""


def run_demo(
    *,
    diameters_mm: tuple[float, ...] = (40.0, 25.0, 15.0),
    years: float = 6.0,
    visit_days: float = 84.0,
    seed: int = 1,
) -> DemoResult:
    """Grow the lesions, then treat them; returns cells per visit, lesion and genotype."""
    rng = np.random.default_rng(seed)
    reg = default_registry()
    evo = default_evolution()
    n_geno = reg.n_genotypes
    birth = evo.untreated_birth(reg)[None, :]
    untreated = np.full((1, n_geno), evo.death_rate_per_day)
    mutation = evo.mutation_model(reg)
    base = reg.code("KIT_exon11")
    density = evo.cells_per_cm3.value
    n_lesions = len(diameters_mm)
    history = sample_history(
        lesion=np.arange(n_lesions),
        founder_genotype=np.full(n_lesions, base),
        size_cells=diameter_mm_to_cells(np.asarray(diameters_mm), density),
        group=np.zeros(n_lesions, dtype=np.int64),
        rates=GenotypeRates(birth, untreated),
        mutation=mutation,
        n_genotypes=n_geno,
        rng=rng,
    )
    treated = untreated.copy()
    treated[0, base] = evo.birth_rate_per_day.value - DRUG_NET_RATE_PER_DAY
    rates = GenotypeRates(birth, treated)
    table = history.clones
    n_visits = int(np.floor(years * 365.25 / visit_days)) + 1
    cells = np.zeros((n_visits, n_lesions, n_geno))
    for v in range(n_visits):
        if v:
            advance(table, [visit_days], rates, mutation, rng=rng)
        np.add.at(cells[v], (table.lesion, table.genotype), table.count)
    day = np.arange(n_visits) * visit_days
    diameter = cells_to_diameter_mm(cells.sum(axis=2), density)
    names = [reg.name(g) for g in range(n_geno)]
    return DemoResult(day, cells, diameter, names, history.age_days, base)


def summary_rows(result: DemoResult) -> list[dict[str, object]]:
    """One row per visit: total and resistant cells, diameters, the largest resistant genotype."""
    rows = []
    for v, day in enumerate(result.day):
        per_geno = result.cells[v].sum(axis=0)
        sens = per_geno[result.sensitive_genotype]
        resistant = per_geno.sum() - sens
        per_geno[result.sensitive_genotype] = 0
        top = result.genotype_names[int(per_geno.argmax())] if per_geno.max() > 0 else "-"
        rows.append(
            {
                "month": day / 30.44,
                "sensitive_cells": sens,
                "resistant_cells": resistant,
                "diameters_mm": result.diameter_mm[v],
                "largest_resistant": top,
            }
        )
    return rows


def plot_demo(result: DemoResult, path: Path) -> Path:
    """Cells per genotype (log scale) and diameter, one panel per lesion; PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_lesions = result.cells.shape[1]
    fig, axes = plt.subplots(2, n_lesions, figsize=(4.2 * n_lesions + 2.2, 6.5), sharex=True, squeeze=False)
    months = result.day / 30.44
    present = np.flatnonzero(result.cells.max(axis=(0, 1)) > 0)
    secondary = [name.split("+")[1:] for name in result.genotype_names]
    singles = sorted({sec[0] for g in present for sec in [secondary[g]] if len(sec) == 1})
    palette = plt.cm.tab10(np.linspace(0, 1, 10))

    def style(g: int) -> tuple[object, float, str]:
        sec = secondary[g]
        if not sec:
            return "black", 2.0, "driver only (drug-sensitive)"
        if len(sec) == 1:
            return palette[(singles.index(sec[0]) + 1) % 10], 1.4, f"+{sec[0]}"
        return "0.6", 0.8, "two secondary mutations"

    for j in range(n_lesions):
        ax = axes[0, j]
        for g in present:
            y = result.cells[:, j, g]
            if y.max() > 0:
                colour, width, label = style(g)
                ax.semilogy(months, np.where(y > 0, y, np.nan), color=colour, lw=width, label=label)
        ax.set_title(f"lesion {j + 1} (grew for {result.age_days[j] / 365.25:.0f} years)")
        ax.set_ylabel("cells")
        ax.set_ylim(bottom=0.5)
        axes[1, j].plot(months, result.diameter_mm[:, j], color="black")
        axes[1, j].axhline(10, color="grey", ls="--", lw=0.8)
        axes[1, j].text(months[-1], 10.5, "RECIST measurable (10 mm)", fontsize=7, color="grey", ha="right")
        axes[1, j].set_ylabel("diameter (mm)")
        axes[1, j].set_xlabel("months on drug")
    handles: dict[str, object] = {}
    for ax in axes[0]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(handles.values(), handles.keys(), loc="center right", fontsize=8, frameon=False, title="clone genotype")
    fig.suptitle("Resistant subclones present at diagnosis regrow under a drug that kills sensitive cells")
    fig.tight_layout(rect=(0, 0, 1 - 2.0 / (4.2 * n_lesions + 2.2), 0.95))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path
