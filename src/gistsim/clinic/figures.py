"""Figures of one patient's course: lesion diameters, the treatment timeline, clones per lesion."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gistsim.clinic.patient import PatientCourse

_RESPONSE_COLOURS = {"CR": "#1a9850", "PR": "#91cf60", "SD": "#fee08b", "PD": "#d73027", "NED": "#4575b4"}
_EVENT_MARKS = {"surgery": ("v", "black"), "progression": ("x", "#d73027"), "death": ("*", "black"),
                "perioperative_death": ("*", "black"), "dose_reduction": ("1", "grey"), "stop": ("|", "grey"),
                "restart": ("|", "green"), "discontinuation": ("4", "purple")}  # fmt: skip


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    _plt().close(fig)
    tmp.replace(path)
    return path


def spider_plot(course: PatientCourse, path: Path, *, title: str = "") -> Path:
    """Measured diameter of each lesion ever seen; when present but unseen, open markers at 0."""
    return _save(_spider_figure(course, title), path)


def _spider_figure(course: PatientCourse, title: str):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    months = course.visit_month
    for j, les in enumerate(course.lesion_ids):
        y = course.measured_mm[:, j]
        if np.isnan(y).all():
            continue  # e.g. a seeded lesion that never grew to a visible size
        line = ax.plot(months, y, marker="o", ms=3, label=f"lesion {les} ({course.lesion_organ[j]})")[0]
        unseen = np.isnan(y) & (course.true_mm[:, j] > 0)
        ax.plot(months[unseen], np.zeros(unseen.sum()), "o", mfc="none", color=line.get_color(), ms=3)
    # Operations go in the legend, not as text by the line: a label near the right edge ran into it.
    surgery = [e["month"] for e in course.events if e["kind"] == "surgery"]
    for k, m in enumerate(surgery):
        ax.axvline(m, color="black", ls=":", lw=1, label="surgery" if k == 0 else None)
    ax.axhline(10, color="grey", lw=0.8, ls="--")
    ax.text(0.99, 10.5, "measurable (10 mm)", fontsize=7, color="grey", ha="right", transform=ax.get_yaxis_transform())
    ax.set_xlabel("months from the start of treatment")
    ax.set_ylabel("measured diameter (mm)")
    ax.set_title(title or "Lesion diameters (open circles: present but not seen)")
    if len(ax.get_lines()) <= 24:
        ax.legend(fontsize=7, ncol=2, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def timeline(course: PatientCourse, path: Path, *, title: str = "") -> Path:
    """Regimens as bars, RECIST response per visit as coloured dots, events as markers."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 2.8))
    months = course.visit_month
    regs = course.regimen
    start = 0
    palette = plt.cm.Set2(np.linspace(0, 1, 8))
    colour_of: dict[str, object] = {}
    for v in range(1, len(regs) + 1):
        if v == len(regs) or regs[v] != regs[start]:
            name = regs[start]
            if name != "none":
                c = colour_of.setdefault(name, palette[len(colour_of) % 8])
                end = months[v] if v < len(months) else months[-1]
                ax.barh(1, end - months[start], left=months[start], color=c, height=0.5)
                ax.text(months[start], 1.3, name.replace("_", " "), fontsize=7)
            start = v
    for m, r in zip(months, course.recist):
        if r in _RESPONSE_COLOURS:
            ax.scatter(m, 0.4, color=_RESPONSE_COLOURS[r], s=30, edgecolor="black", lw=0.4, zorder=3)
    for e in course.events:
        mark = _EVENT_MARKS.get(str(e["kind"]))
        if mark:
            ax.scatter(e["month"], 0, marker=mark[0], color=mark[1], s=50, zorder=3)
    handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=k) for k, c in _RESPONSE_COLOURS.items()]
    handles += [plt.Line2D([], [], marker=m, ls="", color=c, label=k.replace("_", " ")) for k, (m, c) in _EVENT_MARKS.items()
                if any(e["kind"] == k for e in course.events)]  # fmt: skip
    ax.legend(handles=handles, fontsize=7, ncol=6, loc="upper center", bbox_to_anchor=(0.5, -0.3), frameon=False)
    ax.set_yticks([0, 0.4, 1], ["events", "RECIST", "regimen"])
    ax.set_ylim(-0.4, 1.7)
    ax.set_xlabel("months from the start of treatment")
    ax.set_title(title or "Treatment timeline")
    return _save(fig, path)


def clone_composition(course: PatientCourse, path: Path, *, title: str = "") -> Path:
    """Cells per genotype in each lesion over time (log scale), one panel per lesion that ever held
    1,000 cells (seeded lesions that died out as a few cells are left out)."""
    plt = _plt()
    peak = {int(les): 0 for les in course.lesion_ids}
    for snap in course.clones:
        for (les, _), c in snap.items():
            if les in peak:
                peak[les] = max(peak[les], c)
    ids = [les for les in course.lesion_ids if peak[int(les)] >= 1000]
    cols = min(len(ids), 4)
    rows = int(np.ceil(len(ids) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols + 2, 2.8 * rows), squeeze=False, sharex=True)
    months = course.visit_month
    genotypes = sorted({g for snap in course.clones for (_, g) in snap})
    colours = dict(zip(genotypes, plt.cm.tab20(np.linspace(0, 1, max(len(genotypes), 2)))))
    for k, les in enumerate(ids):
        ax = axes[k // cols, k % cols]
        for g in genotypes:
            y = np.array([snap.get((int(les), g), 0) for snap in course.clones], dtype=float)
            if y.max() >= 1e3 or (y.max() > 0 and "+" not in g):
                ax.semilogy(months[: len(y)], np.where(y > 0, y, np.nan), color=colours[g], label=g)
        organ = course.lesion_organ[list(course.lesion_ids).index(les)]
        ax.set_title(f"lesion {les} ({organ})", fontsize=9)
        ax.set_ylim(bottom=1)
    for k in range(len(ids), rows * cols):
        axes[k // cols, k % cols].axis("off")
    handles: dict[str, object] = {}
    for ax in axes.ravel():
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(handles.values(), handles.keys(), loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, frameon=False)
    fig.supxlabel("months from the start of treatment")
    fig.supylabel("cells (clones that reached 1,000 cells)")
    fig.suptitle(title or "Clones per lesion")
    fig.tight_layout()
    return _save(fig, path)
