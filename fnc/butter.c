/* Butterworth low-pass design and zero-phase filtering, reproducing
 * scipy.signal.butter / lfilter_zi / filtfilt (scipy 1.10) step by step so
 * that results agree to rounding. */
#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fnc/fnc.h"
#include "fnc/fnc_int.h"

/* Coefficients of prod (x - r_i), highest power first (numpy.poly). */
static void poly_from_roots(const double complex *r, int n, double complex *c)
{
    c[0] = 1.0;
    for (int i = 1; i <= n; i++)
        c[i] = 0.0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j >= 1; j--)
            c[j] -= r[i] * c[j - 1];
}

ns_status ns_fnc_butter_lowpass(int order, double wn, ns_fnc_iir *out)
{
    if (order < 1 || order > NS_FNC_MAX_ORDER)
        return ns_error(NS_ERR_ARG, "Butterworth order %d outside 1..%d", order, NS_FNC_MAX_ORDER);
    if (!(wn > 0.0 && wn < 1.0))
        return ns_error(NS_ERR_ARG, "normalised cut-off %g outside (0, 1)", wn);
    /* buttap: p = -exp(1j pi m / (2N)), m = -N+1, -N+3, ..., N-1; k = 1 */
    double complex p[NS_FNC_MAX_ORDER], pz[NS_FNC_MAX_ORDER], c[NS_FNC_MAX_ORDER + 1];
    const double fs = 2.0, fs2 = 2.0 * fs;
    double warped = 2.0 * fs * tan(M_PI * wn / fs);
    double complex den = 1.0;
    for (int i = 0; i < order; i++) {
        int m = -order + 1 + 2 * i;
        p[i] = -cexp(I * M_PI * m / (2.0 * order)) * warped; /* lp2lp_zpk */
        pz[i] = (fs2 + p[i]) / (fs2 - p[i]);                /* bilinear_zpk */
        den *= fs2 - p[i];
    }
    /* k = warped^N after lp2lp; bilinear: k * real(prod(fs2 - z) / prod(fs2 - p)) */
    double k = pow(warped, order) * creal(1.0 / den);
    out->order = order;
    /* zeros all at -1: poly gives the binomial coefficients */
    double binom = 1.0;
    for (int i = 0; i <= order; i++) {
        out->b[i] = k * binom;
        binom = binom * (order - i) / (i + 1);
    }
    poly_from_roots(pz, order, c);
    for (int i = 0; i <= order; i++)
        out->a[i] = creal(c[i]);
    return NS_OK;
}

/* Solves A x = y (n x n, row-major, destroyed) by Gaussian elimination with
 * partial pivoting; small systems only. */
static ns_status solve_small(double *A, double *y, int n)
{
    for (int col = 0; col < n; col++) {
        int piv = col;
        for (int r = col + 1; r < n; r++)
            if (fabs(A[r * n + col]) > fabs(A[piv * n + col]))
                piv = r;
        if (A[piv * n + col] == 0.0)
            return ns_error(NS_ERR_NUMERIC, "singular system in lfilter_zi");
        if (piv != col) {
            for (int j = 0; j < n; j++) {
                double t = A[col * n + j];
                A[col * n + j] = A[piv * n + j];
                A[piv * n + j] = t;
            }
            double t = y[col];
            y[col] = y[piv];
            y[piv] = t;
        }
        for (int r = col + 1; r < n; r++) {
            double f = A[r * n + col] / A[col * n + col];
            for (int j = col; j < n; j++)
                A[r * n + j] -= f * A[col * n + j];
            y[r] -= f * y[col];
        }
    }
    for (int r = n - 1; r >= 0; r--) {
        double s = y[r];
        for (int j = r + 1; j < n; j++)
            s -= A[r * n + j] * y[j];
        y[r] = s / A[r * n + r];
    }
    return NS_OK;
}

ns_status ns_fnc_lfilter_zi(const ns_fnc_iir *f, double *zi)
{
    int n = f->order; /* len(a) - 1 */
    double A[NS_FNC_MAX_ORDER * NS_FNC_MAX_ORDER];
    double a0 = f->a[0];
    /* I - companion(a).T: companion.T has -a[1:]/a0 in column 0 and ones on
     * the superdiagonal. */
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++)
            A[i * n + j] = (i == j) ? 1.0 : 0.0;
        A[i * n + 0] += f->a[i + 1] / a0;
        if (i + 1 < n)
            A[i * n + i + 1] -= 1.0;
        zi[i] = f->b[i + 1] / a0 - f->a[i + 1] / a0 * (f->b[0] / a0);
    }
    return solve_small(A, zi, n);
}

size_t ns_fnc_filtfilt_padlen(const ns_fnc_iir *f)
{
    return 3 * (size_t)(f->order + 1);
}

size_t ns_fnc_filtfilt_worksize(const ns_fnc_iir *f, size_t T, size_t K)
{
    size_t L = T + 2 * ns_fnc_filtfilt_padlen(f);
    return (L + (size_t)f->order + 1) * K;
}

/* Direct form II transposed over the rows of x (L x K) in the direction
 * dir (+1 forward from row 0, -1 backward from row L-1), in place, with the
 * initial state zi scaled per column by the first row visited. */
static void lfilter_rows(const ns_fnc_iir *f, const double *zi, double *x, size_t L, size_t K,
                         int dir, double *z, double *y)
{
    const int n = f->order;
    const double *b = f->b, *a = f->a;
    const double *first = x + (dir > 0 ? 0 : (L - 1) * K);
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < K; k++)
            z[(size_t)i * K + k] = zi[i] * first[k];
    for (size_t s = 0; s < L; s++) {
        double *r = x + (dir > 0 ? s : L - 1 - s) * K;
        for (size_t k = 0; k < K; k++)
            y[k] = b[0] * r[k] + z[k];
        for (int i = 0; i + 1 < n; i++) {
            double *zc = z + (size_t)i * K, *zn = zc + K;
            for (size_t k = 0; k < K; k++)
                zc[k] = b[i + 1] * r[k] + zn[k] - a[i + 1] * y[k];
        }
        double *zl = z + (size_t)(n - 1) * K;
        for (size_t k = 0; k < K; k++) {
            zl[k] = b[n] * r[k] - a[n] * y[k];
            r[k] = y[k];
        }
    }
}

/* Odd extension as scipy's odd_ext: 2 x[0] - x[pad..1] before, 2 x[T-1] -
 * x[T-2..T-1-pad] after. */
static void odd_extend(const double *x, size_t T, size_t K, size_t pad, double *ext)
{
    for (size_t i = 0; i < pad; i++)
        for (size_t k = 0; k < K; k++)
            ext[i * K + k] = 2.0 * x[k] - x[(pad - i) * K + k];
    memcpy(ext + pad * K, x, T * K * sizeof(double));
    for (size_t j = 0; j < pad; j++)
        for (size_t k = 0; k < K; k++)
            ext[(pad + T + j) * K + k] = 2.0 * x[(T - 1) * K + k] - x[(T - 2 - j) * K + k];
}

ns_status ns_fnc_filtfilt(const ns_fnc_iir *f, double *x, size_t T, size_t K, double *work)
{
    size_t pad = ns_fnc_filtfilt_padlen(f);
    if (T <= pad)
        return ns_error(NS_ERR_DATA, "%zu time points are too few for the filter (needs more than %zu)",
                        T, pad);
    if (f->a[0] != 1.0)
        return ns_error(NS_ERR_ARG, "filter not normalised (a[0] = %g)", f->a[0]);
    double zi[NS_FNC_MAX_ORDER];
    ns_status st = ns_fnc_lfilter_zi(f, zi);
    if (st)
        return st;
    double *own = NULL;
    if (!work && !(work = own = ns_alloc(ns_fnc_filtfilt_worksize(f, T, K), sizeof(double))))
        return NS_ERR_NOMEM;
    size_t L = T + 2 * pad;
    double *ext = work, *z = ext + L * K, *y = z + (size_t)f->order * K;
    odd_extend(x, T, K, pad, ext);
    lfilter_rows(f, zi, ext, L, K, +1, z, y);
    lfilter_rows(f, zi, ext, L, K, -1, z, y);
    memcpy(x, ext + pad * K, T * K * sizeof(double));
    free(own);
    return NS_OK;
}
