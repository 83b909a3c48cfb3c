"""safetensors with the standard library + numpy (https://huggingface.co/docs/safetensors).

Layout: 8-byte little-endian header length N, N bytes of JSON (padded with spaces to a multiple of
8 so the data starts 8-byte aligned), then the tensors back to back, no gaps, in the given order.
"""
import collections
import json
import os
import struct

import numpy as np

from . import ConversionError

NUMPY_DTYPES = {'F64': '<f8', 'F32': '<f4', 'F16': '<f2', 'I64': '<i8', 'I32': '<i4',
                'I16': '<i2', 'I8': 'i1', 'U8': 'u1', 'BOOL': '?'}
FLOAT_OUTPUT = {'f32': 'F32', 'f16': 'F16'}


def output_dtype(tensor, float_dtype):
    """Float tensors take the requested float type; integer buffers keep theirs."""
    return FLOAT_OUTPUT[float_dtype] if tensor.is_float else tensor.dtype_name


def write(path, tensors, metadata, float_dtype='f32'):
    """tensors: [(name, StoredTensor)]. Writes atomically; returns names that overflowed in F16."""
    header = {'__metadata__': metadata}
    offset = 0
    for name, tensor in tensors:
        dtype = output_dtype(tensor, float_dtype)
        end = offset + tensor.numel * np.dtype(NUMPY_DTYPES[dtype]).itemsize
        header[name] = {'dtype': dtype, 'shape': list(tensor.shape), 'data_offsets': [offset, end]}
        offset = end
    blob = json.dumps(header, separators=(',', ':')).encode('utf-8')
    blob += b' ' * (-len(blob) % 8)
    overflowed = []
    tmp = f'{path}.tmp{os.getpid()}'
    try:
        with open(tmp, 'wb') as f:
            f.write(struct.pack('<Q', len(blob)))
            f.write(blob)
            for name, tensor in tensors:
                data = tensor.numpy()
                with np.errstate(over='ignore'):  # F16 overflow is reported by the caller
                    out = data.astype(NUMPY_DTYPES[header[name]['dtype']], copy=False)
                if out.dtype == np.float16 and np.isinf(out).sum() > np.isinf(data).sum():
                    overflowed.append(name)
                f.write(out.tobytes())
        os.replace(tmp, path)
    except OSError as e:
        raise ConversionError(f'cannot write {path}: {e.strerror or e}') from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return overflowed


def read_header(path):
    """(metadata dict, OrderedDict name -> {'dtype', 'shape', 'data_offsets'}, data start)."""
    try:
        with open(path, 'rb') as f:
            raw = f.read(8)
            (length,) = struct.unpack('<Q', raw)
            header = json.loads(f.read(length).decode('utf-8'), object_pairs_hook=collections.OrderedDict)
    except (OSError, struct.error, ValueError) as e:
        raise ConversionError(f'{path} is not a readable safetensors file ({e})') from None
    metadata = header.pop('__metadata__', {})
    return metadata, header, 8 + length


def read_tensors(path):
    """(metadata, OrderedDict name -> ndarray)."""
    metadata, header, start = read_header(path)
    tensors = collections.OrderedDict()
    for name, info in header.items():
        begin, end = info['data_offsets']
        dtype = np.dtype(NUMPY_DTYPES[info['dtype']])
        count = (end - begin) // dtype.itemsize
        data = np.fromfile(path, dtype=dtype, count=count, offset=start + begin)
        tensors[name] = data.reshape(info['shape'])
    return metadata, tensors
