"""The Split API: one split of the data (train, eval or representative) as a re-iterable stream of
(x, y) samples, x as float32 (or the model's integer input type, once `check_against_model` set
`x_dtype`: token ids), y as stored — what the pipeline and the stages use:

    split.samples                    number of samples (cardinality, else one counting pass, cached)
    split.element_shape              shape of one x, without the batch axis (None for unknown dims)
    split.label_shape                shape of one y, or None when the split has no labels
    split.dataset(bs, shuffle, seed) batched, prefetched tf.data.Dataset of (x, y) (x alone without labels)
    split.batches(bs)                iterator of numpy (x, y) batches in order (y None without labels)
    split.take(n, seed)              numpy x of n samples drawn deterministically (calibration)
    split.first(n)                   numpy x of the first n samples (a latency probe)
    split.x / split.y                the whole split as arrays (npz: the arrays; other sources: materialised
                                     on first use — prefer batches())
    split.split_off(fraction, seed)  (rest, held out): a validation split

`take(n, seed)`: for random-access sources (npz, image_dir) n distinct indices from
numpy.random.default_rng(seed).choice, read in index order (`random_indices`); for streamed sources
(`StreamSplit`: tfrecord, tfds, python) the first n samples after
`shuffle(buffer_size=min(10_000, max(1_000, 10 * n)), seed=seed)` — a bounded buffer, so only that many
samples are read. Errors a user can cause are `InputError` (exit 3) naming the split (`data.train`), and
where it helps the sample index and file. TensorFlow is imported inside the methods that need it.
"""
from __future__ import annotations

from typing import Any, Iterator, Optional

import numpy as np

from ..errors import InputError
from .common import CHUNK, as_shape, tf_message
from .common import tf as _tf

#: shuffle buffer for streamed sources (random-access sources are shuffled completely)
SHUFFLE_BUFFER = 10_000


class Split:
    """One split of the data (train, eval or representative): a re-iterable stream of (x, y) samples."""

    random_access = False

    def __init__(self, name: str, source: Any, where: Optional[str] = None):
        self.name = name
        self.source = source
        self.where = where or f"data.{name}"
        self._n: Optional[int] = None
        self._cache: Optional[tuple] = None
        self.x_dtype: Optional[np.dtype] = None  # set for a model with an integer input: x is given in it

    # ---- what a source provides
    def _count(self) -> int:
        raise NotImplementedError

    def _specs(self) -> tuple:
        """(x shape, y shape or None, y numpy dtype or None), shapes without the batch axis."""
        raise NotImplementedError

    def _elements(self, shuffle: bool = False, seed: int = 0):
        """Unbatched tf.data.Dataset of (x, y) (x alone without labels) in source order."""
        raise NotImplementedError

    def sample_name(self, i: int) -> str:
        """' (file ...)' for sample i where the source knows it, else ''."""
        return ""

    def x_label(self) -> str:
        """What holds the inputs, e.g. 'data.npz[x_train]', where the source knows it, else ''."""
        return ""

    def _as_x(self, x):
        """x in `x_dtype` where one is set (numpy arrays and tensors)."""
        if self.x_dtype is None:
            return x
        if isinstance(x, np.ndarray):
            return x.astype(self.x_dtype, copy=False)
        return _tf().cast(x, self.x_dtype)

    def _subset(self, mask: np.ndarray, name: str, where: str) -> "Split":
        raise NotImplementedError

    # ---- the API
    @property
    def samples(self) -> int:
        if self._n is None:
            self._n = int(self._count())
        return self._n

    @samples.setter
    def samples(self, n: int) -> None:
        """Set by a pass that counted the samples (the checks against the model)."""
        self._n = int(n)

    def random_indices(self, n: int, seed: int) -> np.ndarray:
        """n distinct sample indices (fewer when the split is smaller) drawn by
        numpy.random.default_rng(seed).choice, sorted: what random-access splits `take`."""
        rng = np.random.default_rng(int(seed))
        m = min(int(n), self.samples)
        return np.sort(rng.choice(self.samples, size=m, replace=False))

    @property
    def element_shape(self) -> tuple:
        return self._specs()[0]

    @property
    def label_shape(self) -> Optional[tuple]:
        return self._specs()[1]

    @property
    def has_labels(self) -> bool:
        return self._specs()[1] is not None

    def dataset(self, batch_size: int, shuffle: bool = False, seed: int = 0):
        """A batched, prefetched `tf.data.Dataset` of (x, y) — shuffled (seeded, anew every epoch) if asked."""
        tf = _tf()
        ds = self._elements(shuffle, seed).batch(int(batch_size))
        if self.x_dtype is not None:
            ds = ds.map(lambda *e: (self._as_x(e[0]),) + tuple(e[1:]) if len(e) > 1 else self._as_x(e[0]))
        return ds.prefetch(tf.data.AUTOTUNE)

    def batches(self, batch_size: int = CHUNK) -> Iterator[tuple]:
        """numpy (x, y) batches in source order (y None without labels); streams, reads each sample once."""
        tf = _tf()
        it = self.dataset(batch_size).as_numpy_iterator()
        start = 0
        labels = self.has_labels
        while True:
            try:
                b = next(it)
            except StopIteration:
                return
            except tf.errors.OpError as e:
                raise self._read_error(e, start, start + int(batch_size)) from None
            x, y = b if labels else (b, None)
            start += len(x)
            yield self._as_x(x), y

    def take(self, n: int, seed: int = 0) -> np.ndarray:
        """x of n samples drawn deterministically (fewer when the split is smaller); see the module doc."""
        tf = _tf()
        n = int(n)
        ds = self._elements().shuffle(min(SHUFFLE_BUFFER, max(1_000, 10 * n)), seed=int(seed),
                                      reshuffle_each_iteration=False).take(n)
        return self._collect_x(ds, tf)

    def first(self, n: int = 1) -> np.ndarray:
        """x of the first n samples."""
        tf = _tf()
        return self._collect_x(self._elements().take(int(n)), tf)

    def _collect_x(self, ds, tf) -> np.ndarray:
        labels = self.has_labels
        xs = []
        try:
            for b in ds.batch(CHUNK).as_numpy_iterator():
                xs.append(b[0] if labels else b)
        except tf.errors.OpError as e:
            # find the bad sample with an ordered pass (raises the located error)
            for _ in self.batches(CHUNK):
                pass
            raise InputError(f"{self.where}: cannot read samples: {tf_message(e)}") from None
        if not xs:
            raise InputError(f"{self.where}: no samples")
        return self._as_x(np.concatenate(xs, axis=0))

    @property
    def x(self) -> np.ndarray:
        """All inputs as one array (materialised on first use; prefer batches())."""
        return self._materialise()[0]

    @property
    def y(self) -> Optional[np.ndarray]:
        """All labels as one array (materialised on first use; prefer batches())."""
        return self._materialise()[1]

    def _materialise(self) -> tuple:
        if self._cache is None:
            xs, ys = [], []
            for x, y in self.batches(CHUNK):
                xs.append(x)
                if y is not None:
                    ys.append(y)
            if not xs:
                raise InputError(f"{self.where}: no samples")
            self._cache = (np.concatenate(xs), np.concatenate(ys) if ys else None)
            self._n = len(self._cache[0])
        return self._cache

    def split_off(self, fraction: float, seed: int, name: str = "eval") -> tuple["Split", "Split"]:
        """(rest, held out): exactly round(fraction * n) samples held out, chosen by
        numpy.random.default_rng(seed).permutation(n)[:k]; both keep the source's order."""
        n = self.samples
        k = int(round(float(fraction) * n))
        if k <= 0 or k >= n:
            raise InputError(f"data.eval.validation_split: {fraction} of the {n} samples of {self.where} leaves "
                             f"{'no samples to evaluate' if k <= 0 else 'no samples to train on'}")
        held = np.zeros(n, dtype=bool)
        held[np.random.default_rng(int(seed)).permutation(n)[:k]] = True
        rest = self._subset(~held, self.name, self.where)
        ev = self._subset(held, name, f"data.{name} (validation_split of {self.where})")
        rest.x_dtype = ev.x_dtype = self.x_dtype
        return rest, ev

    # ---- errors
    def _locate(self, start: int, stop: int) -> Optional[int]:
        """Index of the first sample in [start, stop) that cannot be read, or None."""
        tf = _tf()
        it = iter(self._elements().skip(start).take(max(0, stop - start)))
        i = start
        while True:
            try:
                next(it)
            except StopIteration:
                return None
            except tf.errors.OpError:
                return i
            i += 1

    def _read_error(self, e: BaseException, start: int, stop: int) -> InputError:
        try:
            j = self._locate(start, stop)
        except Exception:  # noqa: BLE001 - the original error is what matters
            j = None
        if j is None:
            return InputError(f"{self.where}: cannot read samples {start}..{stop - 1}: {tf_message(e)}")
        return InputError(f"{self.where}: cannot read sample {j}{self.sample_name(j)}: {tf_message(e)}")

    def __repr__(self) -> str:
        n = self._n if self._n is not None else "?"
        return f"<{type(self).__name__} {self.where}: {n} samples>"


class StreamSplit(Split):
    """tfrecord, tfds, python: read front to back; a validation split keeps a mask over source order."""

    def __init__(self, name, source, make, specs: tuple, where: Optional[str] = None, count=None,
                 keep: Optional[np.ndarray] = None, describe=None):
        super().__init__(name, source, where)
        self.unbatched: Optional[bool] = None  # python sources: whether the loader unbatched the dataset
        self._make, self._spec_t, self._count_fn, self._keep, self._describe = make, specs, count, keep, describe

    def _specs(self) -> tuple:
        return self._spec_t

    def _base(self):
        return self._make()

    def _count(self) -> int:
        if self._keep is not None:
            return int(self._keep.sum())
        tf = _tf()
        card = int(self._base().cardinality())
        if card == int(tf.data.INFINITE_CARDINALITY):
            raise InputError(f"{self.where}: the dataset is infinite (does it call .repeat()?); give a finite one")
        if card >= 0:
            return card
        if self._count_fn is not None:
            return int(self._count_fn())
        n = 0
        for x, _ in self.batches(CHUNK):
            n += len(x)
        return n

    def _elements(self, shuffle: bool = False, seed: int = 0):
        tf = _tf()
        ds = self._base()
        if self._keep is not None:
            keep = tf.constant(self._keep)
            ds = ds.enumerate().filter(lambda i, e: tf.gather(keep, i)).map(lambda i, e: e)
        if shuffle:
            n = self._n if self._n is not None else SHUFFLE_BUFFER
            ds = ds.shuffle(max(1, min(SHUFFLE_BUFFER, n)), seed=int(seed), reshuffle_each_iteration=True)
        return ds

    def _source_index(self, i: int) -> int:
        if self._keep is None:
            return i
        pos = np.flatnonzero(self._keep)
        return int(pos[i]) if i < len(pos) else i

    def sample_name(self, i: int) -> str:
        j = self._source_index(i)
        desc = self._describe(j) if self._describe else ""
        if j != i:
            return f" (sample {j} of the source{', ' + desc if desc else ''})"
        return f" ({desc})" if desc else ""

    def _subset(self, mask, name, where):
        n_base = len(self._keep) if self._keep is not None else self.samples
        keep = np.zeros(n_base, dtype=bool)
        pos = np.flatnonzero(self._keep) if self._keep is not None else np.arange(n_base)
        keep[pos[mask]] = True
        out = StreamSplit(name, self.source, self._make, self._spec_t, where, self._count_fn, keep, self._describe)
        out.unbatched = self.unbatched
        return out


def dataset_specs(ds) -> tuple:
    """(x shape, y shape or None, y numpy dtype or None) of an unbatched dataset of (x, y) or x alone."""
    spec = ds.element_spec
    xs, ys = (spec if isinstance(spec, tuple) else (spec, None))
    return (as_shape(xs.shape), as_shape(ys.shape) if ys is not None else None,
            np.dtype(ys.dtype.as_numpy_dtype) if ys is not None else None)
