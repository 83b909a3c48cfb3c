"""Building blocks shared by the family modules.

KeyList collects the expected (name, shape, kind) entries of an upstream state dict, in
registration order. Shapes reads a checkpoint's shapes for argument inference and says which key
was missing when inference cannot proceed.
"""
import math
import re
from dataclasses import dataclass, field
from typing import Callable

from .. import ConversionError

# Bounds of constructor arguments. Counts drive loops of the key generator (and of the C++
# loader), so they stay small; widths only size tensors. Both keep every product far below 2**63.
MAX_COUNT = 10_000       # blocks, frames, layers, indices
MAX_WIDTH = 1 << 20      # channels, heads, groups, window and image sizes


class BadArgument(ConversionError):
    """A constructor argument outside what the upstream class (and vrestore) accepts."""

    def __init__(self, name, problem):
        super().__init__(f'argument {name!r} {problem}')
        self.name, self.problem = name, problem


def _is_whole(v):
    return type(v) is int


def whole(low, high):
    """Checker: an integer (not a bool) in [low, high]."""
    def check(v):
        if not _is_whole(v):
            return 'must be an integer'
        if not low <= v <= high:
            return f'is outside [{low}, {high}]'
        return None
    return check


def whole_or_none(low, high):
    inner = whole(low, high)
    return lambda v: None if v is None else inner(v)


def finite(low=None, high=None, low_open=False):
    """Checker: a finite number (int or float, not a bool) within the optional bounds."""
    def check(v):
        if type(v) not in (int, float) or not math.isfinite(v):
            return 'must be a finite number'
        if low is not None and (v <= low if low_open else v < low):
            return f'must be {">" if low_open else ">="} {low}'
        if high is not None and v > high:
            return f'must be <= {high}'
        return None
    return check


def finite_or_none(low=None, high=None, low_open=False):
    inner = finite(low, high, low_open)
    return lambda v: None if v is None else inner(v)


def one_of(*values):
    return lambda v: None if _is_whole(v) and v in values else f'must be one of {list(values)}'


def whole_list(low, high, length=None, max_length=MAX_COUNT):
    """Checker: a list of integers in [low, high], of the given length (else at most max_length)."""
    inner = whole(low, high)

    def check(v):
        if type(v) is not list:
            return 'must be a list of integers'
        if length is not None and len(v) != length:
            return f'must have {length} entries'
        if len(v) > max_length:
            return f'has more than {max_length} entries'
        for i, item in enumerate(v):
            problem = inner(item)
            if problem:
                return f'entry {i} ({item!r}) {problem}'
        return None
    return check


def check_limits(arch, args):
    """Raise BadArgument for the first argument outside arch.limits."""
    for name, check in arch.limits.items():
        if name in args:
            problem = check(args[name])
            if problem:
                raise BadArgument(name, problem)


class KeyList:
    def __init__(self):
        self.entries = []  # (name, shape tuple, kind) with kind 'float' or 'int'

    def add(self, name, *shape, kind='float'):
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise ConversionError(f'invalid arguments: {name} would get shape {list(shape)}')
        self.entries.append((name, tuple(shape), kind))

    def conv(self, name, c_out, c_in, k=3):
        """nn.Conv2d with bias; k may be a tuple (Conv3d kernels)."""
        kernel = tuple(k) if isinstance(k, (tuple, list)) else (k, k)
        self.add(f'{name}.weight', c_out, c_in, *kernel)
        self.add(f'{name}.bias', c_out)

    def linear(self, name, c_out, c_in, bias=True):
        self.add(f'{name}.weight', c_out, c_in)
        if bias:
            self.add(f'{name}.bias', c_out)

    def layer_norm(self, name, c):
        self.add(f'{name}.weight', c)
        self.add(f'{name}.bias', c)

    def residual_blocks(self, prefix, count, c):
        """ResidualBlockNoBN x count: <prefix>.<i>.conv1/conv2, both 3x3 c->c."""
        for i in range(count):
            self.conv(f'{prefix}.{i}.conv1', c, c)
            self.conv(f'{prefix}.{i}.conv2', c, c)

    def conv_residual_blocks(self, prefix, c_in, c, count):
        """BasicSR ConvResidualBlocks / mmedit ResidualBlocksWithInputConv: main.0 conv, main.2.<i>."""
        self.conv(f'{prefix}.main.0', c, c_in)
        self.residual_blocks(f'{prefix}.main.2', count, c)


def top_modules(keys):
    """First path components: recognition looks at which top-level modules exist, so that a
    checkpoint missing one key is still recognised and the key reported as missing."""
    return {k.split('.', 1)[0] for k in keys}


class Shapes:
    """Read-only view of {name: shape} used by the inference functions."""

    def __init__(self, shapes):
        self.shapes = shapes

    def has(self, key):
        return key in self.shapes

    def get(self, key, purpose):
        try:
            return self.shapes[key]
        except KeyError:
            raise ConversionError(f'cannot infer {purpose}: key {key!r} is missing') from None

    def dim(self, key, axis, purpose):
        shape = self.get(key, purpose)
        if len(shape) <= axis:
            raise ConversionError(f'cannot infer {purpose}: key {key!r} has shape {list(shape)}')
        return shape[axis]

    def count(self, pattern):
        """Number of indexed children: max i + 1 over keys matching pattern with '#' = index.

        Using the maximum (not the number found) makes a gap show up later as a missing key."""
        regex = re.compile('^' + re.escape(pattern).replace('\\#', r'(\d+)') + '$')
        found = [m.group(1) for m in map(regex.match, self.shapes) if m]
        if not found:
            return 0
        # Every index below the largest needs keys of its own, so it is below the number of keys
        # (compared as text first: int() refuses very long digit strings).
        top = max(found, key=lambda digits: (len(digits.lstrip('0')), digits.lstrip('0')))
        if len(top.lstrip('0')) > 9 or int(top) >= len(self.shapes):
            raise ConversionError(f'cannot infer the number of {pattern!r} blocks: index {top[:20]} '
                                  f'is not below the {len(self.shapes)} keys of the checkpoint')
        return int(top) + 1

    def divide(self, numerator, denominator, purpose, key):
        if denominator <= 0 or numerator % denominator:
            raise ConversionError(f'cannot infer {purpose}: key {key!r} has {numerator} channels, '
                                  f'not a multiple of {denominator}')
        return numerator // denominator


@dataclass
class Arch:
    """One upstream class: how to recognise it, infer its arguments and list its keys."""
    name: str                       # vrestore.arch, '<source>.<UpstreamClass>'
    defaults: dict                  # full constructor arguments (upstream names and defaults)
    matches: Callable               # (set of keys) -> bool, usually via top_modules
    infer: Callable                 # (Shapes, args with defaults/--config) -> dict of inferred args
    keys: Callable                  # (args) -> KeyList
    scale: Callable                 # (args) -> int, output size / input size
    path_args: tuple = ()           # path-like constructor arguments: accepted in --config, dropped
    not_inferable: tuple = ()       # arguments the shapes cannot determine (default or --config)
    float_args: tuple = ()          # int-defaulted arguments that may also be floats
    constant_keys: tuple = ()       # buffers dropped from the output (SpyNet mean/std)
    check_args: Callable = field(default=lambda args: None)  # cross-argument checks (BadArgument)
    limits: dict = field(default_factory=dict)  # argument name -> checker(value) -> problem or None
