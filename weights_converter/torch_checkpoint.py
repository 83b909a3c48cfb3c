"""Read PyTorch checkpoints (torch.save files) without torch.

Two containers exist:
  * legacy (torch < 1.6, or _use_new_zipfile_serialization=False; BasicSR/mmedit release files):
      pickle(MAGIC_NUMBER) pickle(1001) pickle(sys_info) pickle(obj) pickle([storage keys])
      then, for each key in that list: int64 LE element count + raw little-endian data.
    Storages appear in obj as persistent ids ('storage', StorageType, key, location, numel, view).
  * zip (torch >= 1.6 default; the VRT release files): <dir>/data.pkl holds obj with persistent ids
    ('storage', StorageType, key, location, numel); <dir>/data/<key> holds each storage's raw bytes.

Unpickling goes through RestrictedUnpickler: find_class hands out a fixed set of local, inert
stand-ins and refuses every other global, so a checkpoint can never import or call arbitrary code.
Tensors come back as StoredTensor objects that know their shape/dtype and read their data only
when asked (recognition needs shapes only).
"""
import collections
import io
import os
import pickle
import struct
import zipfile

import numpy as np

from . import ConversionError

LEGACY_MAGIC_NUMBER = 0x1950a86a20f9469cfc6c
LEGACY_PROTOCOL_VERSION = 1001


class StorageType:
    """Stand-in for torch.<Name>Storage classes: only carries the element type."""

    def __init__(self, name, numpy_dtype):
        self.name = name
        self.numpy_dtype = np.dtype(numpy_dtype)  # little-endian on disk; bfloat16 read as uint16

    def __repr__(self):
        return f'torch.{self.name}'


STORAGE_TYPES = {name: StorageType(name, dt) for name, dt in [
    ('FloatStorage', '<f4'), ('DoubleStorage', '<f8'), ('HalfStorage', '<f2'),
    ('BFloat16Storage', '<u2'), ('LongStorage', '<i8'), ('IntStorage', '<i4'),
    ('ShortStorage', '<i2'), ('CharStorage', 'i1'), ('ByteStorage', 'u1'), ('BoolStorage', '?')]}

# Output dtype names (safetensors spelling) per storage type.
SAFETENSORS_DTYPE = {'FloatStorage': 'F32', 'DoubleStorage': 'F64', 'HalfStorage': 'F16',
                     'BFloat16Storage': 'BF16', 'LongStorage': 'I64', 'IntStorage': 'I32',
                     'ShortStorage': 'I16', 'CharStorage': 'I8', 'ByteStorage': 'U8',
                     'BoolStorage': 'BOOL'}


class Storage:
    """One serialized storage: numel elements of one type, read on demand through `reader`."""

    def __init__(self, key, storage_type, numel):
        self.key = key
        self.type = storage_type
        self.numel = numel
        self.reader = None  # set by the container: reader(first_element, count) -> 1-D ndarray

    def read(self, first, count):
        if self.reader is None:
            raise ConversionError(f'storage {self.key!r} has no data in the file (corrupt checkpoint)')
        return self.reader(first, count)


class StorageView:
    """Legacy view of a root storage starting at element `offset` (very old torch only)."""

    def __init__(self, root, offset, numel):
        self.root, self.offset, self.numel = root, offset, numel


class StoredTensor:
    """A tensor as described by the checkpoint (storage, offset, size, stride); data read lazily."""

    def __init__(self, storage, offset, shape, stride):
        if isinstance(storage, StorageView):
            offset += storage.offset
            storage = storage.root
        self.storage = storage
        self.offset = offset
        self.shape = tuple(shape)
        self.stride = tuple(stride)
        extent = 1 + sum((n - 1) * s for n, s in zip(self.shape, self.stride)) if self.numel else 0
        if offset + extent > storage.numel:
            raise ConversionError(f'tensor of shape {list(self.shape)} reaches past the end of its '
                                  f'storage {storage.key!r} (corrupt checkpoint)')
        self.extent = extent

    @property
    def numel(self):
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def storage_type(self):
        return self.storage.type.name

    @property
    def dtype_name(self):
        """safetensors dtype name of the stored data, e.g. 'F32', 'I64'."""
        return SAFETENSORS_DTYPE[self.storage_type]

    @property
    def is_float(self):
        return self.dtype_name in ('F32', 'F64', 'F16', 'BF16')

    def numpy(self):
        """Contiguous native ndarray; bfloat16 is widened to float32 (exactly)."""
        flat = self.storage.read(self.offset, self.extent)
        item = flat.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat, shape=self.shape, strides=[s * item for s in self.stride], writeable=False)
        array = np.array(view, dtype=flat.dtype.newbyteorder('='), order='C')
        if self.storage_type == 'BFloat16Storage':
            array = (array.astype(np.uint32) << 16).view(np.float32)
        return array


# ---------------------------------------------------------------------------------------------
# Restricted unpickling

def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored):
    """torch._utils._rebuild_tensor(_v2): extra arguments (requires_grad, hooks, metadata) unused."""
    if not isinstance(storage, (Storage, StorageView)):
        raise ConversionError('tensor record without a storage (corrupt checkpoint)')
    if not (_is_int(storage_offset) and _is_int_tuple(size) and _is_int_tuple(stride)
            and len(size) == len(stride)):
        raise ConversionError('malformed tensor record (corrupt checkpoint)')
    return StoredTensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, *_ignored):
    """torch._utils._rebuild_parameter(_with_state): a Parameter is just its tensor here."""
    return data


_SAFE_NUMPY_DTYPES = {'b1', 'i1', 'i2', 'i4', 'i8', 'u1', 'u2', 'u4', 'u8', 'f2', 'f4', 'f8'}


def _numpy_dtype(spec, align=False, copy=False):
    """numpy.dtype for numpy scalars in mmcv 'meta' dicts; plain numeric types only."""
    if not (isinstance(spec, str) and spec in _SAFE_NUMPY_DTYPES):
        raise ConversionError(f'checkpoint uses numpy dtype {spec!r}, which is not allowed')
    return np.dtype(spec)


def _numpy_scalar(dtype, data=None):
    if not (isinstance(dtype, np.dtype) and dtype.kind in 'biuf' and not dtype.hasobject
            and isinstance(data, bytes) and len(data) == dtype.itemsize):
        raise ConversionError('malformed numpy scalar in checkpoint')
    return np.frombuffer(data, dtype=dtype, count=1)[0]


def _codecs_encode(text, encoding='utf-8'):
    """Protocol-2 pickles spell bytes objects as _codecs.encode(str, 'latin1')."""
    if not isinstance(text, str) or encoding not in ('latin1', 'latin-1'):
        raise ConversionError('malformed bytes object in checkpoint')
    return text.encode('latin1')


ALLOWED_GLOBALS = {
    ('collections', 'OrderedDict'): collections.OrderedDict,
    ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor,
    ('torch._utils', '_rebuild_tensor'): _rebuild_tensor,
    ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
    ('torch._utils', '_rebuild_parameter_with_state'): _rebuild_parameter,
    ('numpy', 'dtype'): _numpy_dtype,
    ('numpy.core.multiarray', 'scalar'): _numpy_scalar,
    ('_codecs', 'encode'): _codecs_encode,
}
ALLOWED_GLOBALS.update({('torch', name): t for name, t in STORAGE_TYPES.items()})


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only ALLOWED_GLOBALS and turns storage ids into Storage objects."""

    def __init__(self, file, storage_id_length):
        super().__init__(file, encoding='utf-8')
        self.storage_id_length = storage_id_length  # 6 for legacy ids, 5 for zip ids
        self.storages = {}  # key -> Storage, shared by all tensors on the same storage

    def find_class(self, module, name):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise ConversionError(f'checkpoint references the global {module}.{name}, which is not '
                                  'allowed in a weights file (refused, nothing was executed)') from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == self.storage_id_length):
            raise ConversionError(f'unsupported persistent id in checkpoint: {str(pid)[:80]}')
        kind, storage_type, key, _location, numel = pid[:5]
        kind = kind.decode('ascii') if isinstance(kind, bytes) else kind
        if kind == 'module':
            raise ConversionError('checkpoint holds a pickled nn.Module, not a state dict')
        if kind != 'storage' or not isinstance(storage_type, StorageType) \
                or not isinstance(key, str) or not _is_int(numel):
            raise ConversionError(f'malformed storage record in checkpoint: {str(pid)[:80]}')
        storage = self.storages.get(key)
        if storage is None:
            storage = self.storages[key] = Storage(key, storage_type, numel)
        elif storage.type is not storage_type:
            raise ConversionError(f'storage {key!r} is used with two element types')
        view = pid[5] if len(pid) == 6 else None
        if view is None:
            return storage
        if not (isinstance(view, tuple) and len(view) == 3 and _is_int(view[1]) and _is_int(view[2])):
            raise ConversionError('malformed storage view in checkpoint')
        return StorageView(storage, view[1], view[2])


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _is_int_tuple(x):
    return isinstance(x, (tuple, list)) and all(_is_int(v) for v in x)


_PICKLE_ERRORS = (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
                  AttributeError, struct.error, UnicodeDecodeError, RecursionError)


def _unpickle(file, storage_id_length=6, what='checkpoint'):
    unpickler = RestrictedUnpickler(file, storage_id_length)
    try:
        return unpickler.load(), unpickler.storages
    except ConversionError:
        raise
    except EOFError:
        raise ConversionError(f'{what} ends early (truncated file?)') from None
    except _PICKLE_ERRORS as e:
        raise ConversionError(f'not a PyTorch checkpoint ({what} is not a valid pickle: '
                              f'{type(e).__name__}: {e})') from None


# ---------------------------------------------------------------------------------------------
# Containers

class Checkpoint:
    """The unpickled top-level object plus the container kind ('legacy' or 'zip')."""

    def __init__(self, obj, container, closer=None):
        self.obj = obj
        self.container = container
        self._closer = closer

    def close(self):
        if self._closer:
            self._closer()
            self._closer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def load(path):
    """Open a .pth file; returns a Checkpoint whose tensors are StoredTensor objects."""
    try:
        size = os.path.getsize(path)
        with open(path, 'rb') as f:
            head = f.read(512)
    except OSError as e:
        raise ConversionError(f'cannot read {path}: {e.strerror or e}') from None
    if head[:4] == b'PK\x03\x04':
        return _load_zip(path)
    if len(head) >= 262 and head[257:262] == b'ustar':
        raise ConversionError('this is the pre-1.0 tar-based torch format, which is not supported; '
                              're-save it with a current torch')
    if not head.startswith(b'\x80'):
        raise ConversionError('not a PyTorch checkpoint (neither a zip archive nor a pickle)')
    return _load_legacy(path, size)


def _load_legacy(path, file_size):
    f = open(path, 'rb')
    try:
        magic, _ = _unpickle(f, what='legacy header')
        if magic != LEGACY_MAGIC_NUMBER:
            raise ConversionError('not a PyTorch checkpoint (pickle without the torch magic number)')
        version, _ = _unpickle(f, what='legacy header')
        if version != LEGACY_PROTOCOL_VERSION:
            raise ConversionError(f'unsupported legacy torch protocol version {version!r}')
        sys_info, _ = _unpickle(f, what='legacy header')
        if isinstance(sys_info, dict) and sys_info.get('little_endian') is False:
            raise ConversionError('big-endian legacy checkpoints are not supported')
        obj, storages = _unpickle(f, storage_id_length=6, what='legacy checkpoint')
        keys, _ = _unpickle(f, what='legacy storage key list')
        if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
            raise ConversionError('malformed storage key list in legacy checkpoint')
        _locate_legacy_storages(f, file_size, keys, storages, path)
    except BaseException:
        f.close()
        raise
    f.close()
    return Checkpoint(obj, 'legacy')


def _locate_legacy_storages(f, file_size, keys, storages, path):
    """Walk the data section: each storage is an int64 element count followed by its bytes."""
    pos = f.tell()
    for key in keys:
        storage = storages.get(key)
        if storage is None:
            raise ConversionError(f'legacy checkpoint lists unknown storage {key!r}')
        f.seek(pos)
        raw = f.read(8)
        if len(raw) < 8:
            raise ConversionError(f'legacy checkpoint ends before storage {key!r} (truncated file?)')
        (count,) = struct.unpack('<q', raw)
        if count != storage.numel:
            raise ConversionError(f'storage {key!r} holds {count} elements, expected '
                                  f'{storage.numel} (corrupt checkpoint)')
        data_start = pos + 8
        pos = data_start + count * storage.type.numpy_dtype.itemsize
        if pos > file_size:
            raise ConversionError(f'legacy checkpoint ends inside storage {key!r} (truncated file?)')
        storage.reader = _file_reader(path, data_start, storage.type.numpy_dtype)
    missing = set(storages) - set(keys)
    if missing:
        raise ConversionError(f'legacy checkpoint has no data for storage {sorted(missing)[0]!r}')


def _file_reader(path, data_start, dtype):
    def read(first, count):
        return np.fromfile(path, dtype=dtype, count=count, offset=data_start + first * dtype.itemsize)
    return read


def _load_zip(path):
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise ConversionError(f'corrupt or truncated zip checkpoint ({e})') from None
    try:
        pickles = [n for n in archive.namelist() if n.endswith('data.pkl') and n.count('/') == 1]
        if len(pickles) != 1:
            raise ConversionError('zip archive is not a torch checkpoint (no <dir>/data.pkl)')
        prefix = pickles[0][:-len('data.pkl')]
        big_endian = _zip_text(archive, prefix + 'byteorder') == 'big'
        with archive.open(pickles[0]) as f:
            obj, storages = _unpickle(io.BytesIO(f.read()), storage_id_length=5,
                                      what='zip checkpoint data.pkl')
        names = set(archive.namelist())
        for key, storage in storages.items():
            name = f'{prefix}data/{key}'
            if name not in names:
                raise ConversionError(f'zip checkpoint has no data record {name!r}')
            dtype = storage.type.numpy_dtype
            if big_endian:
                dtype = dtype.newbyteorder('>')
            if archive.getinfo(name).file_size < storage.numel * dtype.itemsize:
                raise ConversionError(f'zip record {name!r} is shorter than its storage')
            storage.reader = _zip_reader(archive, name, dtype)
    except zipfile.BadZipFile as e:
        archive.close()
        raise ConversionError(f'corrupt zip checkpoint ({e})') from None
    except BaseException:
        archive.close()
        raise
    return Checkpoint(obj, 'zip', closer=archive.close)


def _zip_text(archive, name):
    try:
        return archive.read(name).decode('ascii', 'replace').strip()
    except KeyError:
        return None


def _zip_reader(archive, name, dtype):
    def read(first, count):
        try:
            with archive.open(name) as f:
                f.seek(first * dtype.itemsize)
                raw = f.read(count * dtype.itemsize)
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise ConversionError(f'cannot read zip record {name!r} ({e})') from None
        return np.frombuffer(raw, dtype=dtype, count=count)
    return read
