"""All recognised upstream classes, one module per family."""
from . import basicvsr, basicvsr_pp, edvr, spynet, vrt

ARCHS = edvr.ARCHS + spynet.ARCHS + basicvsr.ARCHS + basicvsr_pp.ARCHS + vrt.ARCHS
ARCHS_BY_NAME = {arch.name: arch for arch in ARCHS}
