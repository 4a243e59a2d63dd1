/* libFuzzer harness: the NIfTI reader on arbitrary bytes as a .nii file
 * (header checks, datatypes, byte order, scaling, vox_offset, truncation). */
/* requires: nifti_io */
#include "fuzz_nifti_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ns_fuzz_load_all(ns_fuzz_write("in.nii", data, size));
    return 0;
}
