"""Storages and tensors as a torch checkpoint describes them, read lazily and bounds-checked.

Everything here comes from a file that may be hostile. The objects are frozen after construction
(the unpickler cannot change them either: see restricted_pickle.py), and every tensor's storage,
offset, shape and strides are validated twice: when the tensor record is unpickled (against the
storage size the pickle claims) and again when its bytes are read (against the number of elements
the container really holds for that storage).
"""
import math

import numpy as np

from . import ConversionError

# A dimension, stride or offset beyond this is never a real weight; refusing it early keeps all
# later arithmetic (numpy strides, byte counts, safetensors offsets) far from int64 overflow.
MAX_INDEX = 1 << 48
# Elements in one tensor, counting stride-0 expansions (16 GiB as F32): far above any weight of
# the supported networks, and a clear "too large" error instead of an attempt to write terabytes.
MAX_TENSOR_ELEMENTS = 1 << 32


class Frozen:
    """Attributes are set once in __init__ (through object.__setattr__) and never again."""
    __slots__ = ()

    def __setattr__(self, name, value):
        raise AttributeError(f'{type(self).__name__} objects are read-only')

    def __delattr__(self, name):
        raise AttributeError(f'{type(self).__name__} objects are read-only')

    def _init(self, **values):
        for name, value in values.items():
            object.__setattr__(self, name, value)


def is_index(x):
    """A non-negative Python int (not a bool) below MAX_INDEX."""
    return type(x) is int and 0 <= x < MAX_INDEX


class StorageType(Frozen):
    """Stand-in for torch.<Name>Storage classes: only carries the element type."""
    __slots__ = ('name', 'numpy_dtype', 'safetensors_dtype')

    def __init__(self, name, numpy_dtype, safetensors_dtype):
        # little-endian on disk; bfloat16 read as uint16 and widened on output
        self._init(name=name, numpy_dtype=np.dtype(numpy_dtype), safetensors_dtype=safetensors_dtype)

    def __repr__(self):
        return f'torch.{self.name}'


STORAGE_TYPES = {name: StorageType(name, dt, st) for name, dt, st in [
    ('FloatStorage', '<f4', 'F32'), ('DoubleStorage', '<f8', 'F64'), ('HalfStorage', '<f2', 'F16'),
    ('BFloat16Storage', '<u2', 'BF16'), ('LongStorage', '<i8', 'I64'), ('IntStorage', '<i4', 'I32'),
    ('ShortStorage', '<i2', 'I16'), ('CharStorage', 'i1', 'I8'), ('ByteStorage', 'u1', 'U8'),
    ('BoolStorage', '?', 'BOOL')]}


class Storage(Frozen):
    """One serialized storage: `numel` elements of one type, as the pickle claims.

    The container attaches a reader and the number of elements it really holds (`available`);
    until then the storage cannot be read."""
    __slots__ = ('key', 'type', 'numel', '_reader', '_available', '_dtype')

    def __init__(self, key, storage_type, numel):
        self._init(key=key, type=storage_type, numel=numel, _reader=None, _available=None, _dtype=None)

    def attach(self, reader, available, dtype):
        """reader(first, count) -> the bytes of elements [first, first + count) (fewer if the file
        is short); available: elements the container holds; dtype: their numpy dtype on disk."""
        if self._reader is not None:
            raise ConversionError(f'storage {self.key!r} has two data records (corrupt checkpoint)')
        if not (is_index(available) and available >= self.numel):
            raise ConversionError(f'storage {self.key!r} holds {available} elements on disk, the '
                                  f'checkpoint claims {self.numel} (corrupt checkpoint)')
        object.__setattr__(self, '_reader', reader)
        object.__setattr__(self, '_available', available)
        object.__setattr__(self, '_dtype', dtype)

    def read(self, first, count):
        """1-D ndarray of elements [first, first + count), read-only; bounds checked here."""
        if self._reader is None:
            raise ConversionError(f'storage {self.key!r} has no data in the file (corrupt checkpoint)')
        if not (is_index(first) and is_index(count) and first + count <= self._available):
            raise ConversionError(f'read of elements [{first}, {first}+{count}) is outside storage '
                                  f'{self.key!r} of {self._available} elements (corrupt checkpoint)')
        dtype = self._dtype
        raw = self._reader(first, count)
        if len(raw) != count * dtype.itemsize:
            raise ConversionError(f'storage {self.key!r}: read {len(raw)} bytes, expected '
                                  f'{count * dtype.itemsize} (truncated or corrupt checkpoint)')
        return np.frombuffer(raw, dtype=dtype, count=count)

    @property
    def disk_dtype(self):
        return self._dtype if self._dtype is not None else self.type.numpy_dtype


class StorageView(Frozen):
    """Legacy view of a root storage: `numel` elements starting at element `offset` (old torch)."""
    __slots__ = ('root', 'offset', 'numel')

    def __init__(self, root, offset, numel):
        if not (isinstance(root, Storage) and is_index(offset) and is_index(numel)
                and offset + numel <= root.numel):
            raise ConversionError(f'storage view [{offset}, {offset}+{numel}) reaches past the end of '
                                  f'storage {getattr(root, "key", "?")!r} (corrupt checkpoint)')
        self._init(root=root, offset=offset, numel=numel)


def _extent(shape, stride):
    """Elements from the first to one past the last element the layout touches (0 if empty)."""
    if any(n == 0 for n in shape):
        return 0
    return 1 + sum((n - 1) * s for n, s in zip(shape, stride))


def _check_layout(storage_key, offset, shape, stride, limit):
    """Raise unless the layout is well-typed and offset + extent <= limit; returns the extent."""
    if not (is_index(offset) and type(shape) is tuple and type(stride) is tuple
            and len(shape) == len(stride) and all(map(is_index, shape)) and all(map(is_index, stride))):
        raise ConversionError(f'malformed tensor record on storage {storage_key!r}: offset {offset!r}, '
                              f'size {shape!r}, stride {stride!r} (corrupt checkpoint)')
    numel = math.prod(shape)
    if numel > MAX_TENSOR_ELEMENTS:
        raise ConversionError(f'tensor of shape {list(shape)} on storage {storage_key!r} is too large '
                              f'({numel} elements, at most {MAX_TENSOR_ELEMENTS})')
    extent = _extent(shape, stride)
    if offset + extent > limit:
        raise ConversionError(f'tensor of shape {list(shape)}, stride {list(stride)} at offset {offset} '
                              f'reaches past the end of its storage {storage_key!r} of {limit} elements '
                              '(corrupt checkpoint)')
    return extent


class StoredTensor(Frozen):
    """A tensor as described by the checkpoint (storage, offset, size, stride); data read lazily.

    shape: tuple of ints; dtype_name: safetensors spelling ('F32', 'I64', ...)."""
    __slots__ = ('storage', 'offset', 'shape', 'stride', '_limit')

    def __init__(self, storage, offset, shape, stride):
        if isinstance(storage, StorageView):
            root, base, limit = storage.root, storage.offset, storage.offset + storage.numel
        elif isinstance(storage, Storage):
            root, base, limit = storage, 0, storage.numel
        else:
            raise ConversionError('tensor record without a storage (corrupt checkpoint)')
        if not is_index(offset):
            raise ConversionError(f'malformed tensor offset {offset!r} on storage {root.key!r} '
                                  '(corrupt checkpoint)')
        shape, stride = _as_index_tuple(shape), _as_index_tuple(stride)
        _check_layout(root.key, base + offset, shape, stride, limit)
        self._init(storage=root, offset=base + offset, shape=shape, stride=stride, _limit=limit)

    @property
    def numel(self):
        return math.prod(self.shape)

    @property
    def storage_type(self):
        return self.storage.type.name

    @property
    def dtype_name(self):
        """safetensors dtype name of the stored data, e.g. 'F32', 'I64'."""
        return self.storage.type.safetensors_dtype

    @property
    def is_float(self):
        return self.dtype_name in ('F32', 'F64', 'F16', 'BF16')

    def _strided_view(self):
        """Read-only ndarray view of this tensor over its storage bytes, validated at the read."""
        storage = self.storage
        extent = _check_layout(storage.key, self.offset, self.shape, self.stride,
                               min(self._limit, storage._available if storage._available is not None
                                   else self._limit))
        dtype = storage.disk_dtype
        if extent == 0:
            return np.empty(self.shape, dtype=dtype)
        flat = storage.read(self.offset, extent)
        # A dimension of size 1 is never stepped over: its stride may be anything, so use 0.
        strides = [(s if n > 1 else 0) * dtype.itemsize for n, s in zip(self.shape, self.stride)]
        return np.lib.stride_tricks.as_strided(flat, shape=self.shape, strides=strides, writeable=False)

    def _native(self, array):
        """Contiguous native-endian copy; bfloat16 widened to float32 (exactly)."""
        array = np.array(array, dtype=array.dtype.newbyteorder('='), order='C')
        if self.storage_type == 'BFloat16Storage':
            array = (array.astype(np.uint32) << 16).view(np.float32)
        return array

    def numpy(self):
        """Contiguous native ndarray of the whole tensor; bfloat16 is widened to float32."""
        return self._native(self._strided_view())

    def blocks(self, max_elements=1 << 24):
        """The tensor in C order as contiguous native ndarrays of at most max_elements elements each
        (a stride-0 expansion is never materialised whole)."""
        for block in _split(self._strided_view(), max_elements):
            yield self._native(block)


def _as_index_tuple(values):
    """torch.Size / list / tuple of sizes as a tuple (validated by _check_layout)."""
    return tuple(values) if type(values) in (tuple, list) else values


def _split(view, max_elements):
    if view.size <= max_elements or view.ndim == 0:
        yield view
    elif view.ndim == 1:
        for start in range(0, view.shape[0], max_elements):
            yield view[start:start + max_elements]
    else:
        row = view[0].size
        if row > max_elements:
            for i in range(view.shape[0]):
                yield from _split(view[i], max_elements)
        else:
            rows = max_elements // row
            for start in range(0, view.shape[0], rows):
                yield view[start:start + rows]
