"""Read PyTorch checkpoints (torch.save files) without torch.

Two containers exist:
  * legacy (torch < 1.6, or _use_new_zipfile_serialization=False; BasicSR/mmedit release files):
      pickle(MAGIC_NUMBER) pickle(1001) pickle(sys_info) pickle(obj) pickle([storage keys])
      then, for each key in that list: int64 LE element count + raw little-endian data.
    Storages appear in obj as persistent ids ('storage', StorageType, key, location, numel, view).
  * zip (torch >= 1.6 default; the VRT release files): <dir>/data.pkl holds obj with persistent ids
    ('storage', StorageType, key, location, numel); <dir>/data/<key> holds each storage's raw bytes.

Unpickling goes through restricted_pickle.RestrictedUnpickler: it never imports or calls anything
outside a short allow-list of local stand-ins, other globals become inert placeholders, and no
object can be changed after it was created. Tensors come back as StoredTensor objects that know
their shape/dtype and read their data only when asked (recognition needs shapes only); every read
is checked against the number of elements the container really holds for that storage.
"""
import io
import os
import struct
import zipfile
import zlib

from . import ConversionError
from .restricted_pickle import BoundedReader, Placeholder, describe, short_repr, unpickle
from .stored_tensors import STORAGE_TYPES, Storage, StorageType, StorageView, StoredTensor  # noqa: F401

LEGACY_MAGIC_NUMBER = 0x1950a86a20f9469cfc6c
LEGACY_PROTOCOL_VERSION = 1001
# data.pkl of a zip checkpoint holds only the structure (the tensor data are separate records);
# a larger one is not a weights file, and reading it whole would only exhaust memory.
MAX_ZIP_PICKLE_BYTES = 1 << 30

# What the zipfile module raises on a corrupt archive or record.
ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, OSError, EOFError, ValueError,
              NotImplementedError, RuntimeError, struct.error, UnicodeDecodeError, KeyError,
              OverflowError)
try:
    import lzma
    ZIP_ERRORS += (lzma.LZMAError,)
except ImportError:  # Python built without lzma: zipfile cannot open such records either
    pass


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
    try:
        f = open(path, 'rb')
    except OSError as e:
        raise ConversionError(f'cannot read {path}: {e.strerror or e}') from None
    with f:
        source = BoundedReader(f, file_size)
        magic, _ = unpickle(source, what='legacy header')
        _refuse_placeholder(magic)
        if type(magic) is not int or magic != LEGACY_MAGIC_NUMBER:
            raise ConversionError('not a PyTorch checkpoint (pickle without the torch magic number)')
        version, _ = unpickle(source, what='legacy header')
        if type(version) is not int or version != LEGACY_PROTOCOL_VERSION:
            raise ConversionError(f'unsupported legacy torch protocol version {short_repr(version)}')
        sys_info, _ = unpickle(source, what='legacy header')
        if isinstance(sys_info, dict) and sys_info.get('little_endian') is False:
            raise ConversionError('big-endian legacy checkpoints are not supported')
        obj, storages = unpickle(source, storage_id_length=6, what='legacy checkpoint')
        _refuse_placeholder(obj)
        keys, _ = unpickle(source, what='legacy storage key list')
        if not (type(keys) is list and all(type(k) is str for k in keys)):
            raise ConversionError('malformed storage key list in legacy checkpoint')
        _locate_legacy_storages(f, file_size, keys, storages, path)
    return Checkpoint(obj, 'legacy')


def _refuse_placeholder(obj):
    """A whole pickle that is one call of a non-allowed global is not a checkpoint with metadata:
    say what it tried, right away."""
    if isinstance(obj, Placeholder):
        raise ConversionError(f'the checkpoint is {describe(obj)}')


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
        dtype = storage.type.numpy_dtype
        data_start = pos + 8
        pos = data_start + count * dtype.itemsize
        if pos > file_size:
            raise ConversionError(f'legacy checkpoint ends inside storage {key!r} (truncated file?)')
        storage.attach(_file_reader(path, data_start, dtype.itemsize), count, dtype)
    missing = set(storages) - set(keys)
    if missing:
        raise ConversionError(f'legacy checkpoint has no data for storage {sorted(missing)[0]!r}')


def _file_reader(path, data_start, itemsize):
    def read(first, count):
        try:
            with open(path, 'rb') as f:
                f.seek(data_start + first * itemsize)
                return f.read(count * itemsize)
        except OSError as e:
            raise ConversionError(f'cannot read {path}: {e.strerror or e}') from None
    return read


def _load_zip(path):
    try:
        archive = zipfile.ZipFile(path)
    except ZIP_ERRORS as e:
        raise ConversionError(f'corrupt or truncated zip checkpoint ({type(e).__name__}: {e})') from None
    try:
        obj = _read_zip(archive)
    except ZIP_ERRORS as e:
        archive.close()
        raise ConversionError(f'corrupt zip checkpoint ({type(e).__name__}: {short_repr(str(e))})') from None
    except BaseException:
        archive.close()
        raise
    return Checkpoint(obj, 'zip', closer=archive.close)


def _read_zip(archive):
    names = archive.namelist()
    if len(set(names)) != len(names):
        raise ConversionError('zip checkpoint has two records with the same name (corrupt checkpoint)')
    pickles = [n for n in names if n.endswith('data.pkl') and n.count('/') == 1]
    if len(pickles) != 1:
        raise ConversionError('zip archive is not a torch checkpoint (no <dir>/data.pkl)')
    prefix = pickles[0][:-len('data.pkl')]
    big_endian = _zip_text(archive, prefix + 'byteorder') == 'big'
    size = archive.getinfo(pickles[0]).file_size
    if size > MAX_ZIP_PICKLE_BYTES:
        raise ConversionError(f'zip checkpoint data.pkl is {size} bytes, too large for a weights file')
    with archive.open(pickles[0]) as f:
        data = f.read(MAX_ZIP_PICKLE_BYTES + 1)
    obj, storages = unpickle(io.BytesIO(data), storage_id_length=5, what='zip checkpoint data.pkl')
    _refuse_placeholder(obj)
    present = set(names)
    for key, storage in storages.items():
        name = f'{prefix}data/{key}'
        if name not in present:
            raise ConversionError(f'zip checkpoint has no data record {name!r}')
        dtype = storage.type.numpy_dtype
        if big_endian:
            dtype = dtype.newbyteorder('>')
        available = archive.getinfo(name).file_size // dtype.itemsize
        if available < storage.numel:
            raise ConversionError(f'zip record {name!r} is shorter than its storage')
        storage.attach(_zip_reader(archive, name, dtype.itemsize), available, dtype)
    return obj


def _zip_text(archive, name):
    try:
        with archive.open(name) as f:
            return f.read(64).decode('ascii', 'replace').strip()
    except KeyError:
        return None


def _zip_reader(archive, name, itemsize):
    def read(first, count):
        try:
            with archive.open(name) as f:
                f.seek(first * itemsize)
                return f.read(count * itemsize)
        except ZIP_ERRORS as e:
            raise ConversionError(f'cannot read zip record {name!r} ({type(e).__name__}: '
                                  f'{short_repr(str(e))})') from None
    return read
