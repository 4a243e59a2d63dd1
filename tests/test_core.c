/* core: status messages, atomic files, TSV, JSON, NPY/NPZ (with numpy as the
 * peer), RNG, matrices, and which BLAS the library resolved. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cblas.h>

#include "ns_test.h"

/* Rotating buffers so that several paths can be used in one call. */
static const char *tmp_path(const char *name)
{
    static char bufs[4][1024];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", ns_test_tmpdir(), name);
    return b;
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.' || strncmp(e->d_name, ".ns-", 4) == 0;
    if (d)
        closedir(d);
    return n;
}

static int run_python(const char *code)
{
    const char *py = getenv("NS_PYTHON");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s -c \"%s\"", py ? py : "/usr/bin/python3", code);
    return system(cmd);
}

START_TEST(test_error_message)
{
    ck_assert_int_eq(ns_error(NS_ERR_IO, "cannot open (%s)", "x.nii"), NS_ERR_IO);
    ck_assert_str_eq(ns_last_error(), "cannot open (x.nii)");
    ns_error_prefix(NS_ERR_IO, "subject %s", "sub-01");
    ck_assert_str_eq(ns_last_error(), "subject sub-01: cannot open (x.nii)");
    ns_error(NS_ERR_NUMERIC, "loss is not finite (inf): lower the rate (training)");
    ns_error_within(NS_ERR_NUMERIC, "epoch %d", 3);
    ck_assert_str_eq(ns_last_error(), "loss is not finite (inf): lower the rate (epoch 3, training)");
    ns_error(NS_ERR_IO, "no context");
    ns_error_within(NS_ERR_IO, "fold %d", 2);
    ck_assert_str_eq(ns_last_error(), "no context (fold 2)");
    ns_clear_error();
    ck_assert_str_eq(ns_last_error(), "");
    ck_assert_str_eq(ns_status_string(NS_ERR_FORMAT), "format error");
}
END_TEST

START_TEST(test_blas_is_openblas)
{
    const char *cfg = ns_blas_config();
    ck_assert_ptr_nonnull(cfg);
    ck_assert_msg(strstr(cfg, "OpenBLAS") != NULL, "BLAS config: %s", cfg);
}
END_TEST

static int task_count(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static double sgemm_sum(size_t n)
{
    float *a = malloc(n * n * sizeof(float)), *c = malloc(n * n * sizeof(float));
    for (size_t i = 0; i < n * n; i++)
        a[i] = (float)(i % 7) - 3.0f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)n, 1.0f, a, (int)n,
                a, (int)n, 0.0f, c, (int)n);
    double s = 0;
    for (size_t i = 0; i < n * n; i++)
        s += c[i];
    free(a), free(c);
    return s;
}

/* A hold at one BLAS thread stops OpenBLAS's pool (its threads would spin
 * on the cores of the caller's threads); released, the next parallel call
 * starts it again and computes the same. */
START_TEST(test_blas_hold_stops_pool)
{
    ns_blas_threads(2);
    double ref = sgemm_sum(512); /* large enough to run on the pool */
    int with_pool = task_count();
    ck_assert_int_eq(ns_blas_threads(1), 2);
    ck_assert_int_lt(task_count(), with_pool);
    ck_assert_double_eq(sgemm_sum(512), ref);
    ck_assert_int_eq(ns_blas_threads(2), 1);
    ck_assert_double_eq(sgemm_sum(512), ref);
    ck_assert_int_eq(task_count(), with_pool);
    ck_assert_int_eq(ns_blas_threads(1), 2);
}
END_TEST

/* Log lines of processes sharing stderr (MPI ranks) interleave whole: each
 * line is one write. Two children log at once into one pipe. */
START_TEST(test_log_lines_whole)
{
    int fd[2];
    ck_assert_int_eq(pipe(fd), 0);
    for (int c = 0; c < 2; c++)
        if (fork() == 0) {
            dup2(fd[1], 2);
            close(fd[0]);
            for (int i = 0; i < 3000; i++)
                ns_warn("child %d line %d of a log that two processes write at once", c, i);
            _exit(0);
        }
    close(fd[1]);
    FILE *in = fdopen(fd[0], "r");
    char line[256];
    int n = 0, seen[2] = {0, 0};
    while (fgets(line, sizeof line, in)) {
        int hh, mm, ss, c, i, end = 0;
        ck_assert_msg(sscanf(line, "[%2d:%2d:%2d] warning: child %d line %d of a log that two "
                                   "processes write at once%n",
                             &hh, &mm, &ss, &c, &i, &end) == 5 &&
                          end > 0 && line[end] == '\n' && (c == 0 || c == 1) && i == seen[c],
                      "broken line %d: %s", n, line);
        seen[c]++, n++;
    }
    fclose(in);
    while (wait(NULL) > 0)
        ;
    ck_assert_int_eq(n, 6000);
}
END_TEST

START_TEST(test_afile_commit_and_abort)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/afile", ns_test_tmpdir());
    ck_assert_int_eq(ns_mkdirs(dir), NS_OK);
    char path[1100];
    snprintf(path, sizeof path, "%s/out.txt", dir);
    ns_afile *f;
    ck_assert_int_eq(ns_afile_open(path, &f), NS_OK);
    fputs("first\n", ns_afile_stream(f));
    ck_assert(!ns_file_exists(path)); /* invisible until committed */
    ck_assert_int_eq(ns_afile_commit(f), NS_OK);
    ck_assert_int_eq(ns_afile_open(path, &f), NS_OK);
    fputs("second, abandoned\n", ns_afile_stream(f));
    ns_afile_abort(f);
    char *data;
    ck_assert_int_eq(ns_read_file(path, &data, NULL), NS_OK);
    ck_assert_str_eq(data, "first\n"); /* earlier output intact */
    free(data);
    ck_assert_int_eq(count_files(dir), 1); /* no temporary left */
}
END_TEST

START_TEST(test_afile_unwritable_dir)
{
    ns_afile *f;
    ck_assert_int_eq(ns_afile_open("/proc/ns_no_such_dir/x.tsv", &f), NS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(ns_last_error(), "/proc/ns_no_such_dir/x.tsv"));
}
END_TEST

START_TEST(test_afile_full_disk)
{
    /* A file-size limit makes writes fail with EFBIG, as a full disk fails
     * them with ENOSPC: the commit must report it and leave nothing. */
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/full", ns_test_tmpdir());
    ck_assert_int_eq(ns_mkdirs(dir), NS_OK);
    char path[1100];
    snprintf(path, sizeof path, "%s/big.tsv", dir);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = 4096;
    setrlimit(RLIMIT_FSIZE, &lim);
    ns_afile *f;
    ck_assert_int_eq(ns_afile_open(path, &f), NS_OK);
    for (int i = 0; i < 10000; i++)
        fputs("0123456789\n", ns_afile_stream(f));
    ns_status s = ns_afile_commit(f);
    setrlimit(RLIMIT_FSIZE, &old);
    ck_assert_int_eq(s, NS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(ns_last_error(), "big.tsv"));
    ck_assert(!ns_file_exists(path));
    ck_assert_int_eq(count_files(dir), 0);
}
END_TEST

START_TEST(test_list_dir)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/list", ns_test_tmpdir());
    ck_assert_int_eq(ns_mkdirs(dir), NS_OK);
    const char *files[] = {"sub-02.tsv", "sub-01.tsv", "sub-01.json", ".hidden.tsv", "x.tsv"};
    for (int i = 0; i < 5; i++) {
        char p[1100];
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        FILE *fp = fopen(p, "w");
        fclose(fp);
    }
    char **names;
    size_t n;
    ck_assert_int_eq(ns_list_dir(dir, "sub-", ".tsv", &names, &n), NS_OK);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(names[0], "sub-01.tsv");
    ck_assert_str_eq(names[1], "sub-02.tsv");
    ns_free_strings(names, n);
    ck_assert_int_eq(ns_list_dir(dir, NULL, NULL, &names, &n), NS_OK);
    ck_assert_int_eq(n, 4); /* dot files left out */
    ns_free_strings(names, n);
    char missing[1100];
    snprintf(missing, sizeof missing, "%s/none", dir);
    ck_assert_int_eq(ns_list_dir(missing, NULL, NULL, &names, &n), NS_OK);
    ck_assert_int_eq(n, 0);
}
END_TEST

START_TEST(test_tsv_roundtrip)
{
    const char *hdr[] = {"participant_id", "diagnosis", "age"};
    ns_tsv *t = ns_tsv_create(3, hdr);
    const char *r1[] = {"sub-01", "SZ", "23.5"};
    const char *r2[] = {"sub-02", "n/a", ""};
    char r3[3][16] = {"sub-03", "HC", "41"}; /* fixed-width cells */
    ck_assert_int_eq(ns_tsv_append(t, r1), NS_OK);
    ck_assert_int_eq(ns_tsv_append(t, r2), NS_OK);
    ck_assert_int_eq(ns_tsv_append_fixed(t, r3[0], sizeof r3[0]), NS_OK);
    ck_assert_int_eq(ns_tsv_write(t, tmp_path("p.tsv")), NS_OK);
    ns_tsv_free(t);
    ns_tsv *u;
    ck_assert_int_eq(ns_tsv_read(tmp_path("p.tsv"), &u), NS_OK);
    ck_assert_int_eq(u->nrows, 3);
    ck_assert_str_eq(ns_tsv_get(u, 2, 0), "sub-03");
    ck_assert_str_eq(ns_tsv_get(u, 2, 1), "HC");
    ck_assert_str_eq(ns_tsv_get(u, 2, 2), "41");
    ck_assert_int_eq(ns_tsv_column(u, "age"), 2);
    ck_assert_int_eq(ns_tsv_column(u, "nope"), -1);
    ck_assert_str_eq(ns_tsv_get(u, 0, 1), "SZ");
    ck_assert_ptr_null(ns_tsv_get(u, 1, 1));
    double v;
    ck_assert_int_eq(ns_tsv_get_double(u, 0, 2, &v), NS_OK);
    ck_assert_double_eq_tol(v, 23.5, 1e-12);
    ck_assert_int_eq(ns_tsv_get_double(u, 1, 2, &v), NS_OK);
    ck_assert(isnan(v));
    ck_assert_int_eq(ns_tsv_get_double(u, 0, 1, &v), NS_ERR_FORMAT);
    ns_tsv_free(u);
}
END_TEST

START_TEST(test_tsv_bad_rows)
{
    FILE *fp = fopen(tmp_path("bad.tsv"), "w");
    fputs("a\tb\r\n1\t2\r\n3\n", fp);
    fclose(fp);
    ns_tsv *t;
    ck_assert_int_eq(ns_tsv_read(tmp_path("bad.tsv"), &t), NS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ns_last_error(), "line 3"));
    ck_assert_ptr_nonnull(strstr(ns_last_error(), "bad.tsv"));
    fp = fopen(tmp_path("empty.tsv"), "w");
    fclose(fp);
    ck_assert_int_eq(ns_tsv_read(tmp_path("empty.tsv"), &t), NS_ERR_FORMAT);
    ck_assert_int_eq(ns_tsv_read(tmp_path("missing.tsv"), &t), NS_ERR_IO);
}
END_TEST

START_TEST(test_tsv_matrix)
{
    double x[] = {1, 2.5, NAN, -4};
    const char *cols[] = {"c1", "c2"};
    const char *rows[] = {"r1", "r2"};
    ck_assert_int_eq(ns_tsv_write_matrix(tmp_path("m.tsv"), x, 2, 2, cols, "id", rows), NS_OK);
    char *data;
    ck_assert_int_eq(ns_read_file(tmp_path("m.tsv"), &data, NULL), NS_OK);
    ck_assert_str_eq(data, "id\tc1\tc2\nr1\t1\t2.5\nr2\tn/a\t-4\n");
    free(data);
}
END_TEST

START_TEST(test_json_roundtrip)
{
    json_t *j = json_pack("{s:f, s:[i,i], s:s}", "RepetitionTime", 2.0, "dims", 3, 4, "x", "y");
    ck_assert_int_eq(ns_json_write(j, tmp_path("a.json")), NS_OK);
    json_decref(j);
    json_t *k;
    ck_assert_int_eq(ns_json_read(tmp_path("a.json"), &k), NS_OK);
    ck_assert_double_eq_tol(json_real_value(json_object_get(k, "RepetitionTime")), 2.0, 1e-12);
    json_decref(k);
    FILE *fp = fopen(tmp_path("bad.json"), "w");
    fputs("{\"a\": 1,,}", fp);
    fclose(fp);
    ck_assert_int_eq(ns_json_read(tmp_path("bad.json"), &k), NS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ns_last_error(), "bad.json"));
}
END_TEST

static ns_array *ramp_array(ns_dtype dt, int ndim, const size_t *shape)
{
    ns_array *a = ns_array_create(dt, ndim, shape);
    size_t n = ns_array_count(a);
    for (size_t i = 0; i < n; i++) {
        switch (dt) {
        case NS_DT_F32: ((float *)a->data)[i] = (float)i * 0.5f - 3; break;
        case NS_DT_F64: ((double *)a->data)[i] = (double)i * 0.25 - 1; break;
        case NS_DT_I32: ((int32_t *)a->data)[i] = (int32_t)i - 5; break;
        case NS_DT_I64: ((int64_t *)a->data)[i] = (int64_t)i * 1000000007LL; break;
        case NS_DT_U8: case NS_DT_BOOL: ((uint8_t *)a->data)[i] = (uint8_t)(i % 2); break;
        }
    }
    return a;
}

START_TEST(test_npy_numpy_reads_ours)
{
    size_t shape[] = {3, 4, 2};
    ns_array *a = ramp_array(NS_DT_F32, 3, shape);
    ck_assert_int_eq(ns_npy_write(a, tmp_path("a.npy")), NS_OK);
    ns_npz *z = ns_npz_create();
    ck_assert_int_eq(ns_npz_add(z, "fc0.weight", a), NS_OK);
    size_t s1[] = {5};
    ck_assert_int_eq(ns_npz_add(z, "labels", ramp_array(NS_DT_I64, 1, s1)), NS_OK);
    ck_assert_int_eq(ns_npz_add(z, "scalar", ramp_array(NS_DT_F64, 0, NULL)), NS_OK);
    ck_assert_int_eq(ns_npz_write(z, tmp_path("a.npz")), NS_OK);
    ns_npz_free(z);
    char code[4096];
    snprintf(code, sizeof code,
             "import numpy as np\n"
             "a = np.load('%s'); assert a.shape == (3, 4, 2) and a.dtype == np.float32\n"
             "assert np.array_equal(a.ravel(), np.arange(24, dtype=np.float32) * 0.5 - 3)\n"
             "z = np.load('%s'); assert sorted(z.files) == ['fc0.weight', 'labels', 'scalar']\n"
             "assert np.array_equal(z['fc0.weight'], a)\n"
             "assert z['labels'].dtype == np.int64 and z['labels'][4] == 4 * 1000000007\n"
             "assert z['scalar'].shape == () and z['scalar'] == -1.0\n",
             tmp_path("a.npy"), tmp_path("a.npz"));
    ck_assert_int_eq(run_python(code), 0);
}
END_TEST

START_TEST(test_npy_we_read_numpy)
{
    char code[4096];
    const char *dir = ns_test_tmpdir();
    snprintf(code, sizeof code,
             "import numpy as np\n"
             "x = np.arange(12, dtype='<f8').reshape(3, 4) / 8\n"
             "np.save('%s/c.npy', x)\n"
             "np.save('%s/f.npy', np.asfortranarray(x))\n"
             "np.save('%s/be.npy', x.astype('>f4'))\n"
             "np.save('%s/i16.npy', np.arange(12, dtype='<i2').reshape(3, 4) - 6)\n"
             "np.savez('%s/s.npz', w=x.astype(np.float32), y=np.array([0, 1, 1], dtype=np.int64))\n"
             "np.savez_compressed('%s/c.npz', w=x.astype(np.float32))\n",
             dir, dir, dir, dir, dir, dir);
    ck_assert_int_eq(run_python(code), 0);
    const char *names[] = {"c.npy", "f.npy", "be.npy", "i16.npy"};
    for (int k = 0; k < 4; k++) {
        ns_array *a;
        ck_assert_msg(ns_npy_read(tmp_path(names[k]), &a) == NS_OK, "%s", ns_last_error());
        ck_assert_int_eq(a->ndim, 2);
        ck_assert_int_eq(a->shape[0], 3);
        ck_assert_int_eq(a->shape[1], 4);
        double *d;
        ck_assert_int_eq(ns_array_to_f64(a, &d), NS_OK);
        for (int i = 0; i < 12; i++)
            ck_assert_double_eq_tol(d[i], k == 3 ? i - 6 : i / 8.0, 1e-7);
        free(d);
        ns_array_free(a);
    }
    const char *zips[] = {"s.npz", "c.npz"};
    for (int k = 0; k < 2; k++) {
        ns_npz *z;
        ck_assert_msg(ns_npz_read(tmp_path(zips[k]), &z) == NS_OK, "%s", ns_last_error());
        const ns_array *w = ns_npz_get(z, "w");
        ck_assert_ptr_nonnull(w);
        ck_assert_int_eq(w->dtype, NS_DT_F32);
        ck_assert_float_eq_tol(((float *)w->data)[11], 11 / 8.0f, 1e-7f);
        if (k == 0)
            ck_assert_int_eq(((int64_t *)ns_npz_get(z, "y")->data)[2], 1);
        ns_npz_free(z);
    }
}
END_TEST

START_TEST(test_npy_corrupt)
{
    ns_array *a;
    const unsigned char junk[] = "\x93NUMPY\x01\x00\xff\x7f{'descr'";
    ck_assert_int_eq(ns_npy_parse(junk, sizeof junk, "junk", &a), NS_ERR_FORMAT);
    const char hdr[] = "\x93NUMPY\x01\x00\x46\x00{'descr': '<f4', 'fortran_order': False, 'shape': (1000, 1000), }     \n";
    ck_assert_int_eq(ns_npy_parse(hdr, sizeof hdr - 1, "short", &a), NS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ns_last_error(), "truncated"));
    const char cplx[] = "\x93NUMPY\x01\x00\x46\x00{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }         \n";
    ck_assert_int_eq(ns_npy_parse(cplx, sizeof cplx - 1, "cplx", &a), NS_ERR_FORMAT);
    FILE *fp = fopen(tmp_path("notzip.npz"), "w");
    fputs("PK this is not a zip", fp);
    fclose(fp);
    ns_npz *z;
    ck_assert_int_eq(ns_npz_read(tmp_path("notzip.npz"), &z), NS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ns_last_error(), "notzip.npz"));
}
END_TEST

START_TEST(test_npz_deterministic)
{
    size_t shape[] = {4, 4};
    for (int k = 0; k < 2; k++) {
        ns_npz *z = ns_npz_create();
        ns_npz_add(z, "a", ramp_array(NS_DT_F32, 2, shape));
        ck_assert_int_eq(ns_npz_write(z, tmp_path(k ? "d2.npz" : "d1.npz")), NS_OK);
        ns_npz_free(z);
    }
    char *a, *b;
    size_t la, lb;
    ck_assert_int_eq(ns_read_file(tmp_path("d1.npz"), &a, &la), NS_OK);
    ck_assert_int_eq(ns_read_file(tmp_path("d2.npz"), &b, &lb), NS_OK);
    ck_assert_int_eq(la, lb);
    ck_assert(memcmp(a, b, la) == 0);
    free(a);
    free(b);
}
END_TEST

START_TEST(test_rng_seeded)
{
    ns_rng *a = ns_rng_create(42), *b = ns_rng_create(42), *c = ns_rng_create(43);
    int differ = 0;
    double sum = 0, sumsq = 0;
    for (int i = 0; i < 20000; i++) {
        double x = ns_rng_normal(a), y = ns_rng_normal(b), z = ns_rng_normal(c);
        ck_assert(x == y);
        differ += x != z;
        sum += x;
        sumsq += x * x;
    }
    ck_assert_int_gt(differ, 19000);
    ck_assert_double_lt(fabs(sum / 20000), 0.03);
    ck_assert_double_lt(fabs(sumsq / 20000 - 1), 0.05);
    size_t idx[10];
    for (size_t i = 0; i < 10; i++)
        idx[i] = i;
    ns_rng_shuffle(a, idx, 10);
    int seen[10] = {0};
    for (size_t i = 0; i < 10; i++)
        seen[idx[i]]++;
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(seen[i], 1);
    ck_assert_uint_ne(ns_seed_derive(1, 0), ns_seed_derive(1, 1));
    ns_rng_free(a);
    ns_rng_free(b);
    ns_rng_free(c);
}
END_TEST

START_TEST(test_matrix_views)
{
    ns_matrix *m = ns_matrix_create(4, 3);
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 3; j++)
            NS_AT(m, i, j) = (float)(10 * i + j);
    ns_matrix v = ns_matrix_rows(m, 2, 2);
    ck_assert_float_eq(NS_AT(&v, 1, 2), 32.0f);
    ck_assert_int_eq(v.owner, 0);
    ns_matrix *c = ns_matrix_copy(&v);
    NS_AT(m, 2, 0) = -1;
    ck_assert_float_eq(NS_AT(c, 0, 0), 20.0f);
    ns_matrix_free(c);
    ns_matrix_free(m);
    ck_assert_ptr_null(ns_matrix_create(SIZE_MAX / 2, 4));
    ck_assert_ptr_nonnull(strstr(ns_last_error(), "too large"));
}
END_TEST

START_TEST(test_block_range)
{
    for (size_t n = 0; n <= 20; n++)
        for (size_t parts = 1; parts <= 7; parts++) {
            size_t next = 0, smin = SIZE_MAX, smax = 0;
            for (size_t b = 0; b < parts; b++) {
                size_t lo, hi;
                ns_block_range(n, b, parts, &lo, &hi);
                ck_assert_uint_eq(lo, next); /* contiguous, in order */
                ck_assert_uint_le(lo, hi);
                next = hi;
                smin = hi - lo < smin ? hi - lo : smin;
                smax = hi - lo > smax ? hi - lo : smax;
            }
            ck_assert_uint_eq(next, n); /* every item once */
            ck_assert_uint_le(smax - smin, 1);
        }
    size_t lo, hi;
    ns_block_range(5, 0, 0, &lo, &hi);
    ck_assert(lo == 0 && hi == 5);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_error_message);
    tcase_add_test(tc, test_block_range);
    tcase_add_test(tc, test_blas_is_openblas);
    tcase_add_test(tc, test_blas_hold_stops_pool);
    tcase_add_test(tc, test_log_lines_whole);
    tcase_add_test(tc, test_afile_commit_and_abort);
    tcase_add_test(tc, test_afile_unwritable_dir);
    tcase_add_test(tc, test_afile_full_disk);
    tcase_add_test(tc, test_list_dir);
    tcase_add_test(tc, test_tsv_roundtrip);
    tcase_add_test(tc, test_tsv_bad_rows);
    tcase_add_test(tc, test_tsv_matrix);
    tcase_add_test(tc, test_json_roundtrip);
    tcase_add_test(tc, test_npy_numpy_reads_ours);
    tcase_add_test(tc, test_npy_we_read_numpy);
    tcase_add_test(tc, test_npy_corrupt);
    tcase_add_test(tc, test_npz_deterministic);
    tcase_add_test(tc, test_rng_seeded);
    tcase_add_test(tc, test_matrix_views);
    suite_add_tcase(s, tc);
    return ns_test_run(s);
}
