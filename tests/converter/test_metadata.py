"""Harmless training metadata never blocks a conversion (issue 6, item 2), and nothing in it runs.

mmedit/mmengine checkpoints carry numpy scalars and arrays (pickled under NumPy 1.x's
numpy.core.multiarray or NumPy 2.x's numpy._core.multiarray names), framework helper objects
(message hub, history buffers, config dicts) and optimizer state. The converter discards all of
it: objects of non-allowed classes become inert placeholders, never constructed through their class.
A placeholder among the weights is an error naming the key.

    /usr/bin/python3 -m unittest discover -s tests/converter -v      (from the repository root; needs torch)
"""
import datetime
import os
import subprocess
import sys
import tempfile
import types
import unittest
import zipfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, REPO)

from weights_converter import ConversionError, safetensors_file, torch_checkpoint  # noqa: E402
from weights_converter.convert import convert  # noqa: E402
from weights_converter.restricted_pickle import Placeholder  # noqa: E402

FIXTURES = os.environ.get('VRESTORE_FIXTURES') or os.path.join(REPO, '..', 'shared', 'fixtures')
SHARED_SCRIPT = os.path.join(REPO, '..', 'shared', 'cases', 'hardening', 'make_numpy2_meta_ckpt.py')
MMEDIT_EDVR = os.path.join(FIXTURES, 'edvrnet_mmedit_x4_tsa', 'weights.pth')

CALLS = []  # every construction / state change of the framework stand-ins below, after saving


class _Recorded:
    """Base of the framework stand-ins: records any use of its class while the converter runs."""

    def __new__(cls, *args, **kwargs):
        CALLS.append((cls.__name__, '__new__'))
        return super().__new__(cls)

    def __init__(self, *args, **kwargs):
        CALLS.append((type(self).__name__, '__init__'))

    def __setstate__(self, state):
        CALLS.append((type(self).__name__, '__setstate__'))
        self.__dict__.update(state)


def _framework_modules():
    """Fake mmengine / mmcv modules whose classes pickle under their real global names."""
    classes = {}
    for module, name, bases in [('mmengine.logging.history_buffer', 'HistoryBuffer', (_Recorded,)),
                                ('mmengine.logging.message_hub', 'MessageHub', (_Recorded,)),
                                ('mmcv.utils.config', 'ConfigDict', (_Recorded, dict))]:
        parts = module.split('.')
        for i in range(1, len(parts) + 1):
            sys.modules.setdefault('.'.join(parts[:i]), types.ModuleType('.'.join(parts[:i])))
        cls = type(name, bases, {'__module__': module, '__qualname__': name})
        setattr(sys.modules[module], name, cls)
        classes[name] = cls
    return classes


def training_checkpoint():
    """The mmedit EDVRNet fixture with the metadata a training run leaves behind."""
    classes = _framework_modules()
    ckpt = torch.load(MMEDIT_EDVR, map_location='cpu')
    history = classes['HistoryBuffer']()
    history.data = np.array([0.5, 0.25], dtype=np.float32)
    history.max_length = np.int64(100)
    hub = classes['MessageHub']()
    hub.log_scalars = {'train/loss': history}
    hub.runtime_info = {'iter': 300000, 'best': np.float64(31.25)}
    config = classes['ConfigDict']()
    config['model'] = {'type': 'EDVRNet', 'scale': np.int32(4)}
    ckpt['meta'] = dict(ckpt.get('meta') or {}, seed=np.uint32(7), flag=np.bool_(True),
                        name=np.str_('edvr'), dtype=np.dtype('float16'), when=datetime.datetime(2024, 5, 1),
                        hook_msgs={'best_score': np.float64(31.25), 'best_ckpt': 'iter_300000.pth'},
                        config=config, tags={'a', 'b'}, matrix=np.arange(6, dtype=np.int64).reshape(2, 3))
    ckpt['message_hub'] = hub
    ckpt['optimizer'] = {'generator': {'state': {0: {'step': torch.tensor(3.0), 'exp_avg': torch.zeros(4)}},
                                       'param_groups': [{'lr': np.float64(1e-4), 'betas': (0.9, 0.99),
                                                         'params': [0]}]}}
    return ckpt


def numpy2_spelling(data):
    return data.replace(b'numpy.core.multiarray', b'numpy._core.multiarray')


def save_variants(ckpt, folder):
    """{(container, numpy): path}: legacy and zip, each as NumPy 1.x and NumPy 2.x pickle them.
    Both spellings of one container get the same file name (in different folders), so that the
    outputs can be compared byte for byte (the file name is part of the metadata)."""
    paths = {}
    for container in ('legacy', 'zip'):
        one = os.path.join(folder, f'{container}_numpy1', 'weights.pth')
        two = os.path.join(folder, f'{container}_numpy2', 'weights.pth')
        os.makedirs(os.path.dirname(one))
        os.makedirs(os.path.dirname(two))
        torch.save(ckpt, one, _use_new_zipfile_serialization=container == 'zip')
        with open(one, 'rb') as f:
            raw = f.read()
        if container == 'legacy':
            assert b'numpy.core.multiarray' in raw
            with open(two, 'wb') as f:
                f.write(numpy2_spelling(raw))
        else:
            with zipfile.ZipFile(one) as zin, zipfile.ZipFile(two, 'w', zipfile.ZIP_STORED) as zout:
                for name in zin.namelist():
                    data = zin.read(name)
                    zout.writestr(name, numpy2_spelling(data) if name.endswith('data.pkl') else data)
        paths[(container, 1)], paths[(container, 2)] = one, two
    return paths


def read(path):
    with open(path, 'rb') as f:
        return f.read()


class MetadataTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def convert_all(self, paths):
        outputs = {}
        for key, src in paths.items():
            dst = os.path.join(os.path.dirname(src), 'out.safetensors')
            convert(src, dst)
            outputs[key] = dst
        return outputs

    def assert_same_weights(self, outputs):
        """Within a container: byte-identical files. Across: identical tensors and metadata
        except vrestore.source (which names the container)."""
        for container in ('legacy', 'zip'):
            self.assertEqual(read(outputs[(container, 1)]), read(outputs[(container, 2)]), container)
        (meta_l, tensors_l), (meta_z, tensors_z) = (safetensors_file.read_tensors(outputs[(c, 1)])
                                                    for c in ('legacy', 'zip'))
        self.assertEqual(meta_l.pop('vrestore.source').replace('legacy', 'zip'), meta_z.pop('vrestore.source'))
        self.assertEqual(meta_l, meta_z)
        self.assertEqual(list(tensors_l), list(tensors_z))
        for name in tensors_l:
            self.assertTrue(np.array_equal(tensors_l[name], tensors_z[name]), name)

    def test_training_metadata_converts_identically_and_runs_nothing(self):
        paths = save_variants(training_checkpoint(), self.tmp)
        CALLS.clear()
        outputs = self.convert_all(paths)
        self.assertEqual(CALLS, [], 'the converter constructed or changed a framework object')
        self.assert_same_weights(outputs)
        reference = os.path.join(self.tmp, 'reference.safetensors')
        convert(MMEDIT_EDVR, reference)
        _, expected = safetensors_file.read_tensors(reference)
        _, got = safetensors_file.read_tensors(outputs[('legacy', 2)])
        for name in expected:
            self.assertTrue(np.array_equal(got[name], expected[name]), name)
        # The discarded parts hold placeholders that only recorded their global's name.
        with torch_checkpoint.load(paths[('zip', 2)]) as checkpoint:
            meta, hub = checkpoint.obj['meta'], checkpoint.obj['message_hub']
            self.assertIsInstance(hub, Placeholder)
            self.assertEqual(hub.global_name(), 'mmengine.logging.message_hub.MessageHub')
            self.assertEqual(meta['hook_msgs']['best_score'], 31.25)
            self.assertEqual((meta['seed'], meta['flag']), (7, True))
            self.assertIsInstance(meta['config'], Placeholder)
        self.assertEqual(CALLS, [])

    def test_placeholder_among_the_weights_names_the_key(self):
        classes = _framework_modules()
        ckpt = torch.load(MMEDIT_EDVR, map_location='cpu')
        ckpt['state_dict']['generator.conv_first.bias'] = classes['HistoryBuffer']()
        src = os.path.join(self.tmp, 'bad.pth')
        torch.save(ckpt, src, _use_new_zipfile_serialization=False)
        CALLS.clear()
        with self.assertRaisesRegex(ConversionError, r"\['conv_first.bias'\] is an object made by "
                                                     r'mmengine.logging.history_buffer.HistoryBuffer'):
            convert(src, os.path.join(self.tmp, 'out.safetensors'))
        self.assertEqual(CALLS, [])
        self.assertFalse(os.path.exists(os.path.join(self.tmp, 'out.safetensors')))

    def test_shared_numpy2_meta_checkpoints(self):
        if not os.path.exists(SHARED_SCRIPT):
            self.skipTest(f'{SHARED_SCRIPT} not present')
        folder = os.path.join(self.tmp, 'shared')
        result = subprocess.run([sys.executable, SHARED_SCRIPT, folder], capture_output=True, text=True,
                                env=dict(os.environ, VRESTORE_FIXTURES=FIXTURES))
        self.assertEqual(result.returncode, 0, result.stderr)
        paths = {}
        for container in ('legacy', 'zip'):
            for version in (1, 2):
                src = os.path.join(folder, f'meta_numpy{version}_{container}.pth')
                paths[(container, version)] = os.path.join(folder, f'{container}_numpy{version}', 'weights.pth')
                os.makedirs(os.path.dirname(paths[(container, version)]))
                os.rename(src, paths[(container, version)])
        self.assert_same_weights(self.convert_all(paths))


if __name__ == '__main__':
    unittest.main()
