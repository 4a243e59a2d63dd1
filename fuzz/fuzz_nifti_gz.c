/* libFuzzer harness: arbitrary bytes as a .nii.gz file: broken gzip
 * members, lying ISIZE trailers, truncated streams, concatenated members
 * (the libdeflate fast path and the zlib fallback). */
/* requires: nifti_io */
#include "fuzz_nifti_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ns_fuzz_load_all(ns_fuzz_write("in.nii.gz", data, size));
    return 0;
}
