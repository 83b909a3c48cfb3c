"""VRT (github.com/JingyunLiang/VRT `models/network_vrt.py`, class VRT); see spec_vrt.md §1.

Layers 0-6 are the U-Net stages stage1..stage7 (reshape, mutual+self TMSA group with window
(2, Wh, Ww), self-attention group with the full window, parallel warping when pa_frames > 0);
layers 7.. are stage8.1.. (self-attention only, window (1, Wh, Ww) for indep_reconsts layers).
Every attention block stores relative_position_index (int64) and, when mutual, position_bias;
both are kept in the output. spynet.mean/std are dropped (constants).
"""
import math

from .. import ConversionError
from . import spynet
from .keys import (MAX_WIDTH, Arch, KeyList, finite, finite_or_none, one_of, top_modules, whole,
                   whole_list)

RESHAPES = ['none', 'down', 'down', 'down', 'up', 'up', 'up']
RECON_WIDTH = 64  # num_feat of the reconstruction head, hard-wired upstream
MAX_LAYERS = 64    # entries of depths / embed_dims / num_heads (the releases have 13)
MAX_BLOCKS = 1000  # attention blocks per layer (the releases have at most 8)

DEFAULTS = dict(
    upscale=4, in_chans=3, out_chans=3, img_size=[6, 64, 64], window_size=[6, 8, 8],
    depths=[8] * 7 + [4] * 6, indep_reconsts=[11, 12], embed_dims=[120] * 7 + [180] * 6,
    num_heads=[6] * 13, mul_attn_ratio=0.75, mlp_ratio=2.0, qkv_bias=True, qk_scale=None,
    drop_path_rate=0.2, pa_frames=2, deformable_groups=16, recal_all_flows=False,
    nonblind_denoising=False, use_checkpoint_attn=False, use_checkpoint_ffn=False,
    no_checkpoint_attn_blocks=[], no_checkpoint_ffn_blocks=[])


# --- keys ---------------------------------------------------------------------------------------

def _add_attention_block(kl, name, dim, heads, window, mutual, a):
    wd, wh, ww = window
    tokens = wd * wh * ww
    hidden = int(dim * a['mlp_ratio'])
    kl.layer_norm(f'{name}.norm1', dim)
    kl.add(f'{name}.attn.relative_position_bias_table', (2 * wd - 1) * (2 * wh - 1) * (2 * ww - 1), heads)
    kl.add(f'{name}.attn.relative_position_index', tokens, tokens, kind='int')
    if mutual:
        kl.add(f'{name}.attn.position_bias', 1, wh * ww, 2 * (dim // 2))
    kl.linear(f'{name}.attn.qkv_self', 3 * dim, dim, bias=a['qkv_bias'])
    kl.linear(f'{name}.attn.proj', dim, 2 * dim if mutual else dim)
    if mutual:
        kl.linear(f'{name}.attn.qkv_mut', 3 * dim, dim, bias=a['qkv_bias'])
    kl.layer_norm(f'{name}.norm2', dim)
    kl.linear(f'{name}.mlp.fc11', hidden, dim)
    kl.linear(f'{name}.mlp.fc12', hidden, dim)
    kl.linear(f'{name}.mlp.fc2', dim, hidden)


def _add_stage(kl, i, a):
    p, dims, window = f'stage{i + 1}', a['embed_dims'], a['window_size']
    dim, in_dim, heads = dims[i], dims[i - 1], a['num_heads'][i]
    if RESHAPES[i] == 'none':
        kl.layer_norm(f'{p}.reshape.1', dim)
    else:
        width = 4 * in_dim if RESHAPES[i] == 'down' else in_dim // 4
        kl.layer_norm(f'{p}.reshape.1', width)
        kl.linear(f'{p}.reshape.2', dim, width)
    mutual_depth = int(a['depths'][i] * a['mul_attn_ratio'])
    for j in range(mutual_depth):
        _add_attention_block(kl, f'{p}.residual_group1.blocks.{j}', dim, heads,
                             (2, window[1], window[2]), True, a)
    kl.linear(f'{p}.linear1', dim, dim)
    for j in range(a['depths'][i] - mutual_depth):
        _add_attention_block(kl, f'{p}.residual_group2.blocks.{j}', dim, heads, window, False, a)
    kl.linear(f'{p}.linear2', dim, dim)
    pa = a['pa_frames']
    if pa:
        kl.conv(f'{p}.pa_deform', dim, dim)
        kl.conv(f'{p}.pa_deform.conv_offset.0', dim, (1 + pa // 2) * dim + pa)
        kl.conv(f'{p}.pa_deform.conv_offset.2', dim, dim)
        kl.conv(f'{p}.pa_deform.conv_offset.4', dim, dim)
        kl.conv(f'{p}.pa_deform.conv_offset.6', 27 * a['deformable_groups'], dim)
        kl.linear(f'{p}.pa_fuse.fc11', 3 * dim, 3 * dim)
        kl.linear(f'{p}.pa_fuse.fc12', 3 * dim, 3 * dim)
        kl.linear(f'{p}.pa_fuse.fc2', dim, 3 * dim)


def _add_reconstruction(kl, a):
    c0, out, conv3d = a['embed_dims'][0], a['out_chans'], (1, 3, 3)
    if not a['pa_frames']:  # frame interpolation head
        kl.conv('linear_fuse', RECON_WIDTH, c0 * a['img_size'][0], 1)
        kl.conv('conv_last', out, RECON_WIDTH, 7)
    elif a['upscale'] == 1:
        kl.conv('conv_last', out, c0, conv3d)
    else:
        kl.conv('conv_before_upsample.0', RECON_WIDTH, c0, conv3d)
        # Upsample: per x2 step [Conv3d, transpose, PixelShuffle, transpose, LeakyReLU] (5 modules).
        steps = [9] if a['upscale'] == 3 else [4] * (a['upscale'].bit_length() - 1)
        for k, factor in enumerate(steps):
            kl.conv(f'upsample.{5 * k}', factor * RECON_WIDTH, RECON_WIDTH, conv3d)
        kl.conv(f'upsample.{5 * len(steps)}', RECON_WIDTH, RECON_WIDTH, conv3d)
        kl.conv('conv_last', out, RECON_WIDTH, conv3d)


def _keys(a):
    kl, dims, pa = KeyList(), a['embed_dims'], a['pa_frames']
    first_in = a['in_chans'] * 9 + (1 if a['nonblind_denoising'] else 0) if pa else a['in_chans']
    kl.conv('conv_first', dims[0], first_in, (1, 3, 3))
    if pa:
        spynet.add_spynet_keys(kl, 'spynet.', False)
    for i in range(7):
        _add_stage(kl, i, a)
    kl.layer_norm('stage8.0.1', dims[6])
    kl.linear('stage8.0.2', dims[7], dims[6])
    window = a['window_size']
    for i in range(7, len(a['depths'])):
        w = (1, window[1], window[2]) if i in a['indep_reconsts'] else window
        for j in range(a['depths'][i]):
            _add_attention_block(kl, f'stage8.{i - 6}.residual_group.blocks.{j}', dims[i],
                                 a['num_heads'][i], w, False, a)
        kl.linear(f'stage8.{i - 6}.linear', dims[i], dims[i])
    kl.layer_norm('norm', dims[-1])
    kl.linear('conv_after_body', dims[0], dims[-1])
    _add_reconstruction(kl, a)
    return kl


def _check_args(a):
    layers = len(a['depths'])
    if not (layers >= 8 and len(a['embed_dims']) == layers and len(a['num_heads']) == layers):
        raise ConversionError('invalid arguments: depths, embed_dims and num_heads need the same '
                              'length (at least 8)')
    if len(a['window_size']) != 3 or len(a['img_size']) != 3:
        raise ConversionError('invalid arguments: window_size and img_size need 3 entries')
    up = a['upscale']
    if a['pa_frames'] and not (isinstance(up, int) and up >= 1 and (up == 3 or up & (up - 1) == 0)):
        raise ConversionError(f'invalid arguments: upscale {up} is not 1, 3 or a power of 2')
    neighbours, groups = a['pa_frames'] // 2, a['deformable_groups']
    if neighbours and (groups % neighbours or any(d % neighbours for d in a['embed_dims'][:7])):
        # vrestore aligns each neighbour with its own offset groups (every release does: 12/1,
        # 24/3, 16/2); upstream would let one offset group span two neighbours' channels.
        raise ConversionError(f'unsupported arguments: deformable_groups {groups} and embed_dims '
                              f'{a["embed_dims"][:7]} with pa_frames {a["pa_frames"]} need both to be '
                              f'multiples of the {neighbours} neighbours (vrestore aligns each '
                              'neighbour with its own offset groups)')


# --- inference ----------------------------------------------------------------------------------

def _layer_prefixes(layers):
    """(layer index, [attention group prefixes]) for stages 1-7 and stage-8 layers."""
    for i in range(7):
        yield i, [f'stage{i + 1}.residual_group1', f'stage{i + 1}.residual_group2']
    for i in range(7, layers):
        yield i, [f'stage8.{i - 6}.residual_group']


def _first_block(s, group):
    name = f'{group}.blocks.0'
    return name if s.has(f'{name}.attn.relative_position_bias_table') else None


def _infer_layers(s, a):
    layers = max(s.count('stage8.#.linear.weight') + 6, 8)
    dims, depths, heads, mutual_depths, blocks = [], [], [], [], []
    for i, groups in _layer_prefixes(layers):
        linear = f'stage{i + 1}.linear1.weight' if i < 7 else f'stage8.{i - 6}.linear.weight'
        dims.append(s.dim(linear, 0, f'embed_dims[{i}]'))
        counts = [s.count(f'{g}.blocks.#.norm1.weight') for g in groups]
        depths.append(sum(counts))
        if i < 7:
            mutual_depths.append(counts[0])
        firsts = [b for b in (_first_block(s, g) for g in groups) if b]
        blocks.append(firsts)
        if firsts:
            heads.append(s.dim(f'{firsts[0]}.attn.relative_position_bias_table', 1, f'num_heads[{i}]'))
        else:  # a layer without blocks has no heads to see
            heads.append(_at(a['num_heads'], i, 6))
    return dict(embed_dims=dims, depths=depths, num_heads=heads), mutual_depths, blocks


def _at(values, i, fallback):
    return values[i] if isinstance(values, list) and i < len(values) else fallback


def _divisors(n):
    """Divisors of n in increasing order, in O(sqrt(n)) steps (n comes from a tensor shape)."""
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return small + [n // d for d in reversed(small) if d * d != n]


def _infer_window(s, blocks, current):
    """window_size from the relative-position tables: a full-window block fixes Wd*Wh*Ww and
    (2Wd-1)(2Wh-1)(2Ww-1); a mutual block, with window (2, Wh, Ww), fixes Wh*Ww. Wh and Ww can
    only swap when they differ: then the current value (default or --config) or Wh = Ww wins."""
    full = [b for firsts in blocks[:7] for b in firsts if 'residual_group2' in b]
    mutual = [b for firsts in blocks[:7] for b in firsts if 'residual_group1' in b]
    if not full:
        return current
    rows = s.get(f'{full[0]}.attn.relative_position_bias_table', 'window_size')[0]
    tokens = s.get(f'{full[0]}.attn.relative_position_index', 'window_size')[0]
    plane = s.get(f'{mutual[0]}.attn.position_bias', 'window_size')[1] if mutual else None
    candidates = [[wd, wh, tokens // wd // wh]
                  for wd in _divisors(tokens) for wh in _divisors(tokens // wd)
                  if (2 * wd - 1) * (2 * wh - 1) * (2 * (tokens // wd // wh) - 1) == rows
                  and (plane is None or wh * (tokens // wd // wh) == plane)]
    if not candidates:
        raise ConversionError(f'cannot infer window_size: {full[0]}.attn has a {rows}-row bias table '
                              f'and {tokens} tokens, which fit no window')
    if list(current) in candidates:
        return list(current)
    square = [c for c in candidates if c[1] == c[2]]
    return (square or candidates)[0]


def _ratio(pairs, current):
    """A ratio r with int(whole * r) == part for every (whole, part); the current value if it fits."""
    def fits(r):
        return all(int(whole * r) == part for whole, part in pairs)
    for r in [current] + [part / whole for whole, part in pairs if whole]:
        if isinstance(r, (int, float)) and fits(r):
            return r
    return current  # nothing fits: the key comparison reports the offending blocks


def _infer_upscale(s, pa):
    if not pa or not s.has('conv_before_upsample.0.weight'):
        return 1  # the frame-interpolation head never upsamples
    if s.dim('upsample.0.weight', 0, 'upscale') == 9 * RECON_WIDTH:
        return 3
    steps = 0  # x2 steps: Conv3d 64 -> 256 at upsample.0, .5, .10, ...
    while s.shapes.get(f'upsample.{5 * steps}.weight', (0,))[0] == 4 * RECON_WIDTH:
        steps += 1
    return 2 ** steps


def _infer_attention(s, a, layers, mutual_depths, blocks):
    """window_size, mul_attn_ratio, mlp_ratio, qkv_bias, indep_reconsts from attention blocks."""
    window = _infer_window(s, blocks, a['window_size'])
    stage_depths = list(zip(layers['depths'][:7], mutual_depths))
    inferred = dict(window_size=window, mul_attn_ratio=_ratio(stage_depths, a['mul_attn_ratio']))
    hidden = [(layers['embed_dims'][i], s.dim(f'{b}.mlp.fc11.weight', 0, 'mlp_ratio'))
              for i, firsts in enumerate(blocks) for b in firsts]
    inferred['mlp_ratio'] = float(_ratio(hidden, a['mlp_ratio']))
    any_block = next((b for firsts in blocks for b in firsts), None)
    if any_block:
        inferred['qkv_bias'] = s.has(f'{any_block}.attn.qkv_self.bias')
    if window[0] > 1:  # with Wd = 1 both window choices coincide and leave no trace
        local_rows = (2 * window[1] - 1) * (2 * window[2] - 1)
        inferred['indep_reconsts'] = [
            i for i in range(7, len(blocks)) if blocks[i] and
            s.get(f'{blocks[i][0]}.attn.relative_position_bias_table', 'indep_reconsts')[0] == local_rows]
    return inferred


def _infer_input_output(s, a, c0):
    """pa_frames, deformable_groups, in/out channels, denoising, upscale, img_size[0]."""
    pa = 0
    if s.has('stage1.pa_deform.weight'):
        key = 'stage1.pa_deform.conv_offset.0.weight'
        # conv_offset.0 input = (1 + pa/2) * C + pa  =>  pa = 2 * (in - C) / (C + 2)
        pa = s.divide(2 * (s.dim(key, 1, 'pa_frames') - c0), c0 + 2, 'pa_frames', key)
    first_in = s.dim('conv_first.weight', 1, 'in_chans')
    inferred = dict(pa_frames=pa, out_chans=s.dim('conv_last.weight', 0, 'out_chans'),
                    upscale=_infer_upscale(s, pa))
    if pa:
        key = 'stage1.pa_deform.conv_offset.6.weight'
        inferred['deformable_groups'] = s.divide(s.dim(key, 0, 'deformable_groups'), 27,
                                                 'deformable_groups', key)
        # conv_first sees RGB + 2 x 4 warped RGB copies (+ a noise-level map when non-blind)
        inferred['nonblind_denoising'] = first_in % 9 == 1
        inferred['in_chans'] = first_in // 9
    else:
        inferred['in_chans'] = first_in
        key = 'linear_fuse.weight'
        frames = s.divide(s.dim(key, 1, 'img_size[0]'), c0, 'img_size[0]', key)
        inferred['img_size'] = [frames] + list(a['img_size'][1:])
    return inferred


def _infer(s, a):
    inferred, mutual_depths, blocks = _infer_layers(s, a)
    inferred.update(_infer_attention(s, a, inferred, mutual_depths, blocks))
    inferred.update(_infer_input_output(s, a, inferred['embed_dims'][0]))
    return inferred


VRT = Arch(
    name='vrt.VRT', defaults=DEFAULTS,
    matches=lambda k: {'stage1', 'stage8'} <= top_modules(k),
    infer=_infer, keys=_keys,
    scale=lambda a: a['upscale'] if a['pa_frames'] else 1,
    path_args=('spynet_path',),
    # img_size matters only as img_size[0] with pa_frames = 0 (frame interpolation).
    not_inferable=('img_size', 'qk_scale', 'drop_path_rate', 'recal_all_flows',
                   'use_checkpoint_attn', 'use_checkpoint_ffn', 'no_checkpoint_attn_blocks',
                   'no_checkpoint_ffn_blocks'),
    constant_keys=spynet.constant_keys('spynet.'),
    check_args=_check_args,
    limits=dict(
        upscale=whole(1, 64), in_chans=whole(1, MAX_WIDTH), out_chans=whole(1, MAX_WIDTH),
        img_size=whole_list(1, MAX_WIDTH, length=3), window_size=whole_list(1, 1024, length=3),
        depths=whole_list(0, MAX_BLOCKS, max_length=MAX_LAYERS),
        indep_reconsts=whole_list(0, MAX_LAYERS, max_length=MAX_LAYERS),
        embed_dims=whole_list(1, MAX_WIDTH, max_length=MAX_LAYERS),
        num_heads=whole_list(1, MAX_WIDTH, max_length=MAX_LAYERS),
        mul_attn_ratio=finite(0, 1, low_open=True), mlp_ratio=finite(0, 1024, low_open=True),
        qk_scale=finite_or_none(0, low_open=True), drop_path_rate=finite(0, 1),
        pa_frames=one_of(0, 2, 4, 6), deformable_groups=whole(1, MAX_WIDTH),
        no_checkpoint_attn_blocks=whole_list(0, MAX_BLOCKS * MAX_LAYERS),
        no_checkpoint_ffn_blocks=whole_list(0, MAX_BLOCKS * MAX_LAYERS)))

ARCHS = [VRT]
