/* Unit tests of the simulator: parameters, maps, exact reconstruction of the
 * noiseless data from the truth, noise level vs CNR, planted effects visible
 * in the true timecourses, determinism. */
/* requires: sim nifti_io */
#include <ftw.h>
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <string.h>

#include "ns_test.h"
#include "sim/sim.h"

static ns_sim *make_sim(const ns_sim_params *p)
{
    ns_sim *sim = NULL;
    ns_status st = ns_sim_create(p, &sim);
    ck_assert_msg(st == NS_OK, "ns_sim_create: %s", ns_last_error());
    return sim;
}

static ns_sim_params small_params(void)
{
    ns_sim_params p = ns_sim_params_default();
    ns_sim_params_set_shape(&p, 40, 44, 1);
    p.n_subjects = 3;
    p.n_timepoints = 40;
    return p;
}

static float *subject_bold(const ns_sim *sim, ns_sim_subject *s)
{
    float *x = malloc(s->ntime * s->nvox * sizeof(float));
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(ns_sim_subject_bold(sim, s, x), NS_OK);
    return x;
}

static double pearson(const double *x, const double *y, size_t n, size_t stride)
{
    double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
    for (size_t t = 0; t < n; t++)
        mx += x[t * stride], my += y[t * stride];
    mx /= (double)n, my /= (double)n;
    for (size_t t = 0; t < n; t++) {
        double a = x[t * stride] - mx, b = y[t * stride] - my;
        sxy += a * b, sxx += a * a, syy += b * b;
    }
    return sxy / sqrt(sxx * syy);
}

/* Welch's t-test, two-sided p. */
static double welch_p(const double *a, size_t na, const double *b, size_t nb, double *tstat)
{
    double ma = 0, mb = 0, va = 0, vb = 0;
    for (size_t i = 0; i < na; i++)
        ma += a[i];
    for (size_t i = 0; i < nb; i++)
        mb += b[i];
    ma /= (double)na, mb /= (double)nb;
    for (size_t i = 0; i < na; i++)
        va += (a[i] - ma) * (a[i] - ma);
    for (size_t i = 0; i < nb; i++)
        vb += (b[i] - mb) * (b[i] - mb);
    va /= (double)(na - 1), vb /= (double)(nb - 1);
    double se2 = va / (double)na + vb / (double)nb, t = (ma - mb) / sqrt(se2);
    double df = se2 * se2 / (va * va / ((double)na * na * (double)(na - 1)) + vb * vb / ((double)nb * nb * (double)(nb - 1)));
    *tstat = t;
    return 2.0 * gsl_cdf_tdist_Q(fabs(t), df);
}

START_TEST(test_params)
{
    ns_sim_params p = ns_sim_params_default();
    ck_assert_int_eq(p.dim[0], 100);
    ck_assert_int_eq(p.dim[1], 100);
    ck_assert_int_eq(p.dim[2], 1);
    ck_assert_int_eq(p.n_timepoints, 150);
    ck_assert_int_eq(p.n_sources, 30);
    ck_assert(p.tr == 2.0 && p.baseline == 800.0 && p.event_prob == 0.5);
    ck_assert_int_eq(ns_sim_params_check(&p), NS_OK);
    ns_sim_params bad[6];
    for (int k = 0; k < 6; k++)
        bad[k] = p;
    bad[0].n_subjects = 0;
    bad[1].cnr = 0;
    bad[2].n_sources = NS_SIM_CATALOGUE_SIZE + 1;
    bad[3].tr = 0;
    bad[4].dim[0] = 4;
    bad[5].n_sites = 25;
    for (int k = 0; k < 6; k++) {
        ns_clear_error();
        ck_assert_int_eq(ns_sim_params_check(&bad[k]), NS_ERR_ARG);
        ck_assert(strlen(ns_last_error()) > 0);
        ns_sim *sim = (ns_sim *)1;
        ck_assert_int_eq(ns_sim_create(&bad[k], &sim), NS_ERR_ARG);
        ck_assert_ptr_null(sim);
    }
    /* the message gives the allowed range */
    ns_sim_params_check(&bad[4]);
    ck_assert_str_eq(ns_last_error(), "grid dimension 1 must be 8..1024 (4)");
}
END_TEST

static void check_maps(const ns_sim *sim)
{
    size_t V = ns_sim_nvox(sim), K = ns_sim_nsources(sim), inside = 0;
    const uint8_t *head = ns_sim_head_mask(sim);
    const float *maps = ns_sim_group_maps(sim), *base = ns_sim_baseline(sim);
    for (size_t v = 0; v < V; v++) {
        inside += head[v];
        ck_assert(head[v] ? base[v] > 0 : base[v] == 0);
    }
    ck_assert(inside > V / 3 && inside < V);
    for (size_t c = 0; c < K; c++) {
        double peak = 0;
        for (size_t v = 0; v < V; v++) {
            double m = maps[c * V + v];
            if (!head[v])
                ck_assert(m == 0.0);
            peak = fmax(peak, fabs(m));
        }
        ck_assert_msg(fabs(peak - 1.0) < 1e-6, "source %zu (%s) peak %g", c, ns_sim_source_name(sim, c), peak);
    }
}

START_TEST(test_group_maps_2d_3d)
{
    ns_sim_params p = small_params();
    ns_sim *sim = make_sim(&p);
    check_maps(sim);
    ck_assert_str_eq(ns_sim_source_name(sim, 0), "thalamus");
    ns_sim_free(sim);
    ns_sim_params_set_shape(&p, 26, 31, 23);
    sim = make_sim(&p);
    check_maps(sim);
    ck_assert(ns_sim_get_params(sim)->voxel_mm[0] == 3.0);
    ns_sim_free(sim);
}
END_TEST

/* The noiseless data is exactly baseline (1 + sum tc psc/100 map). */
START_TEST(test_truth_reconstructs_noiseless)
{
    ns_sim_params p = small_params();
    p.noiseless = 1;
    ns_sim *sim = make_sim(&p);
    ns_sim_subject *s;
    ck_assert_int_eq(ns_sim_subject_create(sim, 1, &s), NS_OK);
    float *bold = subject_bold(sim, s);
    size_t maxerr_at = 0;
    double maxerr = 0;
    for (size_t t = 0; t < s->ntime; t++)
        for (size_t v = 0; v < s->nvox; v++) {
            double sum = 0;
            for (size_t c = 0; c < s->nsrc; c++)
                sum += s->tc[t * s->nsrc + c] * s->psc[c] / 100.0 * s->maps[c * s->nvox + v];
            double want = s->baseline[v] * (1.0 + sum);
            double err = fabs(bold[t * s->nvox + v] - want) / fmax(1.0, fabs(want));
            if (err > maxerr)
                maxerr = err, maxerr_at = t * s->nvox + v;
        }
    ck_assert_msg(maxerr < 1e-6, "max relative error %g at %zu", maxerr, maxerr_at);
    /* Signal is there: psc in range and timecourses unit peak-to-peak. */
    for (size_t c = 0; c < s->nsrc; c++) {
        double lo = INFINITY, hi = -INFINITY, mean = 0;
        for (size_t t = 0; t < s->ntime; t++) {
            double x = s->tc[t * s->nsrc + c];
            lo = fmin(lo, x), hi = fmax(hi, x), mean += x;
        }
        ck_assert(fabs(hi - lo - 1.0) < 1e-9 && fabs(mean) < 1e-9);
        ck_assert(s->psc[c] >= 1.0 && s->psc[c] <= 3.0);
    }
    ck_assert_double_eq(s->noise_sd, 0.0);
    ck_assert(s->signal_sd > 0);
    free(bold);
    ns_sim_subject_free(s);
    ns_sim_free(sim);
}
END_TEST

/* Measured noise sd matches signal sd / CNR within 10 %. */
START_TEST(test_noise_vs_cnr)
{
    const double cnrs[3] = {0.65, 1.0, 2.0};
    for (int k = 0; k < 3; k++) {
        ns_sim_params p = small_params();
        p.cnr = cnrs[k];
        ns_sim *sim = make_sim(&p);
        ns_sim_subject *s;
        ck_assert_int_eq(ns_sim_subject_create(sim, 0, &s), NS_OK);
        float *bold = subject_bold(sim, s);
        float *clean = malloc(s->ntime * s->nvox * sizeof(float));
        ns_sim_subject_noiseless(s, clean);
        const uint8_t *head = ns_sim_head_mask(sim);
        double var_sum = 0, d_sum = 0, d_ss = 0;
        size_t nv = 0, nd = 0;
        for (size_t v = 0; v < s->nvox; v++) {
            if (!head[v])
                continue;
            double m = 0, ss = 0;
            for (size_t t = 0; t < s->ntime; t++)
                m += clean[t * s->nvox + v];
            m /= (double)s->ntime;
            for (size_t t = 0; t < s->ntime; t++) {
                double a = clean[t * s->nvox + v] - m, d = bold[t * s->nvox + v] - clean[t * s->nvox + v];
                ss += a * a, d_sum += d, d_ss += d * d, nd++;
            }
            var_sum += ss / (double)(s->ntime - 1), nv++;
        }
        double sig = sqrt(var_sum / (double)nv), dm = d_sum / (double)nd;
        double noise = sqrt(d_ss / (double)nd - dm * dm);
        double cnr = sig / noise;
        fprintf(stderr, "CNR asked %g, measured %.4f (signal sd %.3f, noise sd %.3f)\n", cnrs[k], cnr, sig, noise);
        ck_assert_msg(fabs(cnr - cnrs[k]) < 0.1 * cnrs[k], "measured CNR %g, asked %g", cnr, cnrs[k]);
        ck_assert(fabs(s->noise_sd - noise) < 0.1 * noise);
        free(bold), free(clean);
        ns_sim_subject_free(s);
        ns_sim_free(sim);
    }
}
END_TEST

/* Mean Fisher z over the pairs of an effect, per subject. */
static double effect_z(const ns_sim_effect *e, const ns_sim_subject *s)
{
    double z = 0;
    int n = 0;
    for (int a = 0; a < e->nsrc; a++)
        for (int b = a + 1; b < e->nsrc; b++, n++)
            z += atanh(pearson(s->tc + e->src[a], s->tc + e->src[b], s->ntime, s->nsrc));
    return z / n;
}

static const ns_sim_effect *find_effect(const ns_sim *sim, const char *name)
{
    for (size_t e = 0; e < ns_sim_neffects(sim); e++)
        if (!strcmp(ns_sim_effect_at(sim, e)->name, name))
            return ns_sim_effect_at(sim, e);
    return NULL;
}

/* Groups a value per subject by pred(participant) in {0: a, 1: b, -1: skip}. */
static double group_test(const double *x, const ns_sim *sim, int (*pred)(const ns_sim_participant *), double *t)
{
    double a[64], b[64];
    size_t na = 0, nb = 0, n = (size_t)ns_sim_get_params(sim)->n_subjects;
    for (size_t i = 0; i < n; i++) {
        int g = pred(ns_sim_participant_at(sim, i));
        if (g == 0)
            a[na++] = x[i];
        else if (g == 1)
            b[nb++] = x[i];
    }
    ck_assert(na >= 3 && nb >= 3);
    return welch_p(b, nb, a, na, t);
}

static int is_patient(const ns_sim_participant *p) { return p->diagnosis != NS_SIM_HC; }
static int is_bd(const ns_sim_participant *p) { return p->diagnosis == NS_SIM_BD; }
static int is_ad(const ns_sim_participant *p)
{
    return p->diagnosis == NS_SIM_HC ? -1 : p->medication == NS_SIM_MED_ANTIDEPRESSANT;
}
static int is_responder(const ns_sim_participant *p)
{
    return p->diagnosis == NS_SIM_HC ? -1 : p->responder == NS_SIM_RESP_YES;
}

/* Default 24 subjects: each planted coupling differs between its groups in
 * the true timecourses (t-test p < 0.001, in the planted direction). */
START_TEST(test_planted_coupling)
{
    ns_sim_params p = ns_sim_params_default();
    ck_assert_int_eq(p.n_subjects, 24);
    ns_sim *sim = make_sim(&p);
    const char *names[4] = {"diagnosis", "diagnosis_bd", "medication_class", "responder"};
    int (*preds[4])(const ns_sim_participant *) = {is_patient, is_bd, is_ad, is_responder};
    const ns_sim_effect *eff[4];
    for (int k = 0; k < 4; k++)
        ck_assert_ptr_nonnull(eff[k] = find_effect(sim, names[k]));
    double z[4][24], sub_r = 0, indep_r = 0;
    for (size_t i = 0; i < 24; i++) {
        ns_sim_subject *s;
        ck_assert_int_eq(ns_sim_subject_create(sim, i, &s), NS_OK);
        for (int k = 0; k < 4; k++)
            z[k][i] = effect_z(eff[k], s);
        sub_r += tanh(effect_z(find_effect(sim, "subnet_default_mode"), s)) / 24;
        indep_r += pearson(s->tc + 21, s->tc + 22, s->ntime, s->nsrc) / 24;
        ns_sim_subject_free(s);
    }
    for (int k = 0; k < 4; k++) {
        double t, pv = group_test(z[k], sim, preds[k], &t);
        fprintf(stderr, "planted %s: t = %.2f, p = %.2g\n", names[k], t, pv);
        ck_assert_msg(pv < 0.001 && t > 0, "%s: t = %g, p = %g", names[k], t, pv);
    }
    fprintf(stderr, "sub-network r = %.3f, independent mean r = %.3f\n", sub_r, indep_r);
    ck_assert_msg(fabs(sub_r - p.subnet_shared) < 0.15, "sub-network correlation %g", sub_r);
    ck_assert_msg(fabs(indep_r) < 0.1, "independent sources correlate by %g", indep_r);
    ns_sim_free(sim);
}
END_TEST

/* --dynamic: patients dwell longer, and within a state the pairs correlate
 * with the sign of the state's pattern. */
START_TEST(test_dynamic_states)
{
    ns_sim_params p = ns_sim_params_default();
    p.dynamic = 1;
    ns_sim *sim = make_sim(&p);
    const ns_sim_effect *e = find_effect(sim, "dynamic");
    ck_assert_ptr_nonnull(e);
    double dwell[24];
    /* Pooled per state and pair: sums for a correlation. */
    double acc[NS_SIM_NSTATES][5][5][6];
    memset(acc, 0, sizeof acc);
    for (size_t i = 0; i < 24; i++) {
        ns_sim_subject *s;
        ck_assert_int_eq(ns_sim_subject_create(sim, i, &s), NS_OK);
        ck_assert_ptr_nonnull(s->state);
        int changes = 0;
        for (size_t t = 1; t < s->ntime; t++)
            changes += s->state[t] != s->state[t - 1];
        dwell[i] = (double)s->ntime / (changes + 1);
        /* Skip 6 TRs after a change: the HRF smears state boundaries. */
        for (size_t t = 6; t < s->ntime; t++) {
            int st = s->state[t] - 1, steady = 1;
            for (size_t u = t - 6; u < t; u++)
                steady &= s->state[u] == s->state[t];
            if (!steady)
                continue;
            for (int a = 0; a < e->nsrc; a++)
                for (int b = a + 1; b < e->nsrc; b++) {
                    double x = s->tc[t * s->nsrc + e->src[a]], y = s->tc[t * s->nsrc + e->src[b]];
                    double *q = acc[st][a][b];
                    q[0] += x * y, q[1] += x * x, q[2] += y * y, q[3] += x, q[4] += y, q[5] += 1;
                }
        }
        ns_sim_subject_free(s);
    }
    double t, pv = group_test(dwell, sim, is_patient, &t);
    fprintf(stderr, "dwell time patients vs controls: t = %.2f, p = %.2g\n", t, pv);
    ck_assert_msg(pv < 0.001 && t > 0, "dwell time: t = %g, p = %g", t, pv);
    for (int st = 0; st < NS_SIM_NSTATES; st++)
        for (int a = 0; a < e->nsrc; a++)
            for (int b = a + 1; b < e->nsrc; b++) {
                int sign = e->pattern[st][a] * e->pattern[st][b];
                if (!sign)
                    continue;
                double *q = acc[st][a][b];
                double n = q[5], r = (q[0] - q[3] * q[4] / n) /
                                         sqrt((q[1] - q[3] * q[3] / n) * (q[2] - q[4] * q[4] / n));
                fprintf(stderr, "state %d pair %d-%d: r = %.2f (sign %d)\n", st + 1, a, b, r, sign);
                ck_assert_msg(r * sign > 0.25, "state %d pair %d-%d: r = %g, planted sign %d", st + 1, a, b, r, sign);
            }
    ns_sim_free(sim);
}
END_TEST

/* Same seed, same truth and data; another seed differs; threads do not
 * change anything. */
START_TEST(test_determinism)
{
    ns_sim_params p = small_params();
    p.n_subjects = 6;
    p.motion = 1;
    p.dynamic = 1;
    ns_sim *a = make_sim(&p), *b = make_sim(&p);
    p.seed = 2;
    ns_sim *c = make_sim(&p);
    size_t V = ns_sim_nvox(a), T = (size_t)p.n_timepoints, n = V * T;
    float *serial[6];
    for (size_t i = 0; i < 6; i++) {
        ns_sim_subject *s;
        ck_assert_int_eq(ns_sim_subject_create(a, i, &s), NS_OK);
        serial[i] = subject_bold(a, s);
        ns_sim_subject_free(s);
    }
    int same_as_other_seed = 1, mismatch = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : mismatch) reduction(& : same_as_other_seed)
    for (int i = 5; i >= 0; i--) {
        ns_sim_subject *s, *u;
        ns_sim_subject_create(b, (size_t)i, &s);
        ns_sim_subject_create(c, (size_t)i, &u);
        float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
        ns_sim_subject_bold(b, s, x);
        ns_sim_subject_bold(c, u, y);
        mismatch += memcmp(x, serial[i], n * sizeof(float)) != 0;
        same_as_other_seed &= memcmp(y, serial[i], n * sizeof(float)) == 0;
        free(x), free(y);
        ns_sim_subject_free(s), ns_sim_subject_free(u);
    }
    ck_assert_int_eq(mismatch, 0);
    ck_assert_int_eq(same_as_other_seed, 0);
    ck_assert(!memcmp(ns_sim_group_maps(a), ns_sim_group_maps(b), V * ns_sim_nsources(a) * sizeof(float)));
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(ns_sim_participant_at(a, (size_t)i)->diagnosis, ns_sim_participant_at(b, (size_t)i)->diagnosis);
        free(serial[i]);
    }
    ns_sim_free(a), ns_sim_free(b), ns_sim_free(c);
}
END_TEST

/* Every file of one written dataset, compared byte for byte with another. */
static const char *other_root, *this_root;
static int files_seen, files_differ;

static int compare_file(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)ftw;
    if (flag != FTW_F)
        return 0;
    char other[4096];
    snprintf(other, sizeof other, "%s%s", other_root, path + strlen(this_root));
    char *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    files_seen++;
    if (ns_read_file(path, &x, &nx) || ns_read_file(other, &y, &ny) || nx != ny || memcmp(x, y, nx))
        files_differ++;
    free(x), free(y);
    return 0;
}

START_TEST(test_written_files_identical)
{
    ns_sim_params p = small_params();
    p.motion = 1;
    p.dynamic = 1;
    p.n_sites = 2;
    ns_sim *sim = make_sim(&p);
    char d1[600], d2[600];
    snprintf(d1, sizeof d1, "%s/a", ns_test_tmpdir());
    snprintf(d2, sizeof d2, "%s/b", ns_test_tmpdir());
    ck_assert_msg(ns_sim_write_bids(sim, d1) == NS_OK, "%s", ns_last_error());
    ck_assert_msg(ns_sim_write_bids(sim, d2) == NS_OK, "%s", ns_last_error());
    this_root = d1, other_root = d2, files_seen = files_differ = 0;
    nftw(d1, compare_file, 16, FTW_PHYS);
    /* 3 subjects x (bold, sidecar, confounds, timeseries, states, maps) + 10 dataset files */
    ck_assert_int_eq(files_seen, 3 * 6 + 10);
    ck_assert_int_eq(files_differ, 0);
    ns_sim_free(sim);
}
END_TEST

/* Motion: the first volume is the reference (no displacement), later ones
 * move; FD is n/a at t = 0. */
START_TEST(test_motion)
{
    ns_sim_params p = small_params();
    p.motion = 1;
    p.noiseless = 1;
    ns_sim *sim = make_sim(&p);
    ns_sim_subject *s;
    ck_assert_int_eq(ns_sim_subject_create(sim, 0, &s), NS_OK);
    ck_assert_ptr_nonnull(s->motion);
    float *bold = subject_bold(sim, s), *clean = malloc(s->ntime * s->nvox * sizeof(float));
    ns_sim_subject_noiseless(s, clean);
    ck_assert(!memcmp(bold, clean, s->nvox * sizeof(float)));
    double moved = 0;
    for (size_t t = 1; t < s->ntime; t++) {
        ck_assert(s->motion[t * 6 + 2] == 0 && s->motion[t * 6 + 3] == 0 && s->motion[t * 6 + 4] == 0);
        moved = fmax(moved, fabs(s->motion[t * 6]));
    }
    ck_assert(moved > 0.01 && moved < 5);
    ck_assert(memcmp(bold + (s->ntime - 1) * s->nvox, clean + (s->ntime - 1) * s->nvox, s->nvox * sizeof(float)));
    free(bold), free(clean);
    ns_sim_subject_free(s);
    ns_sim_free(sim);
}
END_TEST

/* Effects are on disjoint sources; fewer sources drop the effects they cut. */
START_TEST(test_effects_layout)
{
    ns_sim_params p = small_params();
    p.dynamic = 1;
    ns_sim *sim = make_sim(&p);
    ck_assert_int_eq(ns_sim_neffects(sim), 8);
    int used[NS_SIM_CATALOGUE_SIZE] = {0};
    for (size_t e = 0; e < ns_sim_neffects(sim); e++) {
        const ns_sim_effect *ef = ns_sim_effect_at(sim, e);
        ck_assert(ef->nsrc >= 2);
        for (int k = 0; k < ef->nsrc; k++)
            ck_assert_int_eq(used[ef->src[k]]++, 0);
    }
    ns_sim_free(sim);
    p.n_sources = 5;
    sim = make_sim(&p);
    ck_assert_int_eq(ns_sim_neffects(sim), 2);
    ck_assert_ptr_nonnull(find_effect(sim, "diagnosis"));
    ck_assert_ptr_nonnull(find_effect(sim, "medication_class"));
    /* Labels: controls have no medication class or responder status. */
    for (int i = 0; i < p.n_subjects; i++) {
        const ns_sim_participant *pt = ns_sim_participant_at(sim, (size_t)i);
        ck_assert_int_eq(pt->diagnosis == NS_SIM_HC, pt->medication == NS_SIM_MED_NONE);
        ck_assert_int_eq(pt->diagnosis == NS_SIM_HC, pt->responder == NS_SIM_RESP_NONE);
    }
    ns_sim_free(sim);
}
END_TEST

static Suite *sim_suite(void)
{
    Suite *s = suite_create("sim");
    TCase *tc = tcase_create("sim");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_params);
    tcase_add_test(tc, test_group_maps_2d_3d);
    tcase_add_test(tc, test_truth_reconstructs_noiseless);
    tcase_add_test(tc, test_noise_vs_cnr);
    tcase_add_test(tc, test_planted_coupling);
    tcase_add_test(tc, test_dynamic_states);
    tcase_add_test(tc, test_determinism);
    tcase_add_test(tc, test_written_files_identical);
    tcase_add_test(tc, test_motion);
    tcase_add_test(tc, test_effects_layout);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return ns_test_run(sim_suite()); }
