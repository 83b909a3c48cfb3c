"""Tests of weights_converter against torch (run with /usr/bin/python3, which has torch + numpy):

    /usr/bin/python3 -m unittest discover -s tests/converter -v      (from the repository root)

Fixtures: $VRESTORE_FIXTURES, else <repo>/../shared/fixtures.
  (a) every fixture weights.pth converts; inferred arguments equal config.json's; tensors are
      bit-exact against torch.load
  (b) every manifest: a synthesized checkpoint (legacy and zip) is recognised with the manifest args
  (c) fail-closed inputs exit 2 with one line naming the problem; hostile pickles execute nothing
  (d) --dtype f16 round trip; non-contiguous / shared / offset storages; wrapper variants
"""
import collections
import glob
import json
import os
import pickle
import subprocess
import sys
import tempfile
import unittest
import zipfile

import numpy as np
import torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

from weights_converter import safetensors_file  # noqa: E402
from weights_converter.convert import load_and_recognise  # noqa: E402
from weights_converter.families import ARCHS_BY_NAME  # noqa: E402

FIXTURES = os.environ.get('VRESTORE_FIXTURES') or os.path.join(REPO, '..', 'shared', 'fixtures')
CONVERT = os.path.join(REPO, 'weights_converter', 'convert.py')
INSPECT = os.path.join(REPO, 'weights_converter', 'inspect.py')
PATH_ARGS = {'spynet_path', 'spynet_pretrained', 'load_path', 'edvr_path', 'edvr_pretrained', 'pretrained'}
CONSTANT_SUFFIXES = ('spynet.mean', 'spynet.std')
BIG = 1 << 16  # synthesized tensors with more elements are stride-0 expansions of one value


def load_json(path):
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def write_json(path, obj):
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(obj, f)


def read_bytes(path):
    with open(path, 'rb') as f:
        return f.read()


def write_bytes(path, data):
    with open(path, 'wb') as f:
        f.write(data)


def run(script, *args):
    return subprocess.run([sys.executable, script, *map(str, args)], capture_output=True, text=True)


def arch_name(upstream_class):
    """'basicsr.archs.edvr_arch.EDVR' -> 'basicsr.EDVR'; 'VRT' -> 'vrt.VRT'."""
    parts = upstream_class.split('.')
    return f'{parts[0]}.{parts[-1]}' if len(parts) > 1 else f'vrt.{parts[0]}'


def comparable_args(arch, args):
    """Drop path-like and non-inferable arguments (README: 'What cannot be inferred')."""
    skip = PATH_ARGS | set(ARCHS_BY_NAME[arch].not_inferable)
    out = {k: v for k, v in args.items() if k not in skip}
    if arch == 'vrt.VRT' and args.get('pa_frames') == 0 and 'img_size' in args:
        out['img_size[0]'] = args['img_size'][0]  # frame interpolation: sizes linear_fuse
    return out


def inferred_view(arch, inferred, keys):
    view = {k: inferred[k] for k in keys if k in inferred}
    if 'img_size[0]' in keys:
        view['img_size[0]'] = inferred['img_size'][0]
    return view


def torch_state(path):
    """Reference: torch.load + the documented unwrapping, constants removed."""
    obj = torch.load(path, map_location='cpu')
    state = obj['params'] if 'params' in obj else obj['state_dict']
    if any(k.startswith('generator_ema.') for k in state):
        state = {k[len('generator_ema.'):]: v for k, v in state.items() if k.startswith('generator_ema.')}
    elif any(k.startswith('generator.') for k in state):
        state = {k[len('generator.'):]: v for k, v in state.items() if k.startswith('generator.')}
    return collections.OrderedDict((k, v) for k, v in state.items() if not k.endswith(CONSTANT_SUFFIXES))


def assert_bit_exact(test, tensors, reference):
    test.assertEqual(list(tensors), list(reference))
    for name, ref in reference.items():
        expected = ref.contiguous().numpy()
        got = tensors[name]
        test.assertEqual((got.dtype, got.shape), (expected.dtype, expected.shape), name)
        test.assertTrue(np.array_equal(got.view(np.uint8), expected.view(np.uint8)), name)


def fixture_dirs():
    return sorted(os.path.dirname(p) for p in glob.glob(os.path.join(FIXTURES, '*', 'weights.pth')))


class TempDirTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp, name)

    def convert_ok(self, src, *options):
        dst = self.path('out.safetensors')
        result = run(CONVERT, src, dst, *options)
        self.assertEqual(result.returncode, 0, result.stderr)
        return safetensors_file.read_tensors(dst), result.stderr

    def convert_fails(self, src, *options, mentions=()):
        result = run(CONVERT, src, self.path('never.safetensors'), *options)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertNotIn('Traceback', result.stderr)
        lines = result.stderr.strip().splitlines()
        self.assertTrue(lines[-1].startswith('convert.py: error: '), result.stderr)
        for text in mentions:
            self.assertIn(text, lines[-1])
        self.assertFalse(os.path.exists(self.path('never.safetensors')))
        return lines[-1]


# ----------------------------------------------------------------------------------------------
# (a) fixtures

class FixtureTest(TempDirTest):
    def test_fixtures_convert_bit_exact_with_inferred_args(self):
        dirs = fixture_dirs()
        self.assertGreaterEqual(len(dirs), 12, f'fixtures not found in {FIXTURES}')
        for case in dirs:
            with self.subTest(case=os.path.basename(case)):
                config = load_json(os.path.join(case, 'config.json'))
                src = os.path.join(case, 'weights.pth')
                (metadata, tensors), log = self.convert_ok(src)
                arch = arch_name(config['upstream_class'])
                self.assertEqual(metadata['vrestore.arch'], arch)
                self.assertEqual(metadata['vrestore.format_version'], '1')
                inferred = json.loads(metadata['vrestore.config'])
                expected = comparable_args(arch, config['args'])
                self.assertEqual(inferred_view(arch, inferred, expected), expected)
                scale = config.get('scale', config['args'].get('upscale'))
                self.assertEqual(metadata['vrestore.scale'], str(scale))
                container = 'zip' if arch == 'vrt.VRT' else 'legacy'
                self.assertTrue(metadata['vrestore.source'].startswith(f'weights.pth ({container}, '))
                assert_bit_exact(self, tensors, torch_state(src))

    def test_fixtures_with_config_keep_every_given_arg(self):
        for case in fixture_dirs():
            with self.subTest(case=os.path.basename(case)):
                config_path = os.path.join(case, 'config.json')
                args = load_json(config_path)['args']
                (metadata, _), _ = self.convert_ok(os.path.join(case, 'weights.pth'), '--config', config_path)
                written = json.loads(metadata['vrestore.config'])
                self.assertEqual({k: written[k] for k in args if k not in PATH_ARGS},
                                 {k: v for k, v in args.items() if k not in PATH_ARGS})

    def test_realbasicvsr_takes_generator_ema(self):
        src = os.path.join(FIXTURES, 'realbasicvsr_x4', 'weights.pth')
        (metadata, tensors), log = self.convert_ok(src)
        state = torch.load(src)['state_dict']
        for name in ('basicvsr.conv_last.weight', 'image_cleaning.1.bias'):
            ema, plain = state[f'generator_ema.{name}'].numpy(), state[f'generator.{name}'].numpy()
            self.assertFalse(np.array_equal(ema, plain))
            self.assertTrue(np.array_equal(tensors[name], ema), name)
        self.assertIn('generator_ema', metadata['vrestore.source'])
        self.assertIn('dropped constant SpyNet normalisation buffers: basicvsr.spynet.mean', log)
        self.assertNotIn('basicvsr.spynet.mean', tensors)

    def test_f16_output(self):
        src = os.path.join(FIXTURES, 'vrt_vfi', 'weights.pth')
        (metadata, tensors), _ = self.convert_ok(src, '--dtype', 'f16')
        header = safetensors_file.read_header(self.path('out.safetensors'))[1]
        for name, ref in torch_state(src).items():
            if ref.is_floating_point():
                self.assertEqual(header[name]['dtype'], 'F16', name)
                self.assertTrue(np.array_equal(tensors[name], ref.half().numpy()), name)
                np.testing.assert_allclose(tensors[name], ref.numpy(), rtol=1e-3, atol=1e-4)
            else:
                self.assertEqual(header[name]['dtype'], 'I64', name)
                self.assertTrue(np.array_equal(tensors[name], ref.numpy()), name)

    def test_safetensors_layout(self):
        self.convert_ok(os.path.join(FIXTURES, 'edvr_x4_tsa', 'weights.pth'))
        raw = read_bytes(self.path('out.safetensors'))
        length = int.from_bytes(raw[:8], 'little')
        self.assertEqual(length % 8, 0)
        header = json.loads(raw[8:8 + length])
        self.assertTrue(all(isinstance(v, str) for v in header.pop('__metadata__').values()))
        offsets = [v['data_offsets'] for v in header.values()]
        self.assertEqual(offsets[0][0], 0)
        self.assertTrue(all(a[1] == b[0] for a, b in zip(offsets, offsets[1:])))  # no gaps, in order
        self.assertEqual(offsets[-1][1], len(raw) - 8 - length)

    def test_runs_without_torch(self):
        # The converter must not import torch: block it and run the CLI in a fresh interpreter.
        src = os.path.join(FIXTURES, 'edvrnet_mmedit_x4_tsa', 'weights.pth')
        code = ('import runpy, sys; sys.modules["torch"] = None; '
                f'sys.argv = ["convert.py", {src!r}, {self.path("out.safetensors")!r}]; '
                f'runpy.run_path({CONVERT!r}, run_name="__main__")')
        result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn('recognised mmedit.EDVRNet', result.stderr)

    def test_inspect_tool(self):
        src = os.path.join(FIXTURES, 'edvr_x4_tsa', 'weights.pth')
        result = run(INSPECT, src)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn('arch = basicsr.EDVR', result.stdout)
        self.convert_ok(src)
        result = run(INSPECT, self.path('out.safetensors'))
        self.assertIn('vrestore.arch = basicsr.EDVR', result.stdout)


# ----------------------------------------------------------------------------------------------
# (b) manifests

def synthesize(manifest):
    """State dict with the manifest's keys, shapes and dtypes; big tensors are expanded scalars."""
    entries = manifest.get('keys') or [[t['key'], t['shape'], t['dtype']] for t in manifest['tensors']]
    generator = torch.Generator().manual_seed(0)
    state = collections.OrderedDict()
    for entry in entries + manifest.get('optional_keys', []):
        name, shape = entry[0], entry[1]
        integer = len(entry) > 2 and entry[2] == 'int64'
        numel = int(np.prod(shape))
        size = shape if numel <= BIG else [1] * len(shape)
        value = (torch.randint(0, 1000, size, generator=generator) if integer
                 else torch.randn(size, generator=generator))
        state[name] = value if numel <= BIG else value.expand(shape)
    return state


def wrap(manifest, state, container):
    fmt = manifest.get('checkpoint_format', '')
    if fmt.startswith('mmedit ('):  # standalone mmedit SPyNet: plain dict or under 'state_dict'
        return state if container == 'legacy' else {'state_dict': state}
    if fmt == 'mmedit-state_dict':
        # numpy scalars occur in mmcv meta dicts (e.g. best scores); they must unpickle safely
        return {'meta': {'mmedit_version': '0.16.0', 'iter': 600000, 'best': np.float64(31.5)},
                'state_dict': state}
    return {'params': state}


class ManifestTest(TempDirTest):
    def test_every_manifest_is_recognised(self):
        manifests = sorted(glob.glob(os.path.join(FIXTURES, 'manifests', '*.json')))
        self.assertGreaterEqual(len(manifests), 41)
        for path in manifests:
            manifest = load_json(path)
            arch = arch_name(manifest['upstream_class'])
            expected = comparable_args(arch, manifest['args'])
            state = synthesize(manifest)
            for container in ('legacy', 'zip'):
                with self.subTest(manifest=os.path.basename(path), container=container):
                    src = self.path(f'{container}.pth')
                    torch.save(wrap(manifest, state, container), src,
                               _use_new_zipfile_serialization=container == 'zip')
                    checkpoint, unwrapped, rec = load_and_recognise(src)
                    checkpoint.close()
                    self.assertEqual(rec.arch.name, arch)
                    self.assertEqual(inferred_view(arch, rec.args, expected), expected)
                    # vrestore.config keys: the manifest's args (VRT manifests list only non-defaults)
                    manifest_keys = [k for k in manifest['args'] if k not in PATH_ARGS]
                    if arch == 'vrt.VRT':
                        self.assertLessEqual(set(manifest_keys), set(rec.args))
                    else:
                        self.assertEqual(list(rec.args), manifest_keys)
                    weights = [k for k in state if not k.startswith(('generator.', 'step_counter',
                                                                     'discriminator.', 'perceptual_loss.'))
                               or arch != 'mmedit.RealBasicVSRNet']
                    self.assertEqual(len(rec.kept) + len(rec.dropped), len(weights))


# ----------------------------------------------------------------------------------------------
# (c) fail-closed inputs

class _Hostile:
    """Pickles as a call of os.system; a safe loader must refuse it before calling anything."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


class FailClosedTest(TempDirTest):
    SRC = os.path.join(FIXTURES, 'edvr_x4_tsa', 'weights.pth')

    def save_modified(self, change):
        obj = torch.load(self.SRC)
        change(obj['params'])
        path = self.path('modified.pth')
        torch.save(obj, path, _use_new_zipfile_serialization=False)
        return path

    def test_extra_key(self):
        src = self.save_modified(lambda sd: sd.__setitem__('fusion.extra.weight', torch.zeros(3)))
        self.convert_fails(src, mentions=["unexpected key 'fusion.extra.weight'"])

    def test_missing_key(self):
        src = self.save_modified(lambda sd: sd.pop('fusion.spatial_attn3.bias'))
        self.convert_fails(src, mentions=["missing key 'fusion.spatial_attn3.bias'"])

    def test_wrong_shape(self):
        src = self.save_modified(lambda sd: sd.__setitem__('conv_hr.weight', torch.zeros(64, 64, 1, 1)))
        self.convert_fails(src, mentions=["'conv_hr.weight' has shape [64, 64, 1, 1], "
                                          'expected [64, 64, 3, 3]'])

    def test_wrong_dtype(self):
        src = self.save_modified(lambda sd: sd.__setitem__('conv_hr.bias', torch.zeros(64, dtype=torch.long)))
        self.convert_fails(src, mentions=["'conv_hr.bias' holds I64 data"])

    def test_unknown_entry_next_to_generator(self):
        src = os.path.join(FIXTURES, 'edvrnet_mmedit_x4_tsa', 'weights.pth')
        obj = torch.load(src)
        obj['state_dict']['optimizer_state.step'] = torch.zeros(1)
        modified = self.path('mmedit.pth')
        torch.save(obj, modified, _use_new_zipfile_serialization=False)
        self.convert_fails(modified, mentions=["unexpected key 'optimizer_state.step'"])

    def test_config_disagreeing_with_shapes(self):
        config = self.path('config.json')
        args = dict(load_json(os.path.join(FIXTURES, 'edvr_x4_tsa', 'config.json'))['args'], num_frame=7)
        write_json(config, {'args': args})
        self.convert_fails(self.SRC, '--config', config,
                           mentions=['num_frame: config 7, checkpoint 5', "'fusion.feat_fusion.weight'"])

    def test_vrt_offset_groups_spanning_neighbours_refused(self):
        # vrt_denoise_pa4 (2 neighbours) rebuilt with 3 offset groups: upstream runs it, with one
        # group straddling both neighbours; vrestore does not, so the converter must not write it.
        case = os.path.join(FIXTURES, 'vrt_denoise_pa4')
        obj = torch.load(os.path.join(case, 'weights.pth'))
        for key in list(obj['params']):
            if key.endswith('pa_deform.conv_offset.6.weight') or key.endswith('pa_deform.conv_offset.6.bias'):
                obj['params'][key] = obj['params'][key][:27 * 3].clone()
        modified = self.path('vrt_dg3.pth')
        torch.save(obj, modified)
        config = self.path('config.json')
        write_json(config, {'args': dict(load_json(os.path.join(case, 'config.json'))['args'], deformable_groups=3)})
        self.convert_fails(modified, '--config', config,
                           mentions=['deformable_groups 3', 'multiples of the 2 neighbours'])

    def test_config_with_unknown_argument(self):
        config = self.path('config.json')
        write_json(config, {'args': {'mid_channels': 16}})
        self.convert_fails(self.SRC, '--config', config, mentions=["no argument 'mid_channels'"])

    def test_truncated_files(self):
        for name, case in [('legacy', 'edvr_x4_tsa'), ('zip', 'vrt_vfi')]:
            with self.subTest(container=name):
                raw = read_bytes(os.path.join(FIXTURES, case, 'weights.pth'))
                src = self.path(f'truncated_{name}.pth')
                write_bytes(src, raw[:len(raw) // 2])
                self.convert_fails(src, mentions=['truncated'])

    def test_not_a_checkpoint(self):
        text = self.path('notes.pth')
        write_bytes(text, b'just some text\n')
        self.convert_fails(text, mentions=['not a PyTorch checkpoint'])
        plain = self.path('plain.pth')
        write_bytes(plain, pickle.dumps({'a': 1}, protocol=2))
        self.convert_fails(plain, mentions=['not a PyTorch checkpoint'])
        self.convert_fails(self.path('missing.pth'), mentions=['cannot read'])
        other = self.path('other.pth')
        torch.save({'model': {'w': torch.zeros(2)}}, other)
        self.convert_fails(other, mentions=['unknown checkpoint layout'])
        unknown = self.path('unknown.pth')
        torch.save({'params': {'w': torch.zeros(2)}}, unknown)
        self.convert_fails(unknown, mentions=['unknown layout'])

    def test_hostile_pickles_execute_nothing(self):
        marker = self.path('executed')
        payload = pickle.dumps(_Hostile(marker), protocol=2)
        headers = b''.join(pickle.dumps(x, protocol=2) for x in
                           [0x1950a86a20f9469cfc6c, 1001, {'protocol_version': 1001, 'little_endian': True}])
        legacy_first = self.path('hostile_first.pth')
        write_bytes(legacy_first, payload)
        legacy_main = self.path('hostile_main.pth')
        write_bytes(legacy_main, headers + payload)
        zipped = self.path('hostile_zip.pth')
        with zipfile.ZipFile(zipped, 'w') as z:
            z.writestr('archive/data.pkl', payload)
            z.writestr('archive/version', '3\n')
        for src in (legacy_first, legacy_main, zipped):
            with self.subTest(src=os.path.basename(src)):
                self.convert_fails(src, mentions=['posix.system', 'not allowed'])
                self.assertFalse(os.path.exists(marker))
        self.assertEqual(run(INSPECT, zipped).returncode, 2)
        self.assertFalse(os.path.exists(marker))


# ----------------------------------------------------------------------------------------------
# (d) storage layouts and wrapper variants

class LayoutTest(TempDirTest):
    def test_views_offsets_and_shared_storages(self):
        state = torch.load(os.path.join(FIXTURES, 'edvr_x4_tsa', 'weights.pth'))['params']
        names = list(state)
        # one shared storage holding two tensors at offsets, a transposed layout, an expansion
        a, b = state[names[2]], state[names[4]]
        flat = torch.cat([torch.randn(5), a.flatten(), b.flatten()])
        state[names[2]] = flat[5:5 + a.numel()].view(a.shape)
        state[names[4]] = flat[5 + a.numel():].view(b.shape)
        w = state['conv_hr.weight']
        state['conv_hr.weight'] = w.permute(1, 0, 3, 2).contiguous().permute(1, 0, 3, 2)
        state['conv_last.bias'] = torch.randn(1).expand(3)
        self.assertFalse(state['conv_hr.weight'].is_contiguous())
        wrapped = {'params_ema': {f'module.{k}': v for k, v in state.items()}}
        for container in ('legacy', 'zip'):
            with self.subTest(container=container):
                src = self.path(f'{container}.pth')
                torch.save(wrapped, src, _use_new_zipfile_serialization=container == 'zip')
                (metadata, tensors), _ = self.convert_ok(src)
                self.assertIn(f'({container}, basicsr-params_ema)', metadata['vrestore.source'])
                assert_bit_exact(self, tensors, collections.OrderedDict(state))

    def test_params_preferred_over_params_ema_and_bf16_widened(self):
        state = torch.load(os.path.join(FIXTURES, 'edvr_x4_tsa', 'weights.pth'))['params']
        ema = collections.OrderedDict((k, v.to(torch.bfloat16)) for k, v in state.items())
        src = self.path('both.pth')
        torch.save({'params': ema, 'params_ema': state}, src)
        (metadata, tensors), log = self.convert_ok(src)
        self.assertIn('basicsr-params', metadata['vrestore.source'])
        self.assertIn('ignored entries outside the network weights: params_ema', log)
        name = 'conv_first.weight'
        self.assertEqual(tensors[name].dtype, np.float32)
        self.assertTrue(np.array_equal(tensors[name], ema[name].float().numpy()))


if __name__ == '__main__':
    unittest.main()
