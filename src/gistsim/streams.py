"""Random streams: one generator for everything, or one per patient.

The engine and the clinic draw through :class:`Draws`, naming for every element the patient
(``owner``) it belongs to. With a plain ``numpy.random.Generator`` the owner is ignored (fastest).
With :class:`PatientStreams` every patient has its own generator, seeded from (trial seed,
patient id): a patient's course then depends only on its own stream and its own state, never on
which other patients share its block, how many workers run, or which arm another patient is on —
common random numbers at the level of the patient (DESIGN §5; starsim's slots, per patient).

Each call draws, for every owner present, that owner's elements in their order, so an owner's
stream advances by exactly the draws of its own elements, whatever else is in the call.
"""

from __future__ import annotations

import numpy as np

from gistsim import _stream_kernels
from gistsim.engine import _kernels


class PatientStreams:
    """One ``numpy.random.Generator`` per patient, indexed by a group index (0..n-1)."""

    def __init__(self, generators: list[np.random.Generator], index: np.ndarray | None = None) -> None:
        self.generators = generators
        self.index = np.arange(len(generators)) if index is None else np.asarray(index, dtype=np.int64)
        """``index[group]``: which generator a group draws from (see :meth:`remap`)."""
        self._addresses: np.ndarray | None | bool = False  # False: not looked up yet
        self._typed: object = False

    @property
    def state_addresses(self) -> np.ndarray | None:
        """The generators' PCG64 state addresses for :func:`gistsim._stream_kernels.fill_uniforms`
        (None: not all PCG64), looked up once in the process that draws."""
        if self._addresses is False:
            self._addresses = _stream_kernels.state_addresses(self.generators)
        return self._addresses

    @property
    def typed_generators(self):
        """The generators as a numba typed list for the compiled samplers (None: not all PCG64)."""
        if self._typed is False:
            self._typed = _stream_kernels.generator_list(self.generators)
        return self._typed

    def __getstate__(self) -> dict:
        # Addresses belong to this process, and a pickled typed list would hold copies of the
        # generators: a copy elsewhere builds its own from its own generators.
        return {**self.__dict__, "_addresses": False, "_typed": False}

    @classmethod
    def from_ids(cls, seed: int, patient_ids: np.ndarray) -> PatientStreams:
        """Generators seeded from (seed, patient id): the same patient always gets the same stream."""
        ids = np.asarray(patient_ids, dtype=np.int64)
        if (ids < 0).any():
            raise ValueError(f"patient_ids must be >= 0; got {int(ids[ids < 0][0])}")
        return cls([np.random.default_rng(np.random.SeedSequence([int(seed), int(p)])) for p in ids])

    def extend(self, generators: list[np.random.Generator]) -> None:
        """Append ``generators`` (the next groups draw from them), keeping the typed list and the
        state addresses already built (extended, not rebuilt: ~26 µs a generator)."""
        start = len(self.generators)
        self.generators = self.generators + list(generators)
        self.index = np.concatenate([self.index, np.arange(start, len(self.generators))])
        typed_ok = self._typed not in (False, None) and all(type(g.bit_generator) is np.random.PCG64 for g in generators)
        if typed_ok:
            for g in generators:
                _stream_kernels._append(self._typed, g)
        else:
            self._typed = False
        new = _stream_kernels.state_addresses(generators) if isinstance(self._addresses, np.ndarray) else None
        self._addresses = np.concatenate([self._addresses, new]) if new is not None else False

    def remap(self, group_to_patient: np.ndarray) -> PatientStreams:
        """The same generators seen through another grouping (e.g. lesion rows → patients)."""
        other = PatientStreams(self.generators, self.index[np.asarray(group_to_patient, dtype=np.int64)])
        other._addresses, other._typed = self._addresses, self._typed
        return other

    def __len__(self) -> int:
        return len(self.index)


def sibling(rng: np.random.Generator | PatientStreams, key: int) -> np.random.Generator | PatientStreams:
    """Streams of their own beside ``rng``'s, keyed by ``key``: per generator, the child of its
    seed sequence with spawn key ``key`` (made directly, so neither ``rng`` nor its seed sequence
    moves). Draws from them do not depend on where ``rng``'s streams are, so what a patient draws
    from its sibling is the same whatever was drawn before (and in whatever block)."""
    def child(g: np.random.Generator) -> np.random.Generator:
        seq = g.bit_generator.seed_seq
        return np.random.default_rng(np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, key)))

    if isinstance(rng, PatientStreams):
        return PatientStreams([child(g) for g in rng.generators], rng.index)
    return child(rng)


#: Owners with at most this many elements in a call draw them one scalar call at a time.
SCALAR_MAX = 48

#: With per-patient streams, Poisson draws with a mean up to this come by inversion of one uniform
#: each (uniforms come in one call per patient; other Poisson draws cost a scalar call, ~0.5 µs).
#: Most of a trial's Poisson draws are mutant counts with means far below 1.
POISSON_INVERSION_MAX = 30.0


def poisson_by_inversion(u: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Poisson(λ) draws as the smallest k with P(K ≤ k) ≥ u (sequential search, exact but for the
    rounding of the running sum, ~1e-15). For small λ: the search takes about λ + 1 passes (a
    compiled loop; P(K = 0) comes from numpy's exp, so the numbers are those of the vectorised
    search it replaced)."""
    u = np.asarray(u, dtype=float)
    shape = u.shape
    u = u.ravel()
    lam = np.ascontiguousarray(np.broadcast_to(np.asarray(lam, dtype=float), shape).ravel())
    # The running sum can round to just below 1; the cap stops a search past any mass.
    cap = 60 + 3 * float(lam.max(initial=0.0))
    return _kernels.poisson_search(u, lam, np.exp(-lam), cap).reshape(shape)


class Draws:
    """Draw arrays of random numbers, each element owned by a group."""

    def __init__(self, rng: np.random.Generator | PatientStreams) -> None:
        if isinstance(rng, PatientStreams):
            self.streams: PatientStreams | None = rng
            self.gen = None
        elif isinstance(rng, np.random.Generator):
            self.streams, self.gen = None, rng
        else:
            raise TypeError(
                f"rng = {rng!r} is not accepted: pass a numpy.random.Generator (e.g. "
                "numpy.random.default_rng(seed)) or gistsim.streams.PatientStreams"
            )

    @property
    def per_patient(self) -> bool:
        return self.streams is not None

    @property
    def compiles(self) -> bool:
        """Whether the engine's compiled loops can draw: one generator, or per-patient PCG64
        generators (numba's samplers on the generators themselves, :mod:`gistsim.engine._kernels`)."""
        return self.gen is not None or self.streams.typed_generators is not None

    def compiled(self, owner: np.ndarray | None, size: int) -> tuple[object, np.ndarray, int]:
        """For the engine's compiled loops (when :attr:`compiles`): the generators (the one
        generator, or a typed list of the patients'), each of ``size`` elements' generator index
        (from ``owner``, ignored with one generator) and the number of generators."""
        if self.gen is not None:
            return self.gen, np.zeros(size, dtype=np.int64), 1
        return self.streams.typed_generators, self.streams.index[owner], len(self.streams.generators)

    def remap(self, group_to_patient: np.ndarray) -> Draws:
        """Draws whose owners are new groups mapped onto the current ones."""
        return self if self.streams is None else Draws(self.streams.remap(group_to_patient))

    def _runs(self, owner: np.ndarray) -> tuple[np.ndarray | None, list[int], list[int], list[int]]:
        """Elements sorted by generator (stable): the order (None when they already are), and each
        generator's run (lo, hi, index)."""
        # One compiled pass: ~12,000 calls a block, each on a few hundred elements, where numpy's
        # per-operation overhead dominated (0.47 s of a 250-patient block's 5.9 s).
        order, los, his, first = self._run_arrays(owner)
        return order, los.tolist(), his.tolist(), first.tolist()

    def _run_arrays(self, owner: np.ndarray) -> tuple[np.ndarray | None, np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`_runs` as arrays, for compiled consumers."""
        grouped, order, los, his, first = _kernels.owner_runs(self.streams.index, owner, len(self.streams.generators))
        return (None if grouped else order), los, his, first

    def _apply(self, owner: np.ndarray, method: str, *args: np.ndarray) -> np.ndarray:
        """``generator.<method>(*args)`` per owner, element by element in order, for draws with one
        or two argument arrays (int64 results).

        One compiled loop (:mod:`gistsim._stream_kernels`) when the generators allow it and numpy
        would accept the arguments. Otherwise numpy's methods: owners with at most
        :data:`SCALAR_MAX` elements draw them one scalar call at a time, the others with one array
        call (numpy's array-argument methods validate their arguments with Python-level
        reductions, ~8-25 µs a call, scalar calls cost <1 µs). Every path draws the same numbers
        and leaves each generator in the same state (tests compare them).
        """
        owner = np.asarray(owner)
        shape = owner.shape
        owner = owner.ravel()
        args = tuple(a.ravel() if a.shape == shape else np.broadcast_to(a, shape).ravel() for a in map(np.asarray, args))
        if len(owner) == 0:
            return np.empty(shape, dtype=np.int64)
        gens_typed = self.streams.typed_generators
        if gens_typed is not None and _stream_kernels.valid_arguments(method, args):
            order, los, his, first = self._run_arrays(owner)
            a, *b = [x if order is None else x[order] for x in args]
            binomial = method == "binomial"
            counts = np.ascontiguousarray(a, dtype=np.int64) if binomial else np.empty(0, dtype=np.int64)
            x = np.empty(0) if binomial else np.ascontiguousarray(a, dtype=float)
            p = np.ascontiguousarray(b[0], dtype=float) if b else np.empty(0)
            drawn = _stream_kernels.draw(gens_typed, _stream_kernels.LAWS[method], los, his, first, counts, x, p,
                                         np.empty(len(owner), dtype=np.int64))  # fmt: skip
            if order is None:
                return drawn.reshape(shape)
            out = np.empty(len(owner), dtype=np.int64)
            out[order] = drawn
            return out.reshape(shape)
        fn = getattr(np.random.Generator, method)
        order, los, his, first_gen = self._runs(owner)
        sorted_args = list(args) if order is None else [a[order] for a in args]
        v0 = sorted_args[0].tolist()
        v1 = sorted_args[1].tolist() if len(args) == 2 else None
        gens = self.streams.generators
        drawn = [0] * len(owner)
        for lo, hi, k in zip(los, his, first_gen):
            g = gens[k]
            if hi - lo > SCALAR_MAX:
                drawn[lo:hi] = fn(g, *(a[lo:hi] for a in sorted_args)).tolist()
            elif v1 is None:  # unrolled: a generator expression per element cost as much as the draw
                for i in range(lo, hi):
                    drawn[i] = fn(g, v0[i])
            else:
                for i in range(lo, hi):
                    drawn[i] = fn(g, v0[i], v1[i])
        if order is None:
            return np.array(drawn, dtype=np.int64).reshape(shape)
        out = np.empty(len(owner), dtype=np.int64)
        out[order] = drawn
        return out.reshape(shape)

    def _sized(self, owner: np.ndarray, method: str) -> np.ndarray:
        """``generator.<method>(k)`` for each owner's k elements (draws that take only a count):
        the argument-free path of :meth:`_apply`, same values in the same order."""
        owner = np.asarray(owner)
        shape = owner.shape
        owner = owner.ravel()
        if len(owner) == 0:
            return np.empty(shape)
        addresses = self.streams.state_addresses if method == "random" else None
        # Normals use the typed list only where the compiled engine has built it: building one costs
        # ~26 µs a generator, and a family drawing a few normals per patient (the pace of disease:
        # 80 ms of list for 1,000 patients) draws them for less with one numpy call per generator.
        gens_typed = self.streams._typed or None if method == "standard_normal" else None
        if addresses is not None:
            order, los, his, first_gen = self._run_arrays(owner)
            drawn = _stream_kernels.fill_uniforms(addresses, los, his, first_gen, np.empty(len(owner)))
        elif gens_typed is not None:
            order, los, his, first_gen = self._run_arrays(owner)
            drawn = _stream_kernels.fill_normals(gens_typed, los, his, first_gen, np.empty(len(owner)))
        else:
            order, los, his, first_gen = self._runs(owner)
            gens = self.streams.generators
            drawn = np.concatenate([getattr(gens[k], method)(hi - lo) for lo, hi, k in zip(los, his, first_gen)])
        if order is None:
            return drawn.reshape(shape)
        out = np.empty(len(owner))
        out[order] = drawn
        return out.reshape(shape)

    def owners_at(self, owner: np.ndarray, index: np.ndarray) -> np.ndarray:
        """``owner[index]`` for an integer ``index``; one generator needs only the shape: ``index``."""
        return index if self.streams is None else owner[index]

    def random(self, owner: np.ndarray) -> np.ndarray:
        if self.gen is not None:
            return self.gen.random(np.shape(owner))
        return self._sized(owner, "random")

    def standard_normal(self, owner: np.ndarray) -> np.ndarray:
        if self.gen is not None:
            return self.gen.standard_normal(np.shape(owner))
        return self._sized(owner, "standard_normal")

    def binomial(self, owner: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
        if self.gen is not None:
            return self.gen.binomial(n, p)
        return self._apply(owner, "binomial", n, p)

    def negative_binomial(self, owner: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
        if self.gen is not None:
            return self.gen.negative_binomial(n, p)
        return self._apply(owner, "negative_binomial", n, p)

    def poisson(self, owner: np.ndarray, lam: np.ndarray) -> np.ndarray:
        """Poisson draws; with per-patient streams, means ≤ :data:`POISSON_INVERSION_MAX` by
        inversion of the owner's uniforms (first, in element order), the others by its generator."""
        if self.gen is not None:
            return self.gen.poisson(lam)
        owner = np.asarray(owner)
        lam = np.broadcast_to(np.asarray(lam, dtype=float), owner.shape)
        small = lam <= POISSON_INVERSION_MAX
        if small.all():
            return poisson_by_inversion(self.random(owner), lam)
        out = np.empty(owner.shape, dtype=np.int64)
        if small.any():
            out[small] = poisson_by_inversion(self.random(owner[small]), lam[small])
        out[~small] = self._apply(owner[~small], "poisson", lam[~small])
        return out

    def geometric(self, owner: np.ndarray, p: np.ndarray) -> np.ndarray:
        if self.gen is not None:
            return self.gen.geometric(p)
        return self._apply(owner, "geometric", p)


def as_draws(rng: np.random.Generator | PatientStreams | Draws) -> Draws:
    """Wrap a generator or patient streams (a :class:`Draws` passes through)."""
    return rng if isinstance(rng, Draws) else Draws(rng)


def owners(draws: Draws, owner: np.ndarray | None, size: int) -> np.ndarray:
    """``owner``, required with per-patient streams; zeros (ignored) with one generator."""
    if owner is None:
        if draws.per_patient:
            raise ValueError("per-patient streams need the owner of every element; owner is None")
        return np.zeros(size, dtype=np.int64)
    return owner
