#!/usr/bin/env bash
# Guards the portable build (src/cpu/isa.h): in the library, only functions of the AVX2 and
# AVX-512 kernel namespaces (vrestore::cpu::isa_avx2 / isa_avx512) and of the AMX products
# (vrestore::cpu::amx, src/cpu/amx_bf16.cpp, called only after amx::available()) may use
# instructions beyond baseline x86-64. Any other function there (an inline function or template of the standard library or of
# core/, emitted as a weak symbol) could be the copy the linker keeps for the whole program, and
# would then crash a CPU without that level. This happens when such a header is first included
# after cpu/isa.h.
#
# Everything else must run on any x86-64 CPU, so a -march flag that leaks into the build fails too.
#
#   scripts/check_isa_objects.sh <libvrestore.a | libvrestore.so | object files>
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 <object files>" >&2; exit 2; }
failed=0
for object in "$@"; do
  # Function names (demangled) that contain a VEX/EVEX instruction (any mnemonic starting with v),
  # a ymm/zmm/mask register, or a BMI/LZCNT/POPCNT/MOVBE or SSE3+ instruction.
  offenders=$(objdump -d -C --no-show-raw-insn "$object" | awk '
    /^[0-9a-f]+ <.*>:$/ { name = substr($0, index($0, "<") + 1); sub(/>:$/, "", name); next }
    /^ *[0-9a-f]+:\t/ {
      split($0, parts, "\t"); insn = parts[2]; split(insn, words, " "); op = words[1]
      if (op ~ /^v/ || insn ~ /%[yz]mm|%k[0-7]/ ||
          op ~ /^(andn|bextr|blsi|blsmsk|blsr|bzhi|mulx|pdep|pext|rorx|sarx|shlx|shrx|lzcnt|tzcnt|popcnt|movbe)$/ ||
          op ~ /^(round[sp][sd]|pshufb|ptest|pblendw|pblendvb|blendv?p[sd]|insertps|extractps|pmulld|dpp[sd])$/ ||
          op ~ /^(p(min|max)(sb|sd|uw|ud)|pextr[bdq]|pinsr[bdq]|h(add|sub)p[sd]|movs[hl]dup|movddup|lddqu|palignr)$/ ||
          op ~ /^(pabs[bdw]|pcmpeqq|pcmpgtq|packusdw|pmov[sz]x[bwd][wdq]|crc32[bwlq]?)$/)
        print name
    }' | sort -u | grep -v -E 'vrestore::cpu::(isa_(avx2|avx512)|amx)::' || true)
  if [ -n "$offenders" ]; then
    echo "FAIL $object: functions outside its ISA namespace use instructions beyond baseline x86-64:"
    echo "$offenders" | sed 's/^/  /'
    failed=1
  fi
done
[ $failed -eq 0 ] && echo "isa objects: $# checked, every wide instruction is inside its level's namespace"
exit $failed
