"""EDVR: BasicSR `basicsr/archs/edvr_arch.py` EDVR, mmedit `edvr_net.py` EDVRNet, and BasicSR's
EDVRFeatureExtractor (`basicvsr_arch.py`, the IconVSR helper; also reused by basicvsr.py).

Both projects build the same network; mmedit renames a few modules and wraps some convs in mmcv
ConvModule (one more '.conv' level): see spec_edvr_basicvsr.md §2 for the full map.
"""
from .keys import MAX_COUNT, MAX_WIDTH, Arch, BadArgument, KeyList, top_modules, whole, whole_or_none

EDVR_TAIL = {'reconstruction', 'upconv1', 'upconv2', 'conv_hr', 'conv_last'}


class Naming:
    """Module names of the BasicSR (mmedit=False) or mmedit (mmedit=True) implementation."""

    def __init__(self, mmedit):
        self.mmedit = mmedit
        self.pcd = 'pcd_alignment' if mmedit else 'pcd_align'
        self.pyramid = (['feat_l2_conv1', 'feat_l2_conv2', 'feat_l3_conv1', 'feat_l3_conv2'] if mmedit
                        else ['conv_l2_1', 'conv_l2_2', 'conv_l3_1', 'conv_l3_2'])

    def cm(self, name):
        """Name of a conv that mmedit wraps in a ConvModule (conv + activation)."""
        return f'{name}.conv' if self.mmedit else name


def add_extraction_and_pyramid(kl, p, n: Naming, c, num_blocks):
    kl.residual_blocks(f'{p}feature_extraction', num_blocks, c)
    for name in n.pyramid:
        kl.conv(p + n.cm(name), c, c)


def add_dcn_pack(kl, name, c, groups):
    """DCNv2Pack / ModulatedDCNPack: main weight + conv_offset producing 3*groups*9 channels."""
    kl.conv(name, c, c)
    kl.conv(f'{name}.conv_offset', 27 * groups, c)


def add_pcd(kl, p, n: Naming, c, groups):
    a = p + n.pcd
    for level in ('l3', 'l2', 'l1'):
        kl.conv(n.cm(f'{a}.offset_conv1.{level}'), c, 2 * c)
    for level in ('l3', 'l2', 'l1'):
        kl.conv(n.cm(f'{a}.offset_conv2.{level}'), c, c if level == 'l3' else 2 * c)
    for level in ('l2', 'l1'):
        kl.conv(n.cm(f'{a}.offset_conv3.{level}'), c, c)
    for level in ('l3', 'l2', 'l1'):
        add_dcn_pack(kl, f'{a}.dcn_pack.{level}', c, groups)
    for level in ('l2', 'l1'):
        kl.conv(n.cm(f'{a}.feat_conv.{level}'), c, 2 * c)
    kl.conv(n.cm(f'{a}.cas_offset_conv1'), c, 2 * c)
    kl.conv(n.cm(f'{a}.cas_offset_conv2'), c, c)
    add_dcn_pack(kl, f'{a}.cas_dcnpack', c, groups)


def add_fusion(kl, p, n: Naming, c, frames, with_tsa):
    f = f'{p}fusion'
    if not with_tsa:
        kl.conv(f, c, frames * c, 1)
        return
    kl.conv(f'{f}.temporal_attn1', c, c)
    kl.conv(f'{f}.temporal_attn2', c, c)
    kl.conv(n.cm(f'{f}.feat_fusion'), c, frames * c, 1)
    kl.conv(n.cm(f'{f}.spatial_attn1'), c, frames * c, 1)
    kl.conv(n.cm(f'{f}.spatial_attn2'), c, 2 * c, 1)
    kl.conv(n.cm(f'{f}.spatial_attn3'), c, c, 3)
    kl.conv(n.cm(f'{f}.spatial_attn4'), c, c, 1)
    kl.conv(f'{f}.spatial_attn5', c, c, 3)
    kl.conv(n.cm(f'{f}.spatial_attn_l1'), c, c, 1)
    kl.conv(n.cm(f'{f}.spatial_attn_l2'), c, 2 * c, 3)
    kl.conv(n.cm(f'{f}.spatial_attn_l3'), c, c, 3)
    kl.conv(n.cm(f'{f}.spatial_attn_add1'), c, c, 1)
    kl.conv(f'{f}.spatial_attn_add2', c, c, 1)


def add_predeblur(kl, c, hr_in):
    kl.conv('predeblur.conv_first', c, 3)  # upstream builds it for 3 input channels always
    if hr_in:
        kl.conv('predeblur.stride_conv_hr1', c, c)
        kl.conv('predeblur.stride_conv_hr2', c, c)
    kl.conv('predeblur.stride_conv_l2', c, c)
    kl.conv('predeblur.stride_conv_l3', c, c)
    for name in ('resblock_l3', 'resblock_l2_1', 'resblock_l2_2'):
        kl.conv(f'predeblur.{name}.conv1', c, c)
        kl.conv(f'predeblur.{name}.conv2', c, c)
    kl.residual_blocks('predeblur.resblock_l1', 5, c)


def add_reconstruction(kl, n: Naming, c, num_blocks, out_channels=3):
    """Residual blocks + two x2 pixel-shuffle stages; the tail is 64 wide whatever c is."""
    kl.residual_blocks('reconstruction', num_blocks, c)
    kl.conv('upsample1.upsample_conv' if n.mmedit else 'upconv1', 4 * c, c)
    kl.conv('upsample2.upsample_conv' if n.mmedit else 'upconv2', 4 * 64, c)
    kl.conv('conv_hr', 64, 64)
    kl.conv('conv_last', out_channels, 64)


def add_feature_extractor(kl, prefix, mmedit, c, frames):
    """EDVRFeatureExtractor (IconVSR): 5 blocks, 8 deformable groups, TSA, no reconstruction."""
    n = Naming(mmedit)
    kl.conv(f'{prefix}conv_first', c, 3)
    add_extraction_and_pyramid(kl, prefix, n, c, 5)
    add_pcd(kl, prefix, n, c, 8)
    add_fusion(kl, prefix, n, c, frames, True)


def infer_core(s, prefix, n: Naming):
    """(channels, frames, deformable groups, TSA?) from the PCD and fusion keys."""
    pcd = f'{prefix}{n.pcd}'
    c = s.dim(f'{pcd}.cas_dcnpack.weight', 0, 'the feature width')
    key = f'{pcd}.dcn_pack.l1.conv_offset.weight'
    groups = s.divide(s.dim(key, 0, 'deformable groups'), 27, 'deformable groups', key)
    with_tsa = s.has(f'{prefix}fusion.temporal_attn1.weight')
    key = prefix + (n.cm('fusion.feat_fusion') if with_tsa else 'fusion') + '.weight'
    frames = s.divide(s.dim(key, 1, 'the number of frames'), c, 'the number of frames', key)
    return c, frames, groups, with_tsa


def check_core(a, width, frames, groups):
    """What upstream and vrestore need: the deformable groups divide the width, and the centre
    frame (None: frames // 2) lies inside the window."""
    if a[width] % a[groups]:
        raise BadArgument(groups, f'= {a[groups]} does not divide {width} = {a[width]}')
    centre = a.get('center_frame_idx')
    if centre is not None and centre >= a[frames]:
        raise BadArgument('center_frame_idx', f'is outside [0, {a[frames]}) ({frames} = {a[frames]})')


def _basicsr_check(a):
    check_core(a, 'num_feat', 'num_frame', 'deformable_groups')
    if a['hr_in'] and not a['with_predeblur']:
        raise BadArgument('hr_in', 'is true without with_predeblur; EDVR(hr_in=True) needs the '
                                   'predeblur module (upstream fails at run time, vrestore refuses it)')


# --- BasicSR EDVR -------------------------------------------------------------------------------

def _basicsr_infer(s, args):
    n = Naming(False)
    c, frames, groups, with_tsa = infer_core(s, '', n)
    inferred = dict(num_feat=c, num_frame=frames, deformable_groups=groups, with_tsa=with_tsa,
                    num_extract_block=s.count('feature_extraction.#.conv1.weight'),
                    num_reconstruct_block=s.count('reconstruction.#.conv1.weight'),
                    with_predeblur=s.has('predeblur.conv_first.weight'))
    if inferred['with_predeblur']:
        inferred['hr_in'] = s.has('predeblur.stride_conv_hr1.weight')
    else:
        inferred['num_in_ch'] = s.dim('conv_first.weight', 1, 'num_in_ch')
    return inferred


def _basicsr_keys(a):
    kl, n, c = KeyList(), Naming(False), a['num_feat']
    if a['with_predeblur']:
        add_predeblur(kl, c, a['hr_in'])
        kl.conv('conv_1x1', c, c, 1)
    else:
        kl.conv('conv_first', c, a['num_in_ch'])
    add_extraction_and_pyramid(kl, '', n, c, a['num_extract_block'])
    add_pcd(kl, '', n, c, a['deformable_groups'])
    add_fusion(kl, '', n, c, a['num_frame'], a['with_tsa'])
    add_reconstruction(kl, n, c, a['num_reconstruct_block'])  # num_out_ch is unused upstream
    return kl


BASICSR_EDVR = Arch(
    name='basicsr.EDVR',
    defaults=dict(num_in_ch=3, num_out_ch=3, num_feat=64, num_frame=5, deformable_groups=8,
                  num_extract_block=5, num_reconstruct_block=10, center_frame_idx=None,
                  hr_in=False, with_predeblur=False, with_tsa=True),
    matches=lambda keys: 'pcd_align' in top_modules(keys) and bool(EDVR_TAIL & top_modules(keys)),
    infer=_basicsr_infer, keys=_basicsr_keys,
    scale=lambda a: 1 if a['hr_in'] else 4,
    # hr_in is inferred only with predeblur (without it hr_in adds no keys); num_in_ch only without.
    not_inferable=('num_out_ch', 'center_frame_idx'),
    check_args=_basicsr_check,
    limits=dict(num_in_ch=whole(1, MAX_WIDTH), num_out_ch=whole(1, MAX_WIDTH), num_feat=whole(1, MAX_WIDTH),
                num_frame=whole(1, MAX_COUNT), deformable_groups=whole(1, MAX_WIDTH),
                num_extract_block=whole(0, MAX_COUNT), num_reconstruct_block=whole(0, MAX_COUNT),
                center_frame_idx=whole_or_none(0, MAX_COUNT)))


# --- mmedit EDVRNet -----------------------------------------------------------------------------

def _mmedit_infer(s, args):
    c, frames, groups, with_tsa = infer_core(s, '', Naming(True))
    return dict(in_channels=s.dim('conv_first.weight', 1, 'in_channels'),
                out_channels=s.dim('conv_last.weight', 0, 'out_channels'),
                mid_channels=c, num_frames=frames, deform_groups=groups, with_tsa=with_tsa,
                num_blocks_extraction=s.count('feature_extraction.#.conv1.weight'),
                num_blocks_reconstruction=s.count('reconstruction.#.conv1.weight'))


def _mmedit_keys(a):
    kl, n, c = KeyList(), Naming(True), a['mid_channels']
    kl.conv('conv_first', c, a['in_channels'])
    add_extraction_and_pyramid(kl, '', n, c, a['num_blocks_extraction'])
    add_pcd(kl, '', n, c, a['deform_groups'])
    add_fusion(kl, '', n, c, a['num_frames'], a['with_tsa'])
    add_reconstruction(kl, n, c, a['num_blocks_reconstruction'], a['out_channels'])
    return kl


MMEDIT_EDVRNET = Arch(
    name='mmedit.EDVRNet',
    defaults=dict(in_channels=3, out_channels=3, mid_channels=64, num_frames=5, deform_groups=8,
                  num_blocks_extraction=5, num_blocks_reconstruction=10, center_frame_idx=2,
                  with_tsa=True),
    matches=lambda keys: 'pcd_alignment' in top_modules(keys),
    infer=_mmedit_infer, keys=_mmedit_keys, scale=lambda a: 4,
    not_inferable=('center_frame_idx',),
    check_args=lambda a: check_core(a, 'mid_channels', 'num_frames', 'deform_groups'),
    limits=dict(in_channels=whole(1, MAX_WIDTH), out_channels=whole(1, MAX_WIDTH),
                mid_channels=whole(1, MAX_WIDTH), num_frames=whole(1, MAX_COUNT),
                deform_groups=whole(1, MAX_WIDTH), num_blocks_extraction=whole(0, MAX_COUNT),
                num_blocks_reconstruction=whole(0, MAX_COUNT), center_frame_idx=whole(0, MAX_COUNT)))


# --- BasicSR EDVRFeatureExtractor (IconVSR pre-training file) -----------------------------------

def _extractor_infer(s, args):
    c, frames, _, _ = infer_core(s, '', Naming(False))
    return dict(num_input_frame=frames, num_feat=c)


def _extractor_keys(a):
    kl = KeyList()
    add_feature_extractor(kl, '', False, a['num_feat'], a['num_input_frame'])
    return kl


BASICSR_EDVR_FEATURE_EXTRACTOR = Arch(
    name='basicsr.EDVRFeatureExtractor',
    defaults=dict(num_input_frame=5, num_feat=64),
    matches=lambda keys: 'pcd_align' in top_modules(keys) and not EDVR_TAIL & top_modules(keys),
    infer=_extractor_infer, keys=_extractor_keys, scale=lambda a: 1,
    path_args=('load_path',),
    limits=dict(num_input_frame=whole(1, MAX_COUNT), num_feat=whole(1, MAX_WIDTH)))

ARCHS = [BASICSR_EDVR, MMEDIT_EDVRNET, BASICSR_EDVR_FEATURE_EXTRACTOR]
