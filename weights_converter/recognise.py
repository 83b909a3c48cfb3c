"""Identify the upstream class of a state dict, infer its constructor arguments and verify it.

Verification is exact and fails closed: the per-family key generator lists every key the class
registers for the final arguments; an unexpected key, a missing key, a shape or an int/float
mismatch is an error naming the key. --config arguments override inference; if they change the
expected shapes, the resulting mismatch is reported together with the disagreeing arguments.
Every final argument is range-checked (families' `limits` and `check_args`), so that no file is
written that the upstream class or vrestore would refuse; a bad value names the argument and where
it came from (--config, or inferred from the shapes).
"""
import json

from . import ConversionError
from .families import ARCHS
from .families.keys import BadArgument, Shapes, check_limits

CONSTANT_SHAPE = (1, 3, 1, 1)  # SpyNet mean/std
MAX_LISTED_PROBLEMS = 4


class Recognition:
    def __init__(self, arch, args, inferred, kept, dropped, notes):
        self.arch = arch            # families.keys.Arch
        self.args = args            # full constructor arguments (upstream names), path args removed
        self.inferred = inferred    # the subset determined by the shapes
        self.kept = kept            # state-dict names written to the output, in source order
        self.dropped = dropped      # constant buffers left out
        self.notes = notes          # informational lines for the log

    @property
    def scale(self):
        return self.arch.scale(self.args)


def detect(names):
    found = [arch for arch in ARCHS if arch.matches(names)]
    if len(found) == 1:
        return found[0]
    if found:
        raise ConversionError('ambiguous layout: keys fit ' + ', '.join(a.name for a in found))
    sample = ', '.join(list(names)[:4])
    raise ConversionError('unknown layout: the keys match no supported network (EDVR, BasicVSR, '
                          f'IconVSR, RealBasicVSR, BasicVSR++, SpyNet, VRT); first keys: {sample}')


def recognise(state, config_args=None, config_class=None):
    """state: OrderedDict name -> StoredTensor (wrapper already removed)."""
    names = set(state)
    arch = detect(names)
    if config_class and config_class.rsplit('.', 1)[-1] != arch.name.rsplit('.', 1)[-1]:
        raise ConversionError(f'--config is for {config_class} but the checkpoint is {arch.name}')
    config_args = _check_config_args(arch, config_args or {})
    hints = {**arch.defaults, **config_args}  # inference breaks ties towards these values
    shapes = {name: t.shape for name, t in state.items()}
    inferred = {}
    try:
        inferred = arch.infer(Shapes(shapes), hints)
        args = {**arch.defaults, **inferred, **config_args}
        check_limits(arch, args)
        arch.check_args(args)
        expected = arch.keys(args).entries
    except BadArgument as e:
        raise ConversionError(_bad_argument(arch, e, config_args, inferred)) from None
    except ConversionError as e:
        raise ConversionError(f'{arch.name}: {e}') from None
    disagreeing = {k: (v, inferred[k]) for k, v in config_args.items()
                   if k in inferred and inferred[k] != v}
    problems = _compare(state, expected, arch.constant_keys)
    if problems:
        raise ConversionError(_describe(arch, problems, disagreeing, inferred))
    notes = [f'kept --config value {k}={json.dumps(v)} (inferred {json.dumps(i)}; the shapes fit both)'
             for k, (v, i) in disagreeing.items()]
    kept = [n for n in state if n not in arch.constant_keys]
    dropped = [n for n in state if n in arch.constant_keys]
    return Recognition(arch, args, inferred, kept, dropped, notes)


def _check_config_args(arch, config_args):
    if not isinstance(config_args, dict):
        raise ConversionError('--config: "args" must be a JSON object')
    checked = {}
    for name, value in config_args.items():
        if name in arch.path_args:
            continue  # paths to pretrained sub-networks are irrelevant once weights are loaded
        if name not in arch.defaults:
            known = ', '.join(list(arch.defaults) + list(arch.path_args)) or 'none'
            raise ConversionError(f'--config: {arch.name} has no argument {name!r} (known: {known})')
        if not _type_fits(value, arch.defaults[name], name in arch.float_args):
            raise ConversionError(f'--config: argument {name!r} = {json.dumps(value)} has the wrong type '
                                  f'(default is {json.dumps(arch.defaults[name])})')
        checked[name] = value
    try:
        check_limits(arch, checked)
    except BadArgument as e:
        raise ConversionError(_bad_argument(arch, e, checked, {})) from None
    return checked


def _bad_argument(arch, error, config_args, inferred):
    name = error.name
    if name in config_args:
        return f'--config: argument {name!r} = {json.dumps(config_args[name])} {error.problem}'
    origin = 'inferred from the shapes' if name in inferred else 'default'
    value = inferred.get(name, arch.defaults.get(name))
    return f'{arch.name}: argument {name!r} = {json.dumps(value)} ({origin}) {error.problem}'


def _type_fits(value, default, float_allowed):
    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if default is None:
        return value is None or number(value)
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int) and not float_allowed:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, (int, float)):
        return number(value)
    if isinstance(default, list):
        return isinstance(value, list)
    return True


def _compare(state, entries, constant_keys):
    expected = {name: (shape, kind) for name, shape, kind in entries}
    expected.update({name: (CONSTANT_SHAPE, 'float') for name in constant_keys})
    problems = []
    for name, tensor in state.items():
        if name not in expected:
            problems.append(f'unexpected key {name!r} {list(tensor.shape)}')
            continue
        shape, kind = expected[name]
        if tensor.shape != shape:
            problems.append(f'key {name!r} has shape {list(tensor.shape)}, expected {list(shape)}')
        elif tensor.is_float != (kind == 'float'):
            problems.append(f'key {name!r} holds {tensor.dtype_name} data, expected '
                            f'{"floating-point" if kind == "float" else "integer"} data')
    problems += [f'missing key {name!r} {list(shape)}' for name, (shape, _) in expected.items()
                 if name not in state and name not in constant_keys]
    return problems


def _describe(arch, problems, disagreeing, inferred):
    listed = '; '.join(problems[:MAX_LISTED_PROBLEMS])
    if len(problems) > MAX_LISTED_PROBLEMS:
        listed += f'; and {len(problems) - MAX_LISTED_PROBLEMS} more'
    if disagreeing:
        config = ', '.join(f'{k}: config {json.dumps(v)}, checkpoint {json.dumps(i)}'
                           for k, (v, i) in disagreeing.items())
        return f'--config disagrees with the checkpoint shapes ({config}): {listed}'
    return (f'checkpoint does not match {arch.name} with the inferred arguments '
            f'{json.dumps(inferred, separators=(",", ":"))}: {listed}')
