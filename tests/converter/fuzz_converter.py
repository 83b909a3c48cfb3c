"""Fuzz test of the converter (issue 6, item 1): mutated fixture checkpoints either convert to a
valid safetensors file or fail with ConversionError; never another exception, never a crash,
never a leftover temporary file. Fixed seed and bounded count (a few seconds to ~30 s).

Mutations are aimed where hostile files attack: integers in the object pickle (offsets, sizes,
strides, storage sizes) replaced by edge values, opcodes flipped / dropped / duplicated, a BUILD
inserted after an object is created, the legacy storage headers, the zip records and directory,
and truncation. Needs numpy only (no torch).

    /usr/bin/python3 tests/converter/fuzz_converter.py [-v]     (CTest: converter_fuzz)
    VRESTORE_FUZZ_RUNS=2000 VRESTORE_FUZZ_SEED=7 ... for a longer run
"""
import contextlib
import io
import os
import pickle
import pickletools
import random
import struct
import sys
import tempfile
import unittest
import warnings
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, REPO)

from weights_converter import ConversionError, safetensors_file  # noqa: E402
from weights_converter.convert import convert  # noqa: E402

FIXTURES = os.environ.get('VRESTORE_FIXTURES') or os.path.join(REPO, '..', 'shared', 'fixtures')
SEED = int(os.environ.get('VRESTORE_FUZZ_SEED', '20261130'))
RUNS = int(os.environ.get('VRESTORE_FUZZ_RUNS', '160'))  # per container

EDGE_INTS = [0, 1, 2, -1, -2, 3, 7, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 62, 2 ** 63 - 1, 2 ** 63, 2 ** 64,
             2 ** 100, -2 ** 63]
INT_OPS = {'BININT', 'BININT1', 'BININT2', 'LONG1', 'LONG4', 'INT', 'LONG'}


def pickle_ops(data, start):
    """[(opcode name, position, length)] of the pickle starting at data[start]; end position."""
    ops = []
    stream = io.BytesIO(data)
    stream.seek(start)
    previous = None
    for op, _arg, pos in pickletools.genops(stream):
        if previous is not None:
            ops[-1] = (ops[-1][0], ops[-1][1], pos - ops[-1][1])
        ops.append((op.name, pos, 0))
        previous = op
    end = stream.tell()
    ops[-1] = (ops[-1][0], ops[-1][1], end - ops[-1][1])
    return ops, end


def encode_int(n):
    return pickle.dumps(n, protocol=2)[2:-1]


def mutate_pickle(rng, data, ops):
    """One mutation of the pickle whose opcodes are `ops` (positions in data)."""
    name, pos, length = rng.choice(ops)
    kind = rng.randrange(6)
    if kind <= 1:  # an integer argument -> an edge value (offsets, sizes, strides, numels)
        ints = [op for op in ops if op[0] in INT_OPS]
        name, pos, length = rng.choice(ints)
        return data[:pos] + encode_int(rng.choice(EDGE_INTS)) + data[pos + length:]
    if kind == 2:  # BUILD with an attribute dict right after an object is created
        made = [op for op in ops if op[0] in ('REDUCE', 'NEWOBJ', 'BINPERSID', 'GLOBAL')]
        name, pos, length = rng.choice(made)
        state = {rng.choice(['offset', 'shape', 'stride', 'numel', 'storage', 'key', '_metadata']):
                 rng.choice([(2 ** 40,), 2 ** 40, -1, (1, 1), 'x'])}
        return data[:pos + length] + pickle.dumps(state, protocol=2)[2:-1] + b'b' + data[pos + length:]
    if kind == 3:  # drop an opcode
        return data[:pos] + data[pos + length:]
    if kind == 4:  # duplicate an opcode
        return data[:pos + length] + data[pos:pos + length] + data[pos + length:]
    i = rng.randrange(pos, pos + length)  # flip bits of one byte
    return data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1:]


class LegacyTarget:
    """A legacy checkpoint: four header/object pickles, the key list, then counted storages."""

    def __init__(self, path):
        with open(path, 'rb') as f:
            self.data = f.read()
        position = 0
        for _ in range(3):
            _, position = pickle_ops(self.data, position)
        self.ops, after_object = pickle_ops(self.data, position)
        keys_ops, data_start = pickle_ops(self.data, after_object)
        keys = pickle.loads(self.data[after_object:data_start])
        self.counts = []  # positions of the int64 element counts
        position = data_start
        for _ in keys:
            self.counts.append(position)
            (count,) = struct.unpack('<q', self.data[position:position + 8])
            position += 8 + count * 4  # the fixtures hold float32 storages only
        self.pickle_end = data_start

    def mutate(self, rng):
        kind = rng.randrange(10)
        data = self.data
        if kind < 7:
            return mutate_pickle(rng, data, self.ops)
        if kind < 9:  # a storage header: element count changed
            pos = rng.choice(self.counts)
            return data[:pos] + struct.pack('<q', rng.choice(EDGE_INTS[:-4] + [-1])) + data[pos + 8:]
        return data[:rng.randrange(len(data))]  # truncated


class ZipTarget:
    """A zip checkpoint: data.pkl plus one record per storage."""

    def __init__(self, path):
        with open(path, 'rb') as f:
            self.raw = f.read()
        with zipfile.ZipFile(io.BytesIO(self.raw)) as z:
            self.records = [(info.filename, z.read(info.filename)) for info in z.infolist()]
        self.pkl_name = next(n for n, _ in self.records if n.endswith('data.pkl'))
        self.pkl = dict(self.records)[self.pkl_name]
        self.ops, _ = pickle_ops(self.pkl, 0)

    def rebuild(self, replace=None, drop=None, rename=None):
        out = io.BytesIO()
        with warnings.catch_warnings(), zipfile.ZipFile(out, 'w', zipfile.ZIP_STORED) as z:
            warnings.simplefilter('ignore')  # a renamed record may duplicate a name: on purpose
            for name, data in self.records:
                if name == drop:
                    continue
                if replace and name in replace:
                    data = replace[name]
                z.writestr(rename.get(name, name) if rename else name, data)
        return out.getvalue()

    def mutate(self, rng):
        kind = rng.randrange(10)
        if kind < 6:
            return self.rebuild(replace={self.pkl_name: mutate_pickle(rng, self.pkl, self.ops)})
        storages = [n for n, _ in self.records if '/data/' in n]
        name = rng.choice(storages)
        if kind == 6:  # a storage record cut short
            data = dict(self.records)[name]
            return self.rebuild(replace={name: data[:rng.randrange(len(data) + 1)]})
        if kind == 7:
            return self.rebuild(drop=name) if rng.random() < 0.5 else \
                self.rebuild(rename={name: name + '0'})
        if kind == 8:  # bytes of the zip directory / local headers
            raw = bytearray(self.raw)
            region = rng.choice([range(0, 64), range(len(raw) - 200, len(raw))])
            for _ in range(rng.randrange(1, 4)):
                raw[rng.choice(region)] = rng.randrange(256)
            return bytes(raw)
        return self.raw[:rng.randrange(len(self.raw))]


class ConverterFuzzTest(unittest.TestCase):
    def fuzz(self, fixture, target_class, runs):
        target = target_class(os.path.join(FIXTURES, fixture, 'weights.pth'))
        rng = random.Random(f'{SEED}:{fixture}')
        outcomes = {'converted': 0, 'refused': 0}
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = os.path.join(tmp, 'mutant.pth'), os.path.join(tmp, 'out.safetensors')
            for run in range(runs):
                with open(src, 'wb') as f:
                    f.write(target.mutate(rng))
                if os.path.exists(dst):
                    os.remove(dst)
                try:
                    with contextlib.redirect_stderr(io.StringIO()):
                        convert(src, dst)
                except ConversionError:
                    outcomes['refused'] += 1
                    self.assertEqual(sorted(os.listdir(tmp)), ['mutant.pth'], f'{fixture} run {run}')
                except Exception as e:  # the point of the test: report which mutant did it
                    keep = os.path.join(tempfile.gettempdir(), f'vrestore_fuzz_{fixture}_{run}.pth')
                    with open(src, 'rb') as f, open(keep, 'wb') as out:
                        out.write(f.read())
                    self.fail(f'{fixture} run {run} (seed {SEED}): {type(e).__name__}: {e} '
                              f'(mutant kept as {keep})')
                else:
                    outcomes['converted'] += 1
                    self.assertEqual(sorted(os.listdir(tmp)), ['mutant.pth', 'out.safetensors'])
                    _, header, start = safetensors_file.read_header(dst)
                    end = max((info['data_offsets'][1] for info in header.values()), default=0)
                    self.assertEqual(os.path.getsize(dst), start + end, f'{fixture} run {run}')
        # Both outcomes must occur, or the mutations are not reaching the interesting paths.
        self.assertGreater(outcomes['refused'], runs // 4, outcomes)
        self.assertGreater(outcomes['converted'], 0, outcomes)
        return outcomes

    def test_legacy_container(self):
        self.fuzz('edvr_x4_tsa', LegacyTarget, RUNS)

    def test_zip_container(self):
        self.fuzz('vrt_vfi', ZipTarget, RUNS)


if __name__ == '__main__':
    unittest.main()
