/* libFuzzer harness: a .hdr/.img pair (Analyze 7.5 or NIfTI-1 pair): the
 * first 348 bytes of the input become the .hdr (or all of it when shorter),
 * the rest the .img, so header mutations meet a data file of any length. */
/* requires: nifti_io */
#include "fuzz_nifti_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t nhdr = size < 348 ? size : 348;
    ns_fuzz_write("in.img", data + nhdr, size - nhdr);
    ns_fuzz_load_all(ns_fuzz_write("in.hdr", data, nhdr));
    return 0;
}
