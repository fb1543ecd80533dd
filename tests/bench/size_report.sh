#!/usr/bin/env bash
# The size report. Not a pass/fail test: it prints where the bytes of the
# stripped openshell-supervisor come from, per dependency, beside the goal
# of 8 MiB stripped (with c-ares and Beast in).
#
# The build's own link command (from ninja) is run again into a scratch
# directory with -Wl,-Map added; the build's binary is not touched. Every
# input section the linker kept in an allocated output section is charged
# to the archive it came from (libcrypto.a, libprotobuf.a, libc.a, ...) or,
# for the project's own archives and objects, to "own code". Sections the
# linker discarded (--gc-sections) count for nothing. NOBITS sections
# (.bss, .tbss) take no room in the file and are shown apart. What the file
# holds beyond the input sections (ELF and program headers, alignment
# padding, linker-made sections such as .rela.* or .got) is one line,
# "headers, padding, linker-made", so that the rows add up to the file size.
#
# With LTO (the default static build, meson.build), the project's code
# reaches the linker as ltrans objects in a temporary directory; those rows
# are charged to own code too (Debian's archives carry no LTO bytecode, so
# nothing else is), and the per-object table gives way to the namespaces.
#
# Own code is split further by namespace: the project compiles with
# -ffunction-sections -fdata-sections, so each kept input section is named
# after its one symbol (.text._ZN6google8protobuf...); demangled, that says
# whether the bytes are google::protobuf code inlined into the generated
# .pb.cc files, openshell::..., boost, std. Sections that name no symbol
# (.eh_frame, merged strings) are one row.
#
# Usage: tests/bench/size_report.sh [BUILD_DIR]   (default: build)
# Needs: ninja, python3, c++filt, a configured and built
# BUILD_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$(realpath "${1:-build}")
target=supervisor/openshell-supervisor
goal=$((8 * 1024 * 1024))

[ -f "$build/build.ninja" ] || { echo "size_report: $build is not a configured build" >&2; exit 1; }
ninja -C "$build" "$target" >/dev/null

work=$(mktemp -d /tmp/openshell-size-XXXXXX)
trap 'rm -rf "$work"' EXIT

# The last command ninja runs for the target is its link.
link=$(ninja -C "$build" -t commands "$target" | tail -n 1)
case "$link" in
  *" -o $target "*) ;;
  *) echo "size_report: cannot find the link command of $target" >&2; exit 1 ;;
esac
# The same command with the map added, into the scratch directory: the
# build links with -s, so the output is the stripped file itself.
stripped="$work/openshell-supervisor"
# The linker's warnings (glibc's NSS functions in a static link) are the
# build's, already seen there; shown only when the link fails.
(cd "$build" && eval "${link/ -o $target / -o $stripped } -Wl,-Map=$work/map") 2>"$work/link.log" \
  || { cat "$work/link.log" >&2; exit 1; }

echo "== machine"
echo "$(uname -srm), $(nproc) cpus; $(c++ --version | head -n 1); $(ld --version | head -n 1)"
echo
echo "== link"
echo "relinked from $build/build.ninja with -Wl,-Map (build binary untouched):"
echo "  $(cmp -s "$stripped" "$build/$target" && echo same bytes as || echo "differs from (check the build is current)") $build/$target"
echo

python3 - "$work/map" "$stripped" "$goal" "$build" <<'EOF'
import os, re, subprocess, sys
from collections import defaultdict

map_path, binary, goal, build = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
file_size = os.path.getsize(binary)

NOBITS = re.compile(r"^\.(t?bss)(\.|$)")

def owner(path):
    """The row an input file is charged to."""
    m = re.match(r"^(.*?)\((.*)\)$", path)
    archive = m.group(1) if m else path
    # A system archive the build rewrites (meson.build: libcrypto without
    # its unwind tables) is still that dependency.
    rewritten = re.match(r"^lib(.*)-no-unwind\.a$", os.path.basename(archive))
    if rewritten:
        return "lib%s.a (no .eh_frame)" % rewritten.group(1), False
    if ".ltrans" in archive or archive.startswith(build) or not archive.startswith("/"):
        return "own code", True
    name = os.path.basename(archive)
    if name in ("crt1.o", "crti.o", "crtn.o", "crtbeginT.o", "crtend.o", "crtbegin.o", "Scrt1.o"):
        return "C runtime start files (crt*.o)", False
    return name, False

def row_name(name):
    return {"libc.a": "glibc (libc.a)", "libstdc++.a": "libstdc++", "libgcc.a": "libgcc",
            "libgcc_eh.a": "libgcc_eh (unwinder)"}.get(name, name)

sizes = defaultdict(int)    # allocated, in the file
nobits = defaultdict(int)   # .bss/.tbss, not in the file
own_objects = defaultdict(int)
own_sections = defaultdict(int)  # symbol (mangled) or "" -> bytes
in_map = False
out_section = None
pending = None              # an input section name wrapped onto its own line
with open(map_path, errors="replace") as f:
    for line in f:
        if line.startswith("Linker script and memory map"):
            in_map = True
            continue
        if not in_map:
            continue
        if line.startswith("/DISCARD/"):
            out_section = None
            continue
        m = re.match(r"^(\.\S+|\S+)\s+0x[0-9a-f]+\s+0x[0-9a-f]+", line)
        if m and not line.startswith(" "):
            out_section = m.group(1)
            continue
        m = re.match(r"^(\.\S+|\S+)\s*$", line)
        if m and not line.startswith(" "):
            out_section = m.group(1)  # long output section name, sizes on the next line
            continue
        if out_section is None or out_section.startswith(".debug") or out_section in (
                ".comment", ".note.GNU-stack", ".symtab", ".strtab", ".shstrtab"):
            continue
        m = re.match(r"^ (\S+)\s*$", line)
        if m:
            pending = m.group(1)
            continue
        m = re.match(r"^ (\S+)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$", line)
        if not m:
            pending = None
            continue
        section = m.group(1) or pending
        pending = None
        if section is None or section.startswith("*"):
            continue
        size = int(m.group(3), 16)
        if size == 0:
            continue
        name, own = owner(m.group(4).strip())
        if NOBITS.match(out_section):
            nobits[name] += size
            continue
        sizes[name] += size
        if own:
            own_objects[os.path.basename(m.group(4).strip())] += size
            parts = section.split(".", 2)  # .text._ZN..., .rodata._ZTV..., .data.rel.ro._ZTI...
            symbol = next((p for p in section.split(".") if p.startswith("_Z")), "")
            own_sections[symbol] += size

total_inputs = sum(sizes.values())
other = file_size - total_inputs

def kb(n):
    return "%10s" % format(n, ",")

print("== stripped size per dependency (input sections kept by the linker, bytes)")
print("%-34s %10s %7s   %s" % ("from", "bytes", "share", "(.bss, not in the file)"))
rows = sorted(sizes.items(), key=lambda kv: -kv[1])
for name, size in rows:
    print("%-34s %s %6.1f%%   %s" % (row_name(name), kb(size), 100.0 * size / file_size,
                                   format(nobits.get(name, 0), ",") if nobits.get(name) else ""))
print("%-34s %s %6.1f%%" % ("headers, padding, linker-made", kb(other), 100.0 * other / file_size))
print("%-34s %s" % ("stripped file", kb(file_size)))
print()

own_total = sizes.get("own code", 0)
if own_total:
    groups = [("google::protobuf (inlined into our objects)", r"google::protobuf|descriptor_table_"),
              ("openshell::policy", r"openshell::policy::"),
              ("openshell::egress", r"openshell::egress::"),
              ("openshell::ssh", r"openshell::ssh"),
              ("openshell (other)", r"openshell::"),
              ("boost (asio, beast)", r"boost::"),
              ("spdlog, fmt", r"spdlog::|fmt::"),
              ("std:: (instantiations)", r"std::|__gnu_cxx::")]
    mangled = sorted(k for k in own_sections if k)
    demangled = subprocess.run(["c++filt"], input="\n".join(mangled), capture_output=True,
                               text=True).stdout.split("\n")
    by_group = defaultdict(int)
    for symbol, name in zip(mangled, demangled):
        # The namespace of a function's own name, not of its arguments:
        # cut at the first "(" and drop a template's argument list.
        head = name.split("(", 1)[0]
        for label, pattern in groups:
            if re.search(pattern, head):
                by_group[label] += own_sections[symbol]
                break
        else:
            by_group["other named symbols"] += own_sections[symbol]
    by_group["unnamed sections (.eh_frame, strings, .text of C files)"] = own_sections.get("", 0)
    print("== own code by namespace (from the kept sections' names, bytes)")
    for label in [g[0] for g in groups] + ["other named symbols",
                                           "unnamed sections (.eh_frame, strings, .text of C files)"]:
        if by_group.get(label):
            print("%-56s %s" % (label, kb(by_group[label])))
    print("%-56s %s" % ("own code", kb(own_total)))
    print()
    if any(".ltrans" in name for name in own_objects):
        # LTO's partitions (ccXXXXXX.ltransN.ltrans.o) mix every source
        # file; the namespace table is the split that means something.
        print("== own code per object: none with LTO (the linker sees %d ltrans partitions)"
              % len(own_objects))
    else:
        print("== own code per object (top 12)")
        for name, size in sorted(own_objects.items(), key=lambda kv: -kv[1])[:12]:
            print("%-56s %s" % (name, kb(size)))
    print()

print("stripped size: %s B = %.2f MiB; goal <= 8 MiB (%s B): %s"
      % (format(file_size, ","), file_size / 2**20, format(goal, ","),
         "met, %s B under" % format(goal - file_size, ",") if file_size <= goal
         else "%s B (%.1f %%) over" % (format(file_size - goal, ","), 100.0 * (file_size - goal) / goal)))
EOF
