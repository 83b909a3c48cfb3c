"""Remove the training-framework wrapper around a state dict.

Layouts handled (first match wins):
  {'params': sd}, {'params_ema': sd}   BasicSR and VRT releases. When both exist, 'params' is used:
                                       BasicSR's test configs load param_key 'params' by default.
  {'meta': ..., 'state_dict': sd}      mmcv/mmedit runner checkpoints. Inside sd, 'generator_ema.*'
                                       is used when present (mmedit's test path runs the EMA copy,
                                       e.g. RealBasicVSR), else 'generator.*', else sd as it is.
                                       Next to the generator only known training extras may appear:
                                       the other generator copy, step_counter, discriminator.*,
                                       perceptual_loss.*, data_preprocessor.*; they are ignored.
  sd                                   a bare state dict (every value a tensor).
A leading 'module.' (DataParallel) is stripped in every case.

Only the selected weights must be tensors. Everything else (meta, message_hub, optimizer state,
training extras) is discarded unread, so objects of classes outside the allow-list there are fine
(the unpickler turned them into inert placeholders); one among the weights is an error naming it.
"""
import collections

from . import ConversionError
from .restricted_pickle import describe, short_repr
from .stored_tensors import StoredTensor

# Entries of an mmedit model state dict that are not generator weights: the GAN discriminator, the
# VGG of the perceptual loss, the EMA step counter, and mmagic 1.x input-normalisation buffers.
TRAINING_EXTRA_PREFIXES = ('step_counter', 'discriminator.', 'perceptual_loss.', 'data_preprocessor.')


class Unwrapped:
    def __init__(self, state, wrapper, ignored):
        self.state = state      # OrderedDict name -> StoredTensor, wrapper removed
        self.wrapper = wrapper  # e.g. 'basicsr-params', 'mmedit-state_dict, generator_ema'
        self.ignored = ignored  # names of entries left out (other top-level keys, training extras)


def unwrap(obj):
    if not isinstance(obj, dict):
        raise ConversionError(f'unknown checkpoint layout: top-level object is {describe(obj)}, '
                              'not a dict')
    if obj and all(isinstance(v, StoredTensor) for v in obj.values()):
        return Unwrapped(_strip_module(_tensors_only(obj, 'state dict')), 'bare state_dict', [])
    for key in ('params', 'params_ema'):
        if isinstance(obj.get(key), dict):
            others = [k for k in obj if k != key]
            return Unwrapped(_strip_module(_tensors_only(obj[key], key)), f'basicsr-{key}', others)
    if isinstance(obj.get('state_dict'), dict):
        others = [k for k in obj if k not in ('state_dict', 'meta')]
        state = _strip_module(_string_keys(obj['state_dict'], 'state_dict'))
        state, prefix, extras = _take_generator(state)
        _tensors_only(state, 'state_dict' + (f' ({prefix}*)' if prefix else ''))
        wrapper = 'mmedit-state_dict' + (f', {prefix[:-1]}' if prefix else '')
        return Unwrapped(_strip_module(state), wrapper, others + extras)
    if any(isinstance(v, StoredTensor) for v in obj.values()):  # a state dict with a stray value
        _tensors_only(obj, 'state dict')
    raise ConversionError('unknown checkpoint layout: top-level keys are '
                          f'{sorted(map(short_repr, obj))[:8]}; expected a state dict, '
                          "{'params': ...}, {'params_ema': ...} or {'state_dict': ...}")


def _take_generator(state):
    """Pick generator_ema.* or generator.* out of an mmedit model state dict."""
    for prefix in ('generator_ema.', 'generator.'):
        if any(k.startswith(prefix) for k in state):
            break
    else:
        return state, '', []
    taken = collections.OrderedDict()
    extras = []
    for key, value in state.items():
        if key.startswith(prefix):
            taken[key[len(prefix):]] = value
        elif key.startswith(('generator.', 'generator_ema.')) or key.startswith(TRAINING_EXTRA_PREFIXES):
            extras.append(key)
        else:
            raise ConversionError(f'unexpected key {key!r} next to the {prefix}* weights (only the '
                                  'training extras step_counter, discriminator.*, perceptual_loss.*, '
                                  'data_preprocessor.* are ignored)')
    return taken, prefix, extras


def _string_keys(state, where):
    for key in state:
        if type(key) is not str:
            raise ConversionError(f'{where} has a non-string key {short_repr(key)}')
    return state


def _tensors_only(state, where):
    """The weights the converter writes: every value must be a tensor."""
    _string_keys(state, where)
    for key, value in state.items():
        if not isinstance(value, StoredTensor):
            raise ConversionError(f'{where}[{key!r}] is {describe(value)}, not a tensor')
    return state


def _strip_module(state):
    if state and all(k.startswith('module.') for k in state):
        return collections.OrderedDict((k[len('module.'):], v) for k, v in state.items())
    return collections.OrderedDict(state)


def summarize(names, limit=6):
    """'generator.* (104), step_counter' — group ignored names by their first component."""
    names = [n if type(n) is str else short_repr(n) for n in names]
    groups = collections.Counter(n.split('.')[0] + ('.*' if '.' in n else '') for n in names)
    parts = [f'{g} ({n})' if n > 1 else g for g, n in groups.items()]
    more = f', ... ({len(parts) - limit} more groups)' if len(parts) > limit else ''
    return ', '.join(parts[:limit]) + more
