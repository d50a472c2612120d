"""Test guests in machine code, assembled here from their source (docs/vm.md, "Guest
machine code"): `build(arch, name)` runs LLVM's assembler (`llvm-mc`, Debian package
`llvm`) on `images/<arch>/<name>.S` and returns the position-independent `.text` as a raw
image; `elf_exec(code, base, arch)` wraps such code into a minimal ELF executable (one
PT_LOAD at `base`, entry at its start). No binaries are kept in the repository.
"""
import os
import shutil
import struct
import subprocess
import tempfile

TRIPLES = {"arm64": "aarch64-none-elf", "x86_64": "x86_64-none-elf"}
ELF_MACHINE = {"arm64": 183, "x86_64": 62}          # EM_AARCH64, EM_X86_64
HERE = os.path.dirname(os.path.abspath(__file__))


class AssemblerMissing(RuntimeError):
    pass


def assembler():
    """The path of llvm-mc (RuntimeError saying how to install it if it is missing)."""
    for name in ("llvm-mc", *(f"llvm-mc-{v}" for v in range(20, 10, -1))):
        path = shutil.which(name)
        if path:
            return path
    raise AssemblerMissing("llvm-mc (LLVM's assembler) is not installed: apt install llvm")


def source(arch, name):
    if arch not in TRIPLES:
        raise ValueError(f"arch: no test guests for {arch!r}")
    path = os.path.join(HERE, arch, f"{name}.S")
    if not os.path.isfile(path):
        raise ValueError(f"name: no test guest {name!r} for {arch} ({path})")
    return path


def build(arch, name):
    """The raw image of test guest `name` for `arch` (its .text, no relocations)."""
    from elftools.elf.elffile import ELFFile
    src = source(arch, name)
    with tempfile.TemporaryDirectory() as tmp:
        obj = os.path.join(tmp, "guest.o")
        run = subprocess.run([assembler(), f"-triple={TRIPLES[arch]}", "-filetype=obj",
                              src, "-o", obj], capture_output=True, text=True)
        if run.returncode:
            raise RuntimeError(f"llvm-mc failed on {src}:\n{run.stderr}")
        with open(obj, "rb") as f:
            elf = ELFFile(f)
            if any(s.name.startswith((".rela", ".rel")) for s in elf.iter_sections()):
                raise RuntimeError(f"{src}: the guest must be position independent "
                                   "(no relocations)")
            return elf.get_section_by_name(".text").data()


def elf_exec(code, base, arch, entry=None):
    """A minimal ELF64 executable: `code` in one RWX PT_LOAD at `base`, the entry point
    `entry` (default: base)."""
    ehsize, phsize = 64, 56
    off = ehsize + phsize
    header = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)   # ELFCLASS64, LSB, version 1
    header += struct.pack("<HHIQQQIHHHHHH", 2, ELF_MACHINE[arch], 1,
                          base if entry is None else entry, ehsize, 0, 0,
                          ehsize, phsize, 1, 64, 0, 0)
    phdr = struct.pack("<IIQQQQQQ", 1, 7, off, base, base, len(code), len(code), 0x1000)
    return header + phdr + bytes(code)
