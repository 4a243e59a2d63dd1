#!/usr/bin/python3
"""Writes the fuzzers' seed corpus under tests/corpus/<reader>/ (small valid
and broken files), with numpy, nibabel and python3-nibabel's bundled test
data. The files are committed; rerun this only to change the seeds:

    /usr/bin/python3 fuzz/make_corpus.py [tests/corpus]

Directories: tsv, json, npy, npz (core readers); nifti (.nii bytes, also the
input of fuzz_nifti_gzip, which gzips them); nifti_gz (.nii.gz bytes as they
are on disk); analyze (a 348-byte .hdr followed by the .img bytes).
tests/corpus/regress/ (inputs that once crashed) is not touched."""
import gzip
import io
import os
import shutil
import struct
import sys
import zipfile

import nibabel as nib
import numpy as np

NIB_DATA = os.path.join(os.path.dirname(nib.__file__), "tests", "data")


def put(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def text_seeds(root):
    t = os.path.join(root, "tsv")
    put(f"{t}/participants.tsv", "participant_id\tage\tgroup\nsub-01\t23\tHC\nsub-02\tn/a\tSZ\nsub-03\t\tSZ\n")
    put(f"{t}/confounds.tsv", "trans_x\ttrans_y\trot_z\tframewise_displacement\nn/a\t0.1\t-0.002\tn/a\n"
        "0.0133\t1e-3\t0.00021\t0.12\n-1.5E+2\tinf\tnan\t3\n")
    put(f"{t}/crlf_no_final_newline.tsv", "a\tb\r\n1\t2\r\n\r\n3\t4")
    put(f"{t}/bad_too_many_cells.tsv", "a\tb\n1\t2\t3\n")
    put(f"{t}/bad_too_few_cells.tsv", "a\tb\tc\n1\n")
    put(f"{t}/bad_empty_header.tsv", "\n1\t2\n")
    put(f"{t}/one_column_blank_lines.tsv", "x\n\n\n5\n")
    put(f"{t}/bad_nul_byte.tsv", b"a\tb\n1\0\t2\n")
    put(f"{t}/empty_cells_only.tsv", "\t\t\n\t\t\n")
    j = os.path.join(root, "json")
    put(f"{j}/sidecar.json", '{\n  "RepetitionTime": 2.0,\n  "TaskName": "rest",\n'
        '  "SliceTiming": [0.0, 0.5, 1.0, 1.5],\n  "SkullStripped": false,\n'
        '  "Sources": ["bids:raw:sub-01/func/sub-01_task-rest_bold.nii.gz"]\n}\n')
    put(f"{j}/ints_unicode.json", '{"RepetitionTime": 2, "nested": {"a": [1, 2, {"b": null}], '
        '"s": "\\u00e9\\ud83d\\ude00"}, "t": true}\n')
    put(f"{j}/bad_duplicate_key.json", '{"RepetitionTime": 2.0, "RepetitionTime": 3.0}')
    put(f"{j}/bad_truncated.json", '{"RepetitionTime": "2.0s"')
    put(f"{j}/big_numbers.json", "[1e400, -0.0, 123456789012345678901234567890]")
    put(f"{j}/bad_utf8.json", b'"\xff\xfe bad utf8"')
    put(f"{j}/bad_empty.json", b"")
    put(f"{j}/deep.json", '{"a":' + "[" * 30 + "]" * 30 + "}")


def npy_bytes(a, version=None):
    buf = io.BytesIO()
    if version:
        np.lib.format.write_array(buf, a, version=version)
    else:
        np.save(buf, a)
    return buf.getvalue()


def array_seeds(root):
    d = os.path.join(root, "npy")
    f32 = npy_bytes(np.arange(6, dtype="<f4").reshape(2, 3))
    put(f"{d}/f32_2d.npy", f32)
    put(f"{d}/f64_big_endian.npy", npy_bytes(np.array([1.5, -2.25, np.nan], dtype=">f8")))
    put(f"{d}/i16_fortran.npy", npy_bytes(np.asfortranarray(np.arange(12, dtype="<i2").reshape(3, 4))))
    put(f"{d}/u8_3d.npy", npy_bytes(np.arange(8, dtype="u1").reshape(2, 2, 2)))
    put(f"{d}/bool_scalar.npy", npy_bytes(np.array(True)))
    put(f"{d}/i64_empty.npy", npy_bytes(np.zeros((0, 3), dtype="<i8")))
    put(f"{d}/u4.npy", npy_bytes(np.array([1, 2**32 - 1], dtype="<u4")))
    put(f"{d}/v2_f32.npy", npy_bytes(np.ones(3, dtype="<f4"), (2, 0)))
    put(f"{d}/v3_i32.npy", npy_bytes(np.array([7, -7], dtype="<i4"), (3, 0)))
    put(f"{d}/bad_truncated.npy", f32[:-5])
    put(f"{d}/bad_magic.npy", b"\x93NUMPZ" + f32[6:])
    put(f"{d}/bad_shape.npy", f32.replace(b"(2, 3)", b"(2, x)"))
    put(f"{d}/bad_complex.npy", npy_bytes(np.array([1j], dtype="<c8")))
    z = os.path.join(root, "npz")
    os.makedirs(z, exist_ok=True)
    np.savez(f"{z}/stored.npz", a=np.arange(4, dtype="<f4"), b=np.eye(2))
    np.savez_compressed(f"{z}/deflated.npz", w=np.arange(10, dtype="<f8").reshape(2, 5),
                        y=np.array([0, 1], dtype="<i8"))
    np.savez(f"{z}/empty.npz")
    with zipfile.ZipFile(f"{z}/extra_member.npz", "w") as zf:
        zf.writestr("README.txt", "not an array")
        zf.writestr("x.npy", npy_bytes(np.array([3], dtype="u1")))
    stored = open(f"{z}/stored.npz", "rb").read()
    put(f"{z}/bad_truncated.npz", stored[: len(stored) // 2])
    put(f"{z}/bad_not_zip.npz", b"PK\x03\x04" + b"\0" * 40)
    with zipfile.ZipFile(f"{z}/bad_member.npz", "w") as zf:
        zf.writestr("x.npy", b"\x93NUMPY\x01\x00\x10\x00{garbage}")


def nii_bytes(img):
    """The bytes of img as a single .nii file."""
    return img.to_bytes()


def small_images():
    """(name, image) pairs covering datatypes, byte orders, scaling, units."""
    rng = np.random.default_rng(0)
    aff = np.diag([2.0, 2.0, 2.5, 1.0])
    out = []
    i16 = nib.Nifti1Image(rng.integers(-300, 300, (4, 3, 3, 2)).astype(np.int16), aff)
    i16.header.set_xyzt_units("mm", "msec")
    i16.header["pixdim"][4] = 2000.0
    i16.header.set_slope_inter(2.0, 1.0)
    out.append(("i16_4d_scaled_ms", i16))
    be = nib.Nifti1Image(rng.standard_normal((3, 3, 2)).astype(">f4"), aff)
    out.append(("f32_be", be))
    out.append(("u8_3d", nib.Nifti1Image(np.arange(24, dtype=np.uint8).reshape(2, 3, 4), aff)))
    f64 = rng.standard_normal((2, 2, 2, 3))
    f64[0, 0, 0, 0] = np.nan
    f64[1, 1, 1, 2] = np.inf
    out.append(("f64_nan_inf", nib.Nifti1Image(f64, aff)))
    n2 = nib.Nifti2Image(rng.integers(0, 1000, (3, 2, 2, 2)).astype(np.int32), aff)
    n2.header.set_xyzt_units("mm", "sec")
    n2.header["pixdim"][4] = 1.5
    out.append(("nifti2_i32", n2))
    out.append(("i64_3d", nib.Nifti1Image(np.arange(-4, 4, dtype=np.int64).reshape(2, 2, 2), aff, dtype=np.int64)))
    out.append(("u16_5d_singleton", nib.Nifti1Image(np.arange(8, dtype=np.uint16).reshape(2, 2, 2, 1, 1), aff)))
    out.append(("i8_3d", nib.Nifti1Image(np.arange(8, dtype=np.int8).reshape(2, 2, 2), aff)))
    out.append(("complex64", nib.Nifti1Image(np.ones((2, 2, 2), dtype=np.complex64), aff)))
    return out


def set_i16(buf, off, v):
    return buf[:off] + struct.pack("<h", v) + buf[off + 2:]


def nifti_seeds(root):
    d = os.path.join(root, "nifti")
    g = os.path.join(root, "nifti_gz")
    a = os.path.join(root, "analyze")
    images = small_images()
    for name, img in images:
        b = nii_bytes(img)
        put(f"{d}/{name}.nii", b)
        if name in ("i16_4d_scaled_ms", "nifti2_i32", "f32_be"):
            put(f"{g}/{name}.nii.gz", gzip.compress(b, mtime=0))
    base = nii_bytes(images[0][1])  # little-endian NIfTI-1, dim at byte 40
    put(f"{d}/bad_dim0_8.nii", set_i16(base, 40, 8))
    put(f"{d}/bad_negative_dim.nii", set_i16(base, 42, -4))
    put(f"{d}/bad_zero_dim.nii", set_i16(base, 44, 0))
    put(f"{d}/bad_huge_dims.nii", set_i16(set_i16(set_i16(base, 42, 32767), 44, 32767), 46, 32767))
    put(f"{d}/bad_datatype_99.nii", set_i16(base, 70, 99))
    put(f"{d}/bad_vox_offset.nii", base[:108] + struct.pack("<f", 1e9) + base[112:])
    put(f"{d}/bad_truncated.nii", base[: len(base) - 7])
    put(f"{d}/bad_header_only.nii", base[:200])
    put(f"{d}/bad_sizeof_hdr.nii", struct.pack("<i", 349) + base[4:])
    put(f"{d}/bad_magic.nii", base[:344] + b"xx1\0" + base[348:])
    std = gzip.decompress(open(os.path.join(NIB_DATA, "standard.nii.gz"), "rb").read())
    put(f"{d}/nibabel_standard.nii", std)
    shutil.copy(os.path.join(NIB_DATA, "standard.nii.gz"), f"{g}/nibabel_standard.nii.gz")
    put(f"{d}/nibabel_row_major_dconn.nii", open(os.path.join(NIB_DATA, "row_major.dconn.nii"), "rb").read())
    gz = open(f"{g}/i16_4d_scaled_ms.nii.gz", "rb").read()
    put(f"{g}/bad_truncated.nii.gz", gz[: len(gz) - 12])
    put(f"{g}/bad_isize_lies.nii.gz", gz[:-4] + struct.pack("<I", 7))
    put(f"{g}/two_members.nii.gz", gzip.compress(base[:200], mtime=0) + gzip.compress(base[200:], mtime=0))
    put(f"{g}/plain_bytes_named_gz.nii.gz", base)
    put(f"{g}/bad_crc.nii.gz", gz[:-8] + b"\0\0\0\0" + gz[-4:])
    for name, cls in (("analyze_i16", nib.AnalyzeImage), ("nifti1_pair_f32", nib.Nifti1Pair)):
        dt = np.int16 if cls is nib.AnalyzeImage else np.float32
        img = cls(np.arange(24, dtype=dt).reshape(2, 3, 4), np.diag([3.0, 3.0, 3.0, 1.0]))
        hdr = img.header.binaryblock
        put(f"{a}/{name}.hdr+img", hdr + np.asarray(img.dataobj).tobytes(order="F"))
    put(f"{a}/bad_short_img.hdr+img", hdr + b"\0" * 10)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "corpus")
    text_seeds(root)
    array_seeds(root)
    nifti_seeds(root)


if __name__ == "__main__":
    main()
