"""A pickle loader for untrusted checkpoints: nothing outside this file is imported or called.

It runs the standard library's pure-Python pickle machine (pickle._Unpickler) with two changes:

* find_class never imports. The globals a weights file needs map to local, inert stand-ins
  (ALLOWED_GLOBALS). Every other global becomes a Placeholder class: calling it, or creating an
  object of it, only records the global's module/name and the arguments. Placeholders are never
  called, and no code of the real class runs; this lets harmless training metadata (numpy
  arrays, mmengine/mmcv helpers, optimizer settings) pass through the parts that are discarded.
  A placeholder that reaches a weight is an error naming the key (wrappers.py).
* BUILD (the opcode that sets an object's state after it was created) is accepted only by the
  classes that define exactly what they accept: OrderedDict (torch's `_metadata`, discarded),
  placeholders (recorded) and the numpy dtype stand-in. Every other object (tensors, storages,
  storage types, functions, numbers) refuses it, so nothing can be changed after it was checked.
"""
import _compat_pickle
import collections
import pickle
import reprlib
import struct

import numpy as np

from . import ConversionError
from .stored_tensors import STORAGE_TYPES, Storage, StorageType, StorageView, StoredTensor, is_index

_short = reprlib.Repr()
_short.maxlevel, _short.maxstring, _short.maxother = 3, 60, 60


def short_repr(obj):
    """Bounded repr of untrusted data (no deep recursion, no huge strings)."""
    return _short.repr(obj)


# ---------------------------------------------------------------------------------------------
# Placeholders

class Placeholder:
    """An object of a class (or the result of a call) that is not allowed in a weights file.

    Records what the pickle asked for; has no behaviour. Subclasses are made per global by
    placeholder_class(); their `module` and `qualname` name that global."""
    __slots__ = ('args', 'kwargs', 'states', 'items')
    module = qualname = '?'

    def __new__(cls, *args, **kwargs):
        self = object.__new__(cls)
        for name, value in (('args', args), ('kwargs', kwargs), ('states', []), ('items', [])):
            object.__setattr__(self, name, value)
        return self

    def __init__(self, *args, **kwargs):
        pass  # __new__ recorded everything; nothing else happens

    def __setattr__(self, name, value):
        raise AttributeError('placeholders are read-only')

    # What pickle's BUILD, APPEND(S), SETITEM(S) and ADDITEMS opcodes do to an object: recorded.
    def set_state(self, state):
        self.states.append(state)

    def append(self, item):
        self.items.append(item)

    def extend(self, items):
        self.items.extend(items)

    def add(self, item):
        self.items.append(item)

    def __setitem__(self, key, value):
        self.items.append((key, value))

    @classmethod
    def global_name(cls):
        return f'{cls.module}.{cls.qualname}'

    def __repr__(self):
        return f'<inert placeholder for {self.global_name()}>'


def placeholder_class(module, qualname):
    return type(qualname.rsplit('.', 1)[-1] or 'Placeholder', (Placeholder,),
                {'__slots__': (), 'module': module, 'qualname': qualname})


def describe(value):
    """How an error message names an object the unpickler produced."""
    if isinstance(value, Placeholder):
        return (f'an object made by {value.global_name()}, a global that is not allowed in a weights '
                'file (kept as an inert placeholder; nothing was executed)')
    if isinstance(value, type) and issubclass(value, Placeholder):
        return (f'the global {value.global_name()}, which is not allowed in a weights file '
                '(kept as an inert placeholder; nothing was executed)')
    if isinstance(value, StoredTensor):
        return 'a tensor'
    return f'a {type(value).__name__}'


# ---------------------------------------------------------------------------------------------
# Allowed globals: each accepts exactly the arguments torch / numpy write

def _rebuild_tensor(storage, storage_offset, size, stride):
    """torch._utils._rebuild_tensor."""
    return StoredTensor(storage, storage_offset, size, stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    """torch._utils._rebuild_tensor_v2: the autograd flag, hooks and Python metadata are unused."""
    return StoredTensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad, backward_hooks):
    """torch._utils._rebuild_parameter: a Parameter is just its tensor here."""
    if not isinstance(data, StoredTensor):
        raise ConversionError(f'parameter record holds {describe(data)}, not a tensor (corrupt checkpoint)')
    return data


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    return _rebuild_parameter(data, requires_grad, backward_hooks)


_TENSOR_REBUILDERS = (_rebuild_tensor, _rebuild_tensor_v2, _rebuild_parameter,
                      _rebuild_parameter_with_state)


def _rebuild_from_type_v2(func, new_type, args, state):
    """torch._tensor._rebuild_from_type_v2: a tensor subclass or a tensor with Python attributes.
    Only the tensor itself is rebuilt (type and attributes dropped); anything else stays inert."""
    if func in _TENSOR_REBUILDERS and type(args) is tuple:
        return func(*args)
    return placeholder_class('torch._tensor', '_rebuild_from_type_v2')(func, new_type, args, state)


_NUMERIC_DTYPES = {'b1', 'i1', 'i2', 'i4', 'i8', 'u1', 'u2', 'u4', 'u8', 'f2', 'f4', 'f8'}


class NumpyDtype:
    """Stand-in for numpy.dtype(spec, align, copy) followed by BUILD(state): knows only plain
    numeric types and their byte order; any other dtype stays opaque (its scalars become
    placeholders). numpy.dtype itself is never called."""
    __slots__ = ('spec', 'byteorder', 'has_state')

    def __init__(self, spec, align=False, copy=False):
        for name, value in (('spec', spec), ('byteorder', None), ('has_state', False)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError('dtype stand-ins are read-only')

    def set_state(self, state):
        # numpy writes (version, byteorder, subarray, names, fields, elsize, alignment, flags[, meta])
        if self.has_state:
            raise ConversionError('numpy dtype with two states (corrupt checkpoint)')
        object.__setattr__(self, 'has_state', True)
        if type(state) is tuple and len(state) >= 2 and state[1] in ('<', '>', '|', '='):
            object.__setattr__(self, 'byteorder', state[1])

    def numeric(self):
        """The numpy dtype for decoding scalar bytes, or None if this is not a plain number type."""
        if not (type(self.spec) is str and self.spec in _NUMERIC_DTYPES):
            return None
        dtype = np.dtype(self.spec)
        return dtype.newbyteorder('>') if self.byteorder == '>' else dtype.newbyteorder('<')


def _numpy_scalar(dtype, data=None):
    """numpy.core.multiarray.scalar (NumPy 1.x) / numpy._core.multiarray.scalar (NumPy 2.x):
    a plain numeric scalar becomes the equivalent Python number; anything else a placeholder."""
    numeric = dtype.numeric() if isinstance(dtype, NumpyDtype) else None
    if numeric is not None and type(data) is bytes and len(data) == numeric.itemsize:
        return np.frombuffer(data, dtype=numeric, count=1)[0].item()
    return placeholder_class('numpy.core.multiarray', 'scalar')(dtype, data)


def _codecs_encode(text, encoding='utf-8', errors='strict'):
    """Protocol-2 pickles spell bytes objects as _codecs.encode(str, 'latin1')."""
    if type(text) is str and encoding in ('latin1', 'latin-1') and errors == 'strict':
        try:
            return text.encode('latin1')
        except UnicodeEncodeError:
            pass
    return placeholder_class('_codecs', 'encode')(text, encoding, errors)


ALLOWED_GLOBALS = {
    ('collections', 'OrderedDict'): collections.OrderedDict,
    ('torch._utils', '_rebuild_tensor'): _rebuild_tensor,
    ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor_v2,
    ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
    ('torch._utils', '_rebuild_parameter_with_state'): _rebuild_parameter_with_state,
    ('torch._tensor', '_rebuild_from_type_v2'): _rebuild_from_type_v2,
    ('numpy', 'dtype'): NumpyDtype,
    ('numpy.core.multiarray', 'scalar'): _numpy_scalar,
    ('numpy._core.multiarray', 'scalar'): _numpy_scalar,
    ('_codecs', 'encode'): _codecs_encode,
}
ALLOWED_GLOBALS.update({('torch', name): t for name, t in STORAGE_TYPES.items()})


# ---------------------------------------------------------------------------------------------
# The unpickler

class RestrictedUnpickler(pickle._Unpickler):  # the pure-Python machine: its opcodes can be replaced
    """Unpickler that resolves only ALLOWED_GLOBALS (others become placeholders), refuses BUILD on
    objects that do not define it, and turns storage ids into Storage objects."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, storage_id_length):
        super().__init__(file, encoding='utf-8')
        self.storage_id_length = storage_id_length  # 6 for legacy ids, 5 for zip ids
        self.storages = {}  # key -> Storage, shared by all tensors on the same storage
        self.placeholders = {}  # (module, name) -> Placeholder subclass

    def find_class(self, module, name):
        if not (type(module) is str and type(name) is str):
            raise ConversionError('malformed global reference in checkpoint')
        if self.proto < 3:  # Python-2 style names, as the standard unpickler maps them
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
        allowed = ALLOWED_GLOBALS.get((module, name))
        if allowed is not None:
            return allowed
        key = (module, name)
        if key not in self.placeholders:
            self.placeholders[key] = placeholder_class(module, name)
        return self.placeholders[key]

    def persistent_load(self, pid):
        if not (type(pid) is tuple and len(pid) == self.storage_id_length):
            raise ConversionError(f'unsupported persistent id in checkpoint: {short_repr(pid)}')
        kind, storage_type, key, _location, numel = pid[:5]
        kind = kind.decode('ascii', 'replace') if type(kind) is bytes else kind
        if kind == 'module':
            raise ConversionError('checkpoint holds a pickled nn.Module, not a state dict')
        if not (kind == 'storage' and isinstance(storage_type, StorageType) and type(key) is str
                and is_index(numel)):
            raise ConversionError(f'malformed storage record in checkpoint: {short_repr(pid)}')
        storage = self.storages.get(key)
        if storage is None:
            storage = self.storages[key] = Storage(key, storage_type, numel)
        elif storage.type is not storage_type or storage.numel != numel:
            raise ConversionError(f'storage {key!r} is described twice, as {storage.numel} x '
                                  f'{storage.type} and as {numel} x {storage_type} (corrupt checkpoint)')
        view = pid[5] if len(pid) == 6 else None
        if view is None:
            return storage
        if not (type(view) is tuple and len(view) == 3):
            raise ConversionError(f'malformed storage view in checkpoint: {short_repr(view)}')
        return StorageView(storage, view[1], view[2])

    def load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        if type(inst) is collections.OrderedDict:
            # torch keeps the module versions of a state dict in its `_metadata` attribute
            if state is not None and type(state) is not dict:
                raise ConversionError(f'malformed OrderedDict state in checkpoint: {short_repr(state)}')
            return  # not needed for conversion: discarded, never set as attributes
        if isinstance(inst, (Placeholder, NumpyDtype)):
            inst.set_state(state)
            return
        raise ConversionError(f'the pickle changes the state of {describe(inst)} after creating it, '
                              'which a weights file never does (refused)')
    dispatch[pickle.BUILD[0]] = load_build

    def load_bytearray8(self):
        # The standard version allocates the announced size before reading; read first instead.
        (size,) = struct.unpack('<Q', self.read(8))
        data = self.read(size)
        if len(data) != size:
            raise ConversionError('pickle ends inside a BYTEARRAY8 (truncated or corrupt checkpoint)')
        self.append(bytearray(data))
    dispatch[pickle.BYTEARRAY8[0]] = load_bytearray8


class BoundedReader:
    """Read-only view of [file position, end) of a binary file: no read goes past `end`, and a
    read of an announced length never allocates more than what is left."""

    def __init__(self, file, end):
        self.file, self.end = file, end

    def remaining(self):
        return max(0, self.end - self.file.tell())

    def read(self, n=-1):
        left = self.remaining()
        return self.file.read(left if n is None or n < 0 else min(n, left))

    def readline(self):
        return self.file.readline(self.remaining())

    def tell(self):
        return self.file.tell()


# Everything the pickle machine can raise on a malformed stream (it calls only the code above).
_PICKLE_ERRORS = (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
                  AttributeError, struct.error, UnicodeError, RecursionError, OverflowError,
                  LookupError, ZeroDivisionError)


def unpickle(file, storage_id_length=6, what='checkpoint'):
    """(object, {storage key: Storage}) from one pickle in `file` (a BoundedReader or BytesIO)."""
    unpickler = RestrictedUnpickler(file, storage_id_length)
    try:
        return unpickler.load(), unpickler.storages
    except ConversionError:
        raise
    except EOFError:
        raise ConversionError(f'{what} ends early (truncated file?)') from None
    except _PICKLE_ERRORS as e:
        raise ConversionError(f'not a PyTorch checkpoint ({what} is not a valid pickle: '
                              f'{type(e).__name__}: {short_repr(str(e))})') from None
