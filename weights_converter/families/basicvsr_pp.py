"""BasicVSR++ (mmedit `basicvsr_pp.py` BasicVSRPlusPlus; mmagic 1.x uses the same names).

Four propagation branches, each with a second-order deformable alignment (16 deformable groups,
hard-wired upstream) and a residual trunk whose input grows by one feature map per branch.
is_low_res_input=False (same-size output) replaces the input conv by two stride-2 convs.
"""
from . import spynet
from .keys import MAX_COUNT, MAX_WIDTH, Arch, KeyList, finite, top_modules, whole

BRANCHES = ('backward_1', 'forward_1', 'backward_2', 'forward_2')
DEFORM_GROUPS = 16


def _infer(s, args):
    low_res = s.has('feat_extract.main.0.weight')
    width_key = 'feat_extract.main.0.weight' if low_res else 'feat_extract.0.weight'
    return dict(mid_channels=s.dim(width_key, 0, 'mid_channels'),
                num_blocks=s.count('backbone.backward_1.main.2.#.conv1.weight'),
                is_low_res_input=low_res)


def _keys(a):
    kl, c = KeyList(), a['mid_channels']
    spynet.add_spynet_keys(kl, 'spynet.', True)
    if a['is_low_res_input']:
        kl.conv_residual_blocks('feat_extract', 3, c, 5)
    else:
        kl.conv('feat_extract.0', c, 3)
        kl.conv('feat_extract.2', c, c)
        kl.conv_residual_blocks('feat_extract.4', c, c, 5)
    for name in BRANCHES:
        kl.conv(f'deform_align.{name}', c, 2 * c)
        kl.conv(f'deform_align.{name}.conv_offset.0', c, 3 * c + 4)
        kl.conv(f'deform_align.{name}.conv_offset.2', c, c)
        kl.conv(f'deform_align.{name}.conv_offset.4', c, c)
        kl.conv(f'deform_align.{name}.conv_offset.6', 27 * DEFORM_GROUPS, c)
    for i, name in enumerate(BRANCHES):
        kl.conv_residual_blocks(f'backbone.{name}', (2 + i) * c, c, a['num_blocks'])
    kl.conv_residual_blocks('reconstruction', 5 * c, c, 5)
    kl.conv('upsample1.upsample_conv', 4 * c, c)
    kl.conv('upsample2.upsample_conv', 4 * 64, c)
    kl.conv('conv_hr', 64, 64)
    kl.conv('conv_last', 3, 64)
    return kl


MMEDIT_BASICVSR_PLUSPLUS = Arch(
    name='mmedit.BasicVSRPlusPlus',
    defaults=dict(mid_channels=64, num_blocks=7, max_residue_magnitude=10, is_low_res_input=True,
                  cpu_cache_length=100),
    matches=lambda k: 'deform_align' in top_modules(k),
    infer=_infer, keys=_keys,
    scale=lambda a: 4 if a['is_low_res_input'] else 1,
    path_args=('spynet_pretrained',),
    not_inferable=('max_residue_magnitude', 'cpu_cache_length'),
    float_args=('max_residue_magnitude',),
    constant_keys=spynet.constant_keys('spynet.'),
    limits=dict(mid_channels=whole(1, MAX_WIDTH), num_blocks=whole(0, MAX_COUNT),
                max_residue_magnitude=finite(0, low_open=True), cpu_cache_length=whole(0, 1 << 31)))

ARCHS = [MMEDIT_BASICVSR_PLUSPLUS]
