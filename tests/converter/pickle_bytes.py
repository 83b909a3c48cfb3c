"""Hand-assembled torch checkpoints for the converter's hardening tests (no torch needed).

A pickle body here is protocol-2 opcodes without PROTO/STOP; `legacy_file` and `zip_file` wrap a
body into the two torch containers with the given storages (key -> numpy array)."""
import io
import pickle
import zipfile

import numpy as np

LEGACY_HEADERS = b''.join(pickle.dumps(x, protocol=2) for x in
                          [0x1950a86a20f9469cfc6c, 1001, {'protocol_version': 1001, 'little_endian': True}])


def value(x):
    """Body of a plain value (int, str, bool, None, tuple/list/dict of those)."""
    return pickle.dumps(x, protocol=2)[2:-1]


def glob(module, name):
    return b'c' + module.encode() + b'\n' + name.encode() + b'\n'


def tup(*bodies):
    return b'(' + b''.join(bodies) + b't'


def call(func_body, *arg_bodies):
    return func_body + tup(*arg_bodies) + b'R'


def build(state_body):
    """BUILD: set the state of the object on top of the stack."""
    return state_body + b'b'


def storage_id(key, numel, dtype='FloatStorage', view=None):
    items = [value('storage'), glob('torch', dtype), value(key), value('cpu'), value(numel)]
    items += [value(None) if view is None else value(view)] if view is not False else []
    return tup(*items) + b'Q'


def tensor(key, numel, offset, size, stride, legacy=True, dtype='FloatStorage', view=None):
    sid = storage_id(key, numel, dtype, view if legacy else False)
    return call(glob('torch._utils', '_rebuild_tensor_v2'), sid, value(offset), value(size),
                value(stride), value(False), call(glob('collections', 'OrderedDict')))


def state_dict(entries):
    """{'params': OrderedDict(name -> body)} with the given (name, body) entries."""
    items = b''.join(value(name) + body for name, body in entries)
    inner = call(glob('collections', 'OrderedDict')) + b'(' + items + b'u'
    return b'}' + value('params') + inner + b's'


def pickle_of(body):
    return b'\x80\x02' + body + b'.'


def legacy_file(body, storages):
    out = io.BytesIO()
    out.write(LEGACY_HEADERS)
    out.write(pickle_of(body))
    out.write(pickle.dumps(list(storages), protocol=2))
    for array in storages.values():
        out.write(np.int64(array.size).tobytes())
        out.write(array.astype(array.dtype.newbyteorder('<')).tobytes())
    return out.getvalue()


def zip_file(body, storages):
    out = io.BytesIO()
    with zipfile.ZipFile(out, 'w', zipfile.ZIP_STORED) as z:
        z.writestr('archive/data.pkl', pickle_of(body))
        z.writestr('archive/byteorder', 'little')
        for key, array in storages.items():
            z.writestr(f'archive/data/{key}', array.astype(array.dtype.newbyteorder('<')).tobytes())
        z.writestr('archive/version', '3\n')
    return out.getvalue()
