"""BasicVSR and its relatives: BasicSR `basicvsr_arch.py` (BasicVSR, IconVSR) and mmedit
`basicvsr_net.py` (BasicVSRNet), `iconvsr.py` (IconVSR), `real_basicvsr_net.py` (RealBasicVSRNet).

BasicSR names: backward_trunk/forward_trunk, upconv1/upconv2, SpyNet convs without '.conv'.
mmedit names: backward_resblocks/forward_resblocks, upsample1/2.upsample_conv, ConvModule SpyNet.
"""
from . import edvr, spynet
from .keys import MAX_COUNT, MAX_WIDTH, Arch, KeyList, finite, top_modules, whole


def _names(mmedit):
    if mmedit:
        return 'backward_resblocks', 'forward_resblocks', 'upsample1.upsample_conv', 'upsample2.upsample_conv'
    return 'backward_trunk', 'forward_trunk', 'upconv1', 'upconv2'


def _add_upsampler(kl, p, up1, up2, c):
    kl.conv(p + up1, 4 * c, c)
    kl.conv(p + up2, 4 * 64, c)  # the tail is 64 wide whatever c is
    kl.conv(p + 'conv_hr', 64, 64)
    kl.conv(p + 'conv_last', 3, 64)


def add_basicvsr_keys(kl, p, mmedit, c, blocks):
    backward, forward, up1, up2 = _names(mmedit)
    spynet.add_spynet_keys(kl, p + 'spynet.', mmedit)
    kl.conv_residual_blocks(p + backward, c + 3, c, blocks)
    kl.conv_residual_blocks(p + forward, c + 3, c, blocks)
    kl.conv(p + 'fusion', c, 2 * c, 1)
    _add_upsampler(kl, p, up1, up2, c)


def _infer_basicvsr(s, p, mmedit):
    backward = _names(mmedit)[0]
    return (s.dim(f'{p}{backward}.main.0.weight', 0, 'the feature width'),
            s.count(f'{p}{backward}.main.2.#.conv1.weight'))


def _has_trunk(keys, mmedit):
    return _names(mmedit)[0] in top_modules(keys)


def _has_refill(keys):
    """IconVSR's information-refill modules (EDVR feature extractor + fusion convs)."""
    return bool({'edvr', 'backward_fusion', 'forward_fusion'} & top_modules(keys))


# --- BasicVSR -----------------------------------------------------------------------------------

def _basicvsr_arch(mmedit):
    feat, block = ('mid_channels', 'num_blocks') if mmedit else ('num_feat', 'num_block')

    def infer(s, args):
        c, n = _infer_basicvsr(s, '', mmedit)
        return {feat: c, block: n}

    def keys(a):
        kl = KeyList()
        add_basicvsr_keys(kl, '', mmedit, a[feat], a[block])
        return kl

    return Arch(
        name='mmedit.BasicVSRNet' if mmedit else 'basicsr.BasicVSR',
        defaults={feat: 64, block: 30 if mmedit else 15},
        matches=lambda k: _has_trunk(k, mmedit) and not _has_refill(k),
        infer=infer, keys=keys, scale=lambda a: 4,
        path_args=('spynet_pretrained',) if mmedit else ('spynet_path',),
        constant_keys=spynet.constant_keys('spynet.'),
        limits={feat: whole(1, MAX_WIDTH), block: whole(0, MAX_COUNT)})


# --- IconVSR ------------------------------------------------------------------------------------

def _iconvsr_arch(mmedit):
    feat, block, pad = (('mid_channels', 'num_blocks', 'padding') if mmedit
                        else ('num_feat', 'num_block', 'temporal_padding'))
    backward, forward, up1, up2 = _names(mmedit)
    fusion_key = 'edvr.' + edvr.Naming(mmedit).cm('fusion.feat_fusion') + '.weight'

    def infer(s, args):
        c, n = _infer_basicvsr(s, '', mmedit)
        edvr_c = s.dim('edvr.conv_first.weight', 0, 'the EDVR width')
        frames = s.divide(s.dim(fusion_key, 1, pad), edvr_c, pad, fusion_key)
        return {feat: c, block: n, pad: frames // 2}  # 2 * padding + 1 frames

    def keys(a):
        # Keys are compared by name, so one registration order serves both projects.
        kl, c = KeyList(), a[feat]
        edvr_c = 64 if mmedit else c  # mmedit builds its EDVRFeatureExtractor at the default width
        edvr.add_feature_extractor(kl, 'edvr.', mmedit, edvr_c, 2 * a[pad] + 1)
        spynet.add_spynet_keys(kl, 'spynet.', mmedit)
        kl.conv('backward_fusion', c, 2 * c)
        kl.conv_residual_blocks(backward, c + 3, c, a[block])
        kl.conv('forward_fusion', c, 2 * c)
        kl.conv_residual_blocks(forward, 2 * c + 3, c, a[block])
        _add_upsampler(kl, '', up1, up2, c)
        return kl

    return Arch(
        name='mmedit.IconVSR' if mmedit else 'basicsr.IconVSR',
        defaults={feat: 64, block: 30 if mmedit else 15, 'keyframe_stride': 5, pad: 2},
        matches=lambda k: _has_trunk(k, mmedit) and _has_refill(k),
        infer=infer, keys=keys, scale=lambda a: 4,
        path_args=('spynet_pretrained', 'edvr_pretrained') if mmedit else ('spynet_path', 'edvr_path'),
        not_inferable=('keyframe_stride',),
        constant_keys=spynet.constant_keys('spynet.'),
        limits={feat: whole(1, MAX_WIDTH), block: whole(0, MAX_COUNT),
                'keyframe_stride': whole(1, MAX_COUNT), pad: whole(0, MAX_COUNT)})


# --- RealBasicVSR -------------------------------------------------------------------------------

def _realbasicvsr_infer(s, args):
    c, n = _infer_basicvsr(s, 'basicvsr.', True)
    return dict(mid_channels=s.dim('image_cleaning.0.main.0.weight', 0, 'mid_channels'),
                num_propagation_blocks=n,
                num_cleaning_blocks=s.count('image_cleaning.0.main.2.#.conv1.weight'))


def _realbasicvsr_keys(a):
    kl, c = KeyList(), a['mid_channels']
    kl.conv_residual_blocks('image_cleaning.0', 3, c, a['num_cleaning_blocks'])
    kl.conv('image_cleaning.1', 3, c)
    add_basicvsr_keys(kl, 'basicvsr.', True, c, a['num_propagation_blocks'])
    return kl


MMEDIT_REALBASICVSR = Arch(
    name='mmedit.RealBasicVSRNet',
    defaults=dict(mid_channels=64, num_propagation_blocks=20, num_cleaning_blocks=20,
                  dynamic_refine_thres=255, is_fix_cleaning=False, is_sequential_cleaning=False),
    matches=lambda k: 'image_cleaning' in top_modules(k),
    infer=_realbasicvsr_infer, keys=_realbasicvsr_keys, scale=lambda a: 4,
    path_args=('spynet_pretrained',),
    # Runtime behaviour only: the cleaning threshold and loop style leave no trace in the weights.
    not_inferable=('dynamic_refine_thres', 'is_fix_cleaning', 'is_sequential_cleaning'),
    float_args=('dynamic_refine_thres',),
    constant_keys=spynet.constant_keys('basicvsr.spynet.'),
    # The threshold is compared with a mean absolute residue (0..255 scale): any finite value runs.
    limits=dict(mid_channels=whole(1, MAX_WIDTH), num_propagation_blocks=whole(0, MAX_COUNT),
                num_cleaning_blocks=whole(0, MAX_COUNT), dynamic_refine_thres=finite()))

ARCHS = [_basicvsr_arch(False), _basicvsr_arch(True), _iconvsr_arch(False), _iconvsr_arch(True),
         MMEDIT_REALBASICVSR]
