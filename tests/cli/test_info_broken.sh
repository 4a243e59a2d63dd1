#!/usr/bin/env bash
# requires: nifti_io
# `neurospectra info` on a corpus of broken files made here: each must give
# exit status 1 (never a crash: status > 128 is a signal), exactly one line
# on stderr "neurospectra: error: ..." naming the file and the problem, and
# nothing on stdout. Plain and gzip variants of every case.
set -euo pipefail
: "${NS_BIN:?}" "${NS_TMP:?}"
PY=${NS_PYTHON:-/usr/bin/python3}
D=$NS_TMP/broken
rm -rf "$D"
mkdir -p "$D"

# The corpus: a list "file<TAB>expected words" written by the generator.
"$PY" - "$D" > "$D/cases.tsv" <<'EOF'
import gzip, os, struct, sys
d = sys.argv[1]

def hdr1(dims=(8, 8, 4), datatype=4, bitpix=16, vox=352.0, magic=b"n+1\0",
         sizeof=348, endian="<", dim0=None, slope=0.0):
    h = bytearray(348)
    struct.pack_into(endian + "i", h, 0, sizeof)
    full = list(dims) + [1] * (8 - len(dims))
    full.insert(0, len(dims) if dim0 is None else dim0)
    struct.pack_into(endian + "8h", h, 40, *full[:8])
    struct.pack_into(endian + "hh", h, 70, datatype, bitpix)
    struct.pack_into(endian + "8f", h, 76, 1, 2, 2, 2, 1, 1, 1, 1)
    struct.pack_into(endian + "fff", h, 108, vox, slope, 0)
    h[123] = 2 | 8
    h[344:348] = magic
    return bytes(h)

def hdr2(dims=(8, 8, 4), datatype=4, vox=544, dim0=None):
    h = bytearray(540)
    struct.pack_into("<i", h, 0, 540)
    h[4:12] = b"n+2\0\r\n\x1a\n"
    full = list(dims) + [1] * (8 - len(dims))
    full.insert(0, len(dims) if dim0 is None else dim0)
    struct.pack_into("<hh", h, 12, datatype, 16)
    struct.pack_into("<8q", h, 16, *full[:8])
    struct.pack_into("<8d", h, 104, 1, 2, 2, 2, 1, 1, 1, 1)
    struct.pack_into("<q", h, 168, vox)
    return bytes(h)

def write(name, data, words, gz=True):
    with open(os.path.join(d, name + ".nii"), "wb") as f:
        f.write(data)
    print(f"{d}/{name}.nii\t{words}")
    if gz:
        with open(os.path.join(d, name + ".nii.gz"), "wb") as f:
            f.write(gzip.compress(data))
        print(f"{d}/{name}.nii.gz\t{words}")

ext = b"\0" * 4
good = hdr1() + ext + bytes(8 * 8 * 4 * 2)
write("empty", b"", "empty")
write("text", b"this is not a NIfTI file\n" * 20, "not a NIfTI")
write("tiny", b"ab", "not a NIfTI")
write("bad_sizeof", struct.pack("<i", 1234) + good[4:], "header size")
write("bad_magic", hdr1(magic=b"xx1\0") + ext + bytes(512), "magic")
write("bad_magic2", hdr2()[:4] + b"zz2\0\r\n\x1a\n" + hdr2()[12:] + ext + bytes(512), "magic")
write("trunc_header", good[:200], "truncated header")
write("trunc_header2", hdr2()[:300], "truncated header")
write("trunc_data", hdr1() + ext + bytes(400), "truncated file: expected 512 data bytes, found 400")
write("trunc_data_be", hdr1(endian=">", vox=352.0) + ext + bytes(100), "truncated file")
write("trunc_data2", hdr2() + ext + bytes(10), "truncated file")
write("dim0_zero", hdr1(dim0=0) + ext + bytes(512), "dim[0]")
write("dim0_eight", hdr1(dim0=8) + ext + bytes(512), "dim[0]")
write("dim0_neg", hdr1(dim0=-3) + ext + bytes(512), "dim[0]")
write("dim0_nifti2", hdr2(dim0=9) + ext + bytes(512), "dim[0]")
write("dim_zero", hdr1(dims=(8, 0, 4)) + ext, "dim[2] is 0")
write("dim_negative", hdr1(dims=(8, 8, -5)) + ext, "dim[3] is -5")
write("dim_negative2", hdr2(dims=(8, 8, 4, -1)) + ext, "dim[4] is -1")
write("overflow", hdr1(dims=(32767,) * 7) + ext + bytes(64), "overflow")
write("overflow2", hdr2(dims=(1 << 40, 1 << 40, 1 << 40)) + ext + bytes(64), "overflow")
# a short file claiming 14 PB is truncated, whatever the memory; a sparse file
# as long as its 4.3 TB claim (no disk used) meets the memory check
write("huge", hdr1(dims=(32767, 32767, 32767, 100), datatype=16, bitpix=32) + ext + bytes(64),
      "truncated file")
with open(os.path.join(d, "huge_sparse.nii"), "wb") as f:
    f.write(hdr1(dims=(32767, 32767, 1000), datatype=16, bitpix=32) + ext)
    f.truncate(352 + 32767 * 32767 * 1000 * 4)
print(f"{d}/huge_sparse.nii\tnot enough memory")
write("complex", hdr1(datatype=32, bitpix=64) + ext + bytes(4096), "unsupported datatype complex64")
write("complex128", hdr1(datatype=1792, bitpix=128) + ext + bytes(8192), "unsupported datatype complex128")
write("rgb", hdr1(datatype=128, bitpix=24) + ext + bytes(2048), "unsupported datatype rgb24")
write("rgba", hdr1(datatype=2304, bitpix=32) + ext + bytes(2048), "unsupported datatype rgba32")
write("float128", hdr1(datatype=1536, bitpix=128) + ext + bytes(8192), "unsupported datatype float128")
write("binary", hdr1(datatype=1, bitpix=1) + ext + bytes(64), "unsupported datatype binary")
write("dtype_unknown", hdr1(datatype=9999) + ext + bytes(2048), "unknown datatype code 9999")
write("dtype_zero", hdr1(datatype=0) + ext + bytes(2048), "unsupported datatype unknown")
write("vox_beyond", hdr1(vox=1e6) + ext + bytes(512), "beyond the end")
write("vox_beyond2", hdr2(vox=1 << 40) + ext + bytes(512), "beyond the end")
write("vox_negative", hdr1(vox=-352.0) + ext + bytes(512), "vox_offset")
write("vox_nan", hdr1(vox=float("nan")) + ext + bytes(512), "vox_offset")

# gzip-specific: cut streams, corrupt deflate data, garbage after the magic
raw = hdr1(dims=(32, 32, 16, 4)) + ext + os.urandom(32 * 32 * 16 * 4 * 2)
z = gzip.compress(raw)
for name, data, words in (
        ("gz_cut_half", z[: len(z) // 2], "truncated file"),
        ("gz_cut_trailer", z[:-6], "truncated file: the gzip stream ends before its trailer"),
        ("gz_cut_in_header", z[:40], "truncated header"),
        ("gz_magic_only", z[:10], "truncated header"),
        ("gz_corrupt", z[:5000] + bytes(b ^ 0x5A for b in z[5000:9000]) + z[9000:], "corrupt gzip data"),
        ("gz_garbage", b"\x1f\x8b" + os.urandom(3000), "gzip")):
    with open(os.path.join(d, name + ".nii.gz"), "wb") as f:
        f.write(data)
    print(f"{d}/{name}.nii.gz\t{words}")

# pairs: a header without its image, an image without its header, a too-short image
with open(os.path.join(d, "pair_noimg.hdr"), "wb") as f:
    f.write(hdr1(magic=b"ni1\0", vox=0.0))
print(f"{d}/pair_noimg.hdr\tcannot open image file")
with open(os.path.join(d, "pair_nohdr.img"), "wb") as f:
    f.write(bytes(512))
print(f"{d}/pair_nohdr.img\tcannot open header file")
with open(os.path.join(d, "pair_short.hdr"), "wb") as f:
    f.write(hdr1(magic=b"ni1\0", vox=0.0))
with open(os.path.join(d, "pair_short.img"), "wb") as f:
    f.write(bytes(100))
print(f"{d}/pair_short.hdr\ttruncated file: expected 512 data bytes, found 100")
with open(os.path.join(d, "pair_short_gz.hdr.gz"), "wb") as f:
    f.write(gzip.compress(hdr1(magic=b"ni1\0", vox=0.0)))
with open(os.path.join(d, "pair_short_gz.img.gz"), "wb") as f:
    f.write(gzip.compress(bytes(100)))
print(f"{d}/pair_short_gz.hdr.gz\ttruncated file: expected 512 data bytes, found 100")
print(f"{d}/missing.nii.gz\tNo such file")
print(f"{d}/missing.nii\tNo such file")
os.mkdir(os.path.join(d, "a_directory.nii"))
print(f"{d}/a_directory.nii\tnot a regular file")
with open(os.path.join(d, "good.nii"), "wb") as f:
    f.write(good)
EOF

if [ "$(id -u)" != 0 ]; then # root reads anything
    cp "$D/good.nii" "$D/unreadable.nii"
    chmod 000 "$D/unreadable.nii"
    printf '%s\t%s\n' "$D/unreadable.nii" "Permission denied" >> "$D/cases.tsv"
fi

fails=0
n=0
while IFS=$'\t' read -r file words; do
    n=$((n + 1))
    set +e
    "$NS_BIN" info "$file" > "$D/out" 2> "$D/err"
    rc=$?
    set -e
    lines=$(wc -l < "$D/err")
    msg=$(head -n 1 "$D/err")
    problem=""
    [ "$rc" -gt 128 ] && problem="crashed (signal $((rc - 128)))"
    [ -z "$problem" ] && [ "$rc" -ne 1 ] && problem="exit status $rc, expected 1"
    [ -z "$problem" ] && [ "$lines" -ne 1 ] && problem="$lines stderr lines, expected 1"
    [ -z "$problem" ] && [[ "$msg" != "neurospectra: error: "* ]] && problem="bad prefix"
    [ -z "$problem" ] && [[ "$msg" != *"($file)" ]] && problem="message does not name the file"
    [ -z "$problem" ] && [[ "$msg" != *"$words"* ]] && problem="message lacks '$words'"
    [ -z "$problem" ] && [ -s "$D/out" ] && problem="wrote to stdout"
    if [ -n "$problem" ]; then
        echo "FAIL $(basename "$file"): $problem"
        sed 's/^/    stderr: /' "$D/err" | head -5
        fails=$((fails + 1))
    else
        echo "ok   $(basename "$file"): $msg"
    fi
done < "$D/cases.tsv"

# All of them in one call with a good file in the middle: the good one is
# described, every bad one gets its line, the status is 1.
mapfile -t files < <(cut -f1 "$D/cases.tsv")
set +e
"$NS_BIN" info "${files[@]:0:10}" "$D/good.nii" "${files[@]:10}" > "$D/out" 2> "$D/err"
rc=$?
set -e
if [ "$rc" -ne 1 ] || [ "$(wc -l < "$D/err")" -ne "$n" ] || ! grep -q "good.nii" "$D/out" ||
    ! grep -q "dims        8 x 8 x 4" "$D/out"; then
    echo "FAIL mixed call: exit $rc, $(wc -l < "$D/err") error lines for $n bad files"
    fails=$((fails + 1))
fi
"$NS_BIN" info "$D/good.nii" > /dev/null

echo "$n broken files checked, $fails failures"
[ "$n" -ge 60 ] || { echo "FAIL: corpus too small ($n)"; exit 1; }
[ "$fails" -eq 0 ]
