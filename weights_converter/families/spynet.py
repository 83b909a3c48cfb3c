"""SpyNet optical flow (BasicSR `basicsr/archs/spynet_arch.py` SpyNet, mmedit `SPyNet`).

Six pyramid levels, each five 7x7 convs 8->32->64->32->16->2. BasicSR names the convs
basic_module.<L>.basic_module.<0|2|4|6|8> (ReLUs at odd indices), mmedit wraps each in a
ConvModule: basic_module.<L>.basic_module.<0..4>.conv. The ImageNet mean/std buffers are constants;
standalone release files do not contain them, full-model files do. They are dropped either way.
"""
from .keys import Arch, KeyList, top_modules

CHANNELS = [8, 32, 64, 32, 16, 2]
CONSTANT_BUFFERS = ('mean', 'std')


def add_spynet_keys(kl: KeyList, prefix, mmedit):
    for level in range(6):
        for i in range(5):
            name = (f'{prefix}basic_module.{level}.basic_module.{i}.conv' if mmedit
                    else f'{prefix}basic_module.{level}.basic_module.{2 * i}')
            kl.conv(name, CHANNELS[i + 1], CHANNELS[i], 7)


def constant_keys(prefix):
    return tuple(prefix + b for b in CONSTANT_BUFFERS)


def _mmedit_style(keys):
    return any(k.endswith(('.conv.weight', '.conv.bias')) for k in keys)


def _keys(mmedit):
    def build(args):
        kl = KeyList()
        add_spynet_keys(kl, '', mmedit)
        return kl
    return build


BASICSR_SPYNET = Arch(
    name='basicsr.SpyNet', defaults={},
    matches=lambda keys: 'basic_module' in top_modules(keys) and not _mmedit_style(keys),
    infer=lambda shapes, args: {}, keys=_keys(False), scale=lambda args: 1,
    path_args=('load_path',), constant_keys=constant_keys(''))

MMEDIT_SPYNET = Arch(
    name='mmedit.SPyNet', defaults={},
    matches=lambda keys: 'basic_module' in top_modules(keys) and _mmedit_style(keys),
    infer=lambda shapes, args: {}, keys=_keys(True), scale=lambda args: 1,
    path_args=('pretrained',), constant_keys=constant_keys(''))

ARCHS = [BASICSR_SPYNET, MMEDIT_SPYNET]
