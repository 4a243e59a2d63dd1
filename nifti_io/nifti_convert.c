/* Stored values -> float32: datatypes, byte swapping and scaling. */
#include <string.h>

#include <nifti1.h>

#include "nifti_int.h"

int ns_nii_datatype_size(int datatype)
{
    switch (datatype) {
    case NIFTI_TYPE_UINT8:
    case NIFTI_TYPE_INT8:
        return 1;
    case NIFTI_TYPE_INT16:
    case NIFTI_TYPE_UINT16:
        return 2;
    case NIFTI_TYPE_INT32:
    case NIFTI_TYPE_UINT32:
    case NIFTI_TYPE_FLOAT32:
        return 4;
    case NIFTI_TYPE_INT64:
    case NIFTI_TYPE_UINT64:
    case NIFTI_TYPE_FLOAT64:
        return 8;
    default:
        return 0;
    }
}

const char *ns_nii_datatype_name(int datatype)
{
    switch (datatype) {
    case NIFTI_TYPE_UINT8: return "uint8";
    case NIFTI_TYPE_INT8: return "int8";
    case NIFTI_TYPE_INT16: return "int16";
    case NIFTI_TYPE_UINT16: return "uint16";
    case NIFTI_TYPE_INT32: return "int32";
    case NIFTI_TYPE_UINT32: return "uint32";
    case NIFTI_TYPE_INT64: return "int64";
    case NIFTI_TYPE_UINT64: return "uint64";
    case NIFTI_TYPE_FLOAT32: return "float32";
    case NIFTI_TYPE_FLOAT64: return "float64";
    case NIFTI_TYPE_FLOAT128: return "float128";
    case NIFTI_TYPE_COMPLEX64: return "complex64";
    case NIFTI_TYPE_COMPLEX128: return "complex128";
    case NIFTI_TYPE_COMPLEX256: return "complex256";
    case NIFTI_TYPE_RGB24: return "rgb24";
    case NIFTI_TYPE_RGBA32: return "rgba32";
    case DT_BINARY: return "binary";
    case DT_UNKNOWN: return "unknown";
    default: return NULL;
    }
}

const char *ns_nifti_datatype_name(int datatype)
{
    const char *n = ns_nii_datatype_name(datatype);
    return n ? n : "unknown";
}

static void swap_bytes(void *buf, size_t n, int size)
{
    if (size == 2) {
        uint16_t *p = buf;
        for (size_t i = 0; i < n; i++)
            p[i] = __builtin_bswap16(p[i]);
    } else if (size == 4) {
        uint32_t *p = buf;
        for (size_t i = 0; i < n; i++)
            p[i] = __builtin_bswap32(p[i]);
    } else if (size == 8) {
        uint64_t *p = buf;
        for (size_t i = 0; i < n; i++)
            p[i] = __builtin_bswap64(p[i]);
    }
}

/* One loop per type; scaling is done in double so that large integers and
 * float64 data keep their precision until the final rounding to float. */
#define NS_CONVERT(T)                                                   \
    do {                                                                \
        const T *restrict src = in;                                     \
        if (slope != 0)                                                 \
            for (size_t i = 0; i < n; i++)                              \
                out[i] = (float)((double)src[i] * slope + inter);       \
        else                                                            \
            for (size_t i = 0; i < n; i++)                              \
                out[i] = (float)src[i];                                 \
    } while (0)

void ns_nii_convert(void *in, float *restrict out, size_t n, int datatype, int swapped,
                    double slope, double inter)
{
    if (swapped)
        swap_bytes(in, n, ns_nii_datatype_size(datatype));
    switch (datatype) {
    case NIFTI_TYPE_UINT8: NS_CONVERT(uint8_t); break;
    case NIFTI_TYPE_INT8: NS_CONVERT(int8_t); break;
    case NIFTI_TYPE_INT16: NS_CONVERT(int16_t); break;
    case NIFTI_TYPE_UINT16: NS_CONVERT(uint16_t); break;
    case NIFTI_TYPE_INT32: NS_CONVERT(int32_t); break;
    case NIFTI_TYPE_UINT32: NS_CONVERT(uint32_t); break;
    case NIFTI_TYPE_INT64: NS_CONVERT(int64_t); break;
    case NIFTI_TYPE_UINT64: NS_CONVERT(uint64_t); break;
    case NIFTI_TYPE_FLOAT32: NS_CONVERT(float); break;
    case NIFTI_TYPE_FLOAT64: NS_CONVERT(double); break;
    default: memset(out, 0, n * sizeof *out); break; /* unreachable: validated */
    }
}
