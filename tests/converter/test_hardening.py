"""The converter as a security boundary (issue 6, items 1, 3, 5 and 6): hostile pickles, tensor
layouts checked where bytes are read, atomic output, output-path rules, --config value ranges,
numpy missing, running from an installed location.

    /usr/bin/python3 -m unittest discover -s tests/converter -v      (from the repository root)
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, REPO)
sys.path.insert(0, HERE)

import pickle_bytes as pb  # noqa: E402
from weights_converter import ConversionError, safetensors_file, torch_checkpoint  # noqa: E402
from weights_converter.convert import convert  # noqa: E402

FIXTURES = os.environ.get('VRESTORE_FIXTURES') or os.path.join(REPO, '..', 'shared', 'fixtures')
CASES = os.path.join(REPO, '..', 'shared', 'cases', 'hardening')
CONVERT = os.path.join(REPO, 'weights_converter', 'convert.py')
EDVR = os.path.join(FIXTURES, 'edvr_x4_tsa', 'weights.pth')


def run_convert(*args, python=sys.executable, cwd=None):
    return subprocess.run([python, CONVERT, *map(str, args)], capture_output=True, text=True, cwd=cwd)


def write(path, data):
    with open(path, 'wb') as f:
        f.write(data)
    return path


class TempDir(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp, name)

    def assert_only(self, *names):
        """No temporary file or other leftover in the test folder."""
        self.assertEqual(sorted(os.listdir(self.tmp)), sorted(names))


class HostileCheckpointTest(TempDir):
    def test_shared_hostile_build_stride_case(self):
        src = os.path.join(CASES, 'hostile_build_stride.pth')
        if not os.path.exists(src):
            self.skipTest(f'{src} not present')
        result = run_convert(src, self.path('out.safetensors'))
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertTrue(result.stderr.strip().splitlines()[-1].startswith('convert.py: error: '), result.stderr)
        self.assertIn('changes the state of a tensor', result.stderr)
        self.assert_only()

    def load_tensors(self, data, container='legacy'):
        """Load a hand-made checkpoint and read every tensor of its 'params'."""
        src = write(self.path(f'{container}.pth'), data)
        with torch_checkpoint.load(src) as checkpoint:
            return [t.numpy() for t in checkpoint.obj['params'].values()]

    def test_build_is_refused_on_everything_but_placeholders_and_ordered_dicts(self):
        storage = {'0': np.arange(8, dtype=np.float32)}
        good = pb.tensor('0', 8, 0, (2, 2), (2, 1))
        targets = {
            'tensor': good + pb.build(pb.value({'stride': (1000, 1)})),
            'tensor slots': good + pb.build(pb.value((None, {'shape': (100,)}))),
            'storage type': pb.glob('torch', 'FloatStorage') + pb.build(pb.value({'numpy_dtype': 'f8'})),
            'function': pb.glob('torch._utils', '_rebuild_tensor_v2') + pb.build(pb.value({'x': 1})),
            'int': pb.value(5) + pb.build(pb.value({'real': 1})),
        }
        for what, body in targets.items():
            for container, make in (('legacy', pb.legacy_file), ('zip', pb.zip_file)):
                with self.subTest(target=what, container=container):
                    if container == 'zip':
                        body = body.replace(pb.value(None) + b'tQ', b'tQ')  # 5-element storage ids
                    data = make(pb.state_dict([('w', body)]), storage)
                    with self.assertRaisesRegex(ConversionError, 'state of|not a valid pickle'):
                        self.load_tensors(data, container)
        # The storage type singletons are untouched for later loads.
        self.assertEqual(torch_checkpoint.STORAGE_TYPES['FloatStorage'].numpy_dtype, np.float32)

    def test_tensor_layouts_are_validated(self):
        storage = {'0': np.arange(12, dtype=np.float32)}
        bad = {
            'past the end': (12, 9, (2, 2), (2, 1)),
            'stride past the end': (12, 0, (2, 2), (12, 1)),
            'negative offset': (12, -1, (2,), (1,)),
            'negative size': (12, 0, (-2, 2), (2, 1)),
            'negative stride': (12, 4, (2,), (-2,)),
            'float size': (12, 0, (2.0,), (1,)),
            'bool stride': (12, 0, (2,), (True,)),
            'string offset': (12, '0', (2,), (1,)),
            'rank mismatch': (12, 0, (2, 2), (1,)),
            'huge': (12, 0, (1 << 40, 1 << 40), (0, 0)),
            'huge dim, zero elements': (12, 0, (0, 1 << 70), (1, 1)),
            'storage bigger than data': (1 << 20, 0, (2,), (1,)),
            'huge storage': (1 << 70, 0, (2,), (1,)),
        }
        for what, (numel, offset, size, stride) in bad.items():
            for container, make in (('legacy', pb.legacy_file), ('zip', pb.zip_file)):
                with self.subTest(case=what, container=container):
                    body = pb.tensor('0', numel, offset, size, stride, legacy=container == 'legacy')
                    with self.assertRaisesRegex(ConversionError, 'corrupt|too large|shorter|malformed'):
                        self.load_tensors(make(pb.state_dict([('w', body)]), storage), container)

    def test_views_and_storages_described_twice(self):
        storage = {'0': np.arange(12, dtype=np.float32)}
        past_root = pb.tensor('0', 12, 0, (4,), (1,), view=('v', 10, 4))
        past_view = pb.tensor('0', 12, 2, (4,), (1,), view=('v', 6, 4))
        twice = [('a', pb.tensor('0', 12, 0, (2,), (1,))), ('b', pb.tensor('0', 6, 0, (2,), (1,)))]
        for what, entries in (('view past root', [('w', past_root)]), ('tensor past view', [('w', past_view)]),
                              ('storage twice', twice)):
            with self.subTest(case=what):
                with self.assertRaises(ConversionError):
                    self.load_tensors(pb.legacy_file(pb.state_dict(entries), storage))
        inside = pb.tensor('0', 12, 1, (2,), (2,), view=('v', 6, 4))
        (array,) = self.load_tensors(pb.legacy_file(pb.state_dict([('w', inside)]), storage))
        self.assertEqual(array.tolist(), [7.0, 9.0])

    def test_container_sizes_are_the_real_bounds(self):
        storage = {'0': np.arange(12, dtype=np.float32)}
        body = pb.state_dict([('w', pb.tensor('0', 12, 0, (12,), (1,)))])
        data = pb.legacy_file(body, storage)
        count_at = len(data) - 12 * 4 - 8
        for count in (-1, 11, 13, 1 << 62):
            with self.subTest(legacy_count=count):
                bad = data[:count_at] + np.int64(count).tobytes() + data[count_at + 8:]
                with self.assertRaises(ConversionError):
                    self.load_tensors(bad)
        zipped = pb.zip_file(body.replace(pb.value(None) + b'tQ', b'tQ'), {'0': storage['0'][:11]})
        with self.assertRaisesRegex(ConversionError, 'shorter than its storage'):
            self.load_tensors(zipped, 'zip')


class OutputFileTest(TempDir):
    def test_failed_conversion_leaves_nothing_and_keeps_an_existing_output(self):
        dst = write(self.path('out.safetensors'), b'previous')
        for error in (KeyboardInterrupt(), ConversionError('simulated')):
            with self.subTest(error=type(error).__name__):
                with mock.patch('weights_converter.stored_tensors.StoredTensor.blocks', side_effect=error):
                    with self.assertRaises(type(error)):
                        convert(EDVR, dst)
                self.assert_only('out.safetensors')
                with open(dst, 'rb') as f:
                    self.assertEqual(f.read(), b'previous')

    def test_output_may_not_be_an_input(self):
        src = shutil.copy(EDVR, self.path('w.pth'))
        config = self.path('config.json')
        with open(config, 'w') as f:
            json.dump({'args': {}}, f)
        os.link(src, self.path('hardlink.pth'))
        os.symlink(src, self.path('symlink.pth'))
        os.mkdir(self.path('folder'))
        with open(src, 'rb') as f:
            original = f.read()
        for dst in ('w.pth', 'hardlink.pth', 'symlink.pth', 'config.json', 'folder',
                    os.path.join('folder', '..', 'w.pth')):
            with self.subTest(dst=dst):
                result = run_convert(src, self.path(dst), '--config', config, cwd=self.tmp)
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertIn('convert.py: error: the output', result.stderr)
        with open(src, 'rb') as f:
            self.assertEqual(f.read(), original)
        self.assert_only('w.pth', 'config.json', 'hardlink.pth', 'symlink.pth', 'folder')


class ConfigValueTest(TempDir):
    def convert_with(self, fixture, args, text=None):
        config = self.path('config.json')
        with open(config, 'w') as f:
            f.write(text if text is not None else json.dumps({'args': args}))
        return run_convert(os.path.join(FIXTURES, fixture, 'weights.pth'), self.path('out.safetensors'),
                           '--config', config)

    def assert_refused(self, result, *mentions):
        self.assertEqual(result.returncode, 2, result.stderr)
        last = result.stderr.strip().splitlines()[-1]
        self.assertTrue(last.startswith('convert.py: error: '), result.stderr)
        for text in mentions:
            self.assertIn(text, last)
        self.assertFalse(os.path.exists(self.path('out.safetensors')))

    def test_values_outside_the_accepted_ranges_name_the_key(self):
        cases = [
            ('edvr_x4_tsa', {'center_frame_idx': 5}, ["'center_frame_idx' = 5", 'outside [0, 5)']),
            ('edvr_x4_tsa', {'center_frame_idx': -1}, ["'center_frame_idx' = -1", 'outside']),
            ('edvr_x4_tsa', {'center_frame_idx': 'two'}, ["'center_frame_idx'", 'wrong type']),
            ('edvr_x4_tsa', {'center_frame_idx': 2.5}, ["'center_frame_idx'", 'integer']),
            ('edvr_x4_tsa', {'num_extract_block': 10 ** 30}, ["'num_extract_block'", 'outside']),
            ('edvr_x4_tsa', {'num_feat': 0}, ["'num_feat' = 0", 'outside']),
            ('edvr_x4_tsa', {'hr_in': True}, ["'hr_in'", 'with_predeblur']),
            ('edvrnet_mmedit_x4_tsa', {'center_frame_idx': 7}, ["'center_frame_idx' = 7", 'outside [0, 5)']),
            ('realbasicvsr_x4', {'dynamic_refine_thres': 1e400}, ["'dynamic_refine_thres'", 'finite']),
            ('basicvsr_x4', {'num_block': -3}, ["'num_block' = -3"]),
            ('vrt_vfi', {'mlp_ratio': 0}, ["'mlp_ratio'"]),
            ('vrt_vfi', {'window_size': [4, 4]}, ["'window_size'", '3 entries']),
            ('vrt_vfi', {'depths': [3] * 100}, ["'depths'", 'entries']),
        ]
        for fixture, args, mentions in cases:
            with self.subTest(fixture=fixture, args=args):
                self.assert_refused(self.convert_with(fixture, args), '--config', *mentions)

    def test_non_finite_and_duplicate_json(self):
        self.assert_refused(self.convert_with('realbasicvsr_x4', None, '{"args": {"dynamic_refine_thres": NaN}}'),
                            "'dynamic_refine_thres' = NaN", 'finite')
        self.assert_refused(self.convert_with('edvr_x4_tsa', None, '{"args": {"num_frame": 5, "num_frame": 7}}'),
                            "'num_frame' appears twice")

    def test_inferred_values_are_checked_too(self):
        # mmedit EDVRNet's default centre frame (2) lies outside a 1-frame window: the converter
        # must refuse rather than write a file vrestore refuses.
        from weights_converter.families.edvr import MMEDIT_EDVRNET
        from weights_converter.families.keys import BadArgument, check_limits
        args = dict(MMEDIT_EDVRNET.defaults, num_frames=1)
        check_limits(MMEDIT_EDVRNET, args)
        with self.assertRaises(BadArgument) as caught:
            MMEDIT_EDVRNET.check_args(args)
        self.assertEqual(caught.exception.name, 'center_frame_idx')


class EnvironmentTest(TempDir):
    def test_missing_numpy_is_one_clear_line(self):
        code = ('import runpy, sys; sys.modules["numpy"] = None; '
                f'sys.argv = ["convert.py", "a.pth", "b.safetensors"]; '
                f'runpy.run_path({CONVERT!r}, run_name="__main__")')
        result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
        self.assertEqual(result.returncode, 2)
        self.assertEqual(result.stderr.strip().splitlines(),
                         [f'convert.py needs numpy, which {sys.executable} does not have: '
                          'apt-get install python3-numpy or pip install numpy'])

    def test_runs_from_an_installed_copy_with_another_folder_name(self):
        installed = os.path.join(self.tmp, 'prefix', 'share', 'vrestore', 'converter')
        shutil.copytree(os.path.join(REPO, 'weights_converter'), installed,
                        ignore=shutil.ignore_patterns('__pycache__'))
        elsewhere = self.path('cwd')
        os.mkdir(elsewhere)
        dst = os.path.join(elsewhere, 'out.safetensors')
        result = subprocess.run([sys.executable, os.path.join(installed, 'convert.py'), EDVR, dst],
                                capture_output=True, text=True, cwd=elsewhere,
                                env=dict(os.environ, PYTHONPATH=''))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(safetensors_file.read_header(dst)[0]['vrestore.arch'], 'basicsr.EDVR')
        inspect = subprocess.run([sys.executable, os.path.join(installed, 'inspect.py'), dst],
                                 capture_output=True, text=True, cwd=elsewhere)
        self.assertIn('vrestore.arch = basicsr.EDVR', inspect.stdout, inspect.stderr)


if __name__ == '__main__':
    unittest.main()
