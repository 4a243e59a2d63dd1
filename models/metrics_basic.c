/* Classification metrics: confusion matrix, accuracy, balanced accuracy,
 * sensitivity, specificity, F1, ROC AUC (binary and one-vs-rest macro),
 * with sklearn's definitions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/classify_int.h"

static int by_score(const void *a, const void *b, void *ctx)
{
    const double *s = ctx;
    double sa = s[*(const size_t *)a], sb = s[*(const size_t *)b];
    return sa < sb ? -1 : sa > sb;
}

double ns_metrics_auc(const double *score, const int *is_pos, size_t n)
{
    size_t *o = malloc((n ? n : 1) * sizeof *o);
    if (!o)
        return NAN;
    for (size_t i = 0; i < n; i++)
        o[i] = i;
    qsort_r(o, n, sizeof *o, by_score, (void *)score);
    double rank_sum = 0, npos = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && score[o[j]] == score[o[i]])
            j++;
        double mid = (double)(i + j + 1) / 2.0; /* average 1-based rank of the tie run */
        for (size_t t = i; t < j; t++)
            if (is_pos[o[t]]) {
                rank_sum += mid;
                npos++;
            }
        i = j;
    }
    free(o);
    double nneg = (double)n - npos;
    if (npos == 0 || nneg == 0)
        return NAN;
    return (rank_sum - npos * (npos + 1) / 2) / (npos * nneg);
}

/* One-vs-rest AUC of class k, NaN when k is absent or everything. */
static double auc_class(const int *ytrue, const double *score, size_t n, int nclass, int k,
                        double *tmp, int *pos)
{
    for (size_t i = 0; i < n; i++) {
        tmp[i] = score[i * (size_t)nclass + (size_t)k];
        pos[i] = ytrue[i] == k;
    }
    return ns_metrics_auc(tmp, pos, n);
}

static double mean_finite(const double *v, int n)
{
    double s = 0;
    int c = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) {
            s += v[i];
            c++;
        }
    return c ? s / c : NAN;
}

static void per_class(const ns_metrics *m, double *recall, double *spec, double *f1)
{
    int K = m->nclass;
    for (int k = 0; k < K; k++) {
        double tp = (double)m->confusion[k * K + k], row = 0, col = 0;
        for (int j = 0; j < K; j++) {
            row += (double)m->confusion[k * K + j];
            col += (double)m->confusion[j * K + k];
        }
        double fn = row - tp, fp = col - tp, tn = (double)m->n - tp - fn - fp;
        recall[k] = row > 0 ? tp / row : NAN;
        spec[k] = tn + fp > 0 ? tn / (tn + fp) : NAN;
        /* sklearn's macro F1 averages over labels seen in truth or prediction. */
        f1[k] = row + col > 0 ? 2 * tp / (2 * tp + fp + fn) : NAN;
    }
}

ns_status ns_metrics_compute(const int *ytrue, const int *ypred, const double *score, size_t n,
                             int nclass, ns_metrics *m)
{
    memset(m, 0, sizeof *m);
    if (nclass < 2)
        return ns_error(NS_ERR_ARG, "metrics need at least two classes (%d)", nclass);
    size_t K = (size_t)nclass;
    m->nclass = nclass;
    m->n = n;
    m->confusion = ns_calloc(K * K, sizeof *m->confusion);
    double *buf = ns_alloc(3 * K + n + 1, sizeof *buf);
    int *pos = ns_alloc(n + 1, sizeof *pos);
    if (!m->confusion || !buf || !pos) {
        free(buf);
        free(pos);
        ns_metrics_clear(m);
        return NS_ERR_NOMEM;
    }
    size_t correct = 0;
    for (size_t i = 0; i < n; i++) {
        m->confusion[(size_t)ytrue[i] * K + (size_t)ypred[i]]++;
        correct += ytrue[i] == ypred[i];
    }
    double *recall = buf, *spec = buf + K, *f1 = buf + 2 * K, *tmp = buf + 3 * K;
    per_class(m, recall, spec, f1);
    m->accuracy = n ? (double)correct / (double)n : NAN;
    m->balanced_accuracy = mean_finite(recall, nclass);
    if (nclass == 2) {
        m->sensitivity = recall[1];
        m->specificity = recall[0];
        m->f1 = isfinite(f1[1]) ? f1[1] : 0.0;
        m->auc = score ? auc_class(ytrue, score, n, 2, 1, tmp, pos) : NAN;
    } else {
        m->sensitivity = m->balanced_accuracy;
        m->specificity = mean_finite(spec, nclass);
        m->f1 = mean_finite(f1, nclass);
        m->auc = NAN;
        if (score) {
            for (int k = 0; k < nclass; k++)
                recall[k] = auc_class(ytrue, score, n, nclass, k, tmp, pos);
            m->auc = mean_finite(recall, nclass);
        }
    }
    free(buf);
    free(pos);
    return NS_OK;
}

void ns_metrics_clear(ns_metrics *m)
{
    if (!m)
        return;
    free(m->confusion);
    m->confusion = NULL;
}
